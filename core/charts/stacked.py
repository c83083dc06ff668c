"""Geometry of the results page's horizontal stacked bars, like LIMA's Figure 1 (pure: numbers in, shapes out).

Each row is one comparison (a model against another, or one model's ratings): segments side by side
summing to 100 %, and the 95 % interval of the first and last segment drawn as whiskers at the
boundaries they move (the first from the left edge, the last from the right edge).
"""
from dataclasses import dataclass

WIDTH = 640
LABEL_WIDTH = 190
ROW_HEIGHT = 46
BAR_HEIGHT = 22
TOP = 8
LEGEND_HEIGHT = 26
MIN_TEXT_WIDTH = 30  # a segment narrower than this shows its percentage on hover only


@dataclass(frozen=True)
class Segment:
    name: str  # "win", "tie", "loss", "Fail", …
    css: str
    x: float
    width: float
    percent: float
    low: float
    high: float
    text_x: float
    show_text: bool


@dataclass(frozen=True)
class Whisker:
    x1: float
    x2: float
    y: float
    cap_top: float
    cap_bottom: float
    css: str  # coloured like the segment it belongs to


@dataclass(frozen=True)
class Row:
    label: str
    sublabel: str
    y: float
    text_y: float  # the percentages inside the bar
    label_y: float
    sublabel_y: float
    segments: list
    whiskers: list


@dataclass(frozen=True)
class StackedBars:
    width: int
    height: int
    plot_x: int
    plot_width: int
    label_x: int
    bar_height: int
    rows: list
    grid_bottom: float
    tick_y: float
    ticks: list  # (x, label)
    legend: list  # (text, css, x, text_x)
    legend_box_y: float
    legend_text_y: float


def _x(plot_x, plot_width, percent):
    return round(plot_x + plot_width * max(0.0, min(100.0, percent)) / 100.0, 1)


def stacked_bars(rows, categories, width=WIDTH, label_width=LABEL_WIDTH):
    """rows: [(label, sublabel, {category: {"percent", "low", "high"}})]; categories: [(name, css, legend)]."""
    plot_x, plot_width = label_width, width - label_width - 24  # room for the last tick's label
    shapes = []
    for i, (label, sublabel, shares) in enumerate(rows):
        y = TOP + i * ROW_HEIGHT
        segments, start = [], 0.0
        for name, css, _legend in categories:
            share = shares.get(name) or {"percent": 0.0, "low": 0.0, "high": 0.0}
            x0, x1 = _x(plot_x, plot_width, start), _x(plot_x, plot_width, start + share["percent"])
            segments.append(Segment(name, css, x0, round(x1 - x0, 1), share["percent"], share["low"], share["high"],
                                    round((x0 + x1) / 2, 1), x1 - x0 >= MIN_TEXT_WIDTH))
            start += share["percent"]
        whiskers = []
        if segments:
            first, last = segments[0], segments[-1]
            # Below the bar, so the percentages stay readable; one line each, so wide intervals do not overlap.
            for offset, css, (low, high) in ((4, first.css, (first.low, first.high)),
                                             (10, last.css, (100 - last.high, 100 - last.low))):
                under = y + BAR_HEIGHT + offset
                whiskers.append(Whisker(_x(plot_x, plot_width, low), _x(plot_x, plot_width, high), under,
                                        under - 2, under + 2, css))
        shapes.append(Row(label, sublabel, y, y + BAR_HEIGHT / 2 + 4, y + BAR_HEIGHT / 2 - 2, y + BAR_HEIGHT / 2 + 12,
                          segments, whiskers))
    grid_bottom = TOP + len(rows) * ROW_HEIGHT
    legend, x = [], plot_x
    for _name, css, text in categories:
        legend.append((text, css, x, x + 16))
        x += 16 + 7 * len(text) + 20
    ticks = [(_x(plot_x, plot_width, p), f"{p}%") for p in (0, 25, 50, 75, 100)]
    tick_y = grid_bottom + 12
    return StackedBars(
        width=width, height=int(tick_y + LEGEND_HEIGHT + 8), plot_x=plot_x, plot_width=plot_width,
        label_x=plot_x - 10, bar_height=BAR_HEIGHT, rows=shapes, grid_bottom=grid_bottom, tick_y=tick_y,
        ticks=ticks, legend=legend, legend_box_y=tick_y + 12, legend_text_y=tick_y + 22,
    )
