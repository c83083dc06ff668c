"""The geometry of a run's SVG charts: points inside the plot, gaps where the loss was not finite, epoch
means as dots at the step that ended each epoch, long series thinned."""
from core.charts.lines import LEFT, MAX_POINTS, TOP, line_chart
from training.charts import loss_chart


def _points(path):
    return [tuple(float(v) for v in part[1:].split(",")) for part in path.split()]


def test_the_line_spans_the_plot_with_the_lowest_value_at_the_bottom():
    chart = line_chart([1, 2, 3], [3.0, 2.0, 1.0])
    points = _points(chart.path)
    assert points[0][0] == LEFT and points[-1][0] == chart.plot_right
    assert points[0][1] < points[1][1] < points[2][1] <= chart.plot_bottom  # falling loss goes down the page
    assert all(TOP <= y <= chart.plot_bottom for _, y in points)
    assert [tick.label for tick in chart.x_ticks] == ["1", "2", "3"]


def test_a_step_without_a_finite_loss_breaks_the_line():
    chart = line_chart([1, 2, 3, 4], [2.0, None, 1.5, 1.0])
    assert [part[0] for part in chart.path.split()] == ["M", "M", "L"]


def test_epoch_means_sit_on_the_step_that_ended_each_epoch():
    metrics = {"step": [1, 2, 3, 4], "epoch": [1, 1, 2, 2], "loss": [4.0, 3.0, 2.5, 2.0], "epoch_loss": [3.5, 2.25]}
    chart = loss_chart(metrics)
    xs = [x for x, _ in _points(chart.path)]
    assert [marker.x for marker in chart.markers] == [xs[1], xs[3]]
    assert chart.markers[1].label == "epoch 2: mean loss 2.2500"


def test_a_long_series_is_thinned_but_keeps_its_last_point():
    steps = list(range(1, 5001))
    chart = line_chart(steps, [1 / s for s in steps])
    points = _points(chart.path)
    assert len(points) <= MAX_POINTS + 1 and points[-1][0] == chart.plot_right


def test_nothing_to_draw_gives_an_empty_chart():
    assert line_chart([], []).empty and line_chart([1], [None]).empty


def test_several_lines_share_the_axes_of_all_their_points():
    from core.charts.lines import multi_line_chart

    chart = multi_line_chart([("a", [1, 2, 3], [4.0, 3.0, 2.0]), ("b", [1, 2, 3, 4, 5, 6], [6.0, 5.0, None, 3.0, 2.0, 1.0]),
                              ("c", [], [])])
    a, b, c = (_points(line.path) if line.path else [] for line in chart.series)
    assert [line.label for line in chart.series] == ["a", "b", "c"] and [line.index for line in chart.series] == [0, 1, 2]
    assert a[0][0] == b[0][0] == LEFT and b[-1][0] == chart.plot_right and a[-1][0] < chart.plot_right  # x: 1 to 6
    assert b[0][1] < a[0][1]  # 6.0 above 4.0 on the same scale
    assert min(y for _, y in b) >= TOP and max(y for _, y in b) <= chart.plot_bottom  # 1.0 to 6.0 all inside
    assert [part[0] for part in chart.series[1].path.split()] == ["M", "L", "M", "L", "L"]  # the gap at step 3
    assert c == [] and chart.series[2].last_label == "" and chart.series[0].last_label == "2"
    assert [tick.label for tick in chart.x_ticks] == ["1", "2", "3", "4", "5", "6"]


def test_several_lines_with_nothing_finite_make_an_empty_chart():
    from core.charts.lines import multi_line_chart

    assert multi_line_chart([("a", [1], [None])]).empty and multi_line_chart([]).empty


def test_a_loss_that_barely_moves_gets_distinct_round_ticks():
    chart = line_chart([1, 2, 3, 4], [6.2321, 6.2322, 6.2320, 6.2323])
    labels = [tick.label for tick in chart.y_ticks]
    assert len(set(labels)) == len(labels) >= 3
    positions = [tick.at for tick in chart.y_ticks]
    assert positions == sorted(positions, reverse=True) and positions[0] == chart.plot_bottom  # lowest at the bottom


def test_step_ticks_are_round_numbers_inside_the_run():
    chart = line_chart(list(range(1, 131)), [1.0] * 130)
    assert [tick.label for tick in chart.x_ticks] == ["20", "40", "60", "80", "100", "120"]
    assert len({tick.label for tick in chart.y_ticks}) == len(chart.y_ticks) >= 3  # a flat loss still has an axis
