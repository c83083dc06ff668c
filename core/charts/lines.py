"""Geometry of a run's server-rendered SVG line charts (pure: numbers in, shapes out).

The page draws what this returns; nothing is computed in the browser, so a chart is the same after a
reload and needs no JavaScript.
"""
import math
from dataclasses import dataclass, field

from core.charts.ticks import inner_ticks, nice_ticks

WIDTH, HEIGHT = 560, 200
LEFT, RIGHT, TOP, BOTTOM = 56, 14, 12, 26  # room for the axis labels
X_TICKS = 6  # about as many step labels as fit the width without touching
MAX_POINTS = 600  # more steps than pixels is wasted markup: thin the series evenly (the last point stays)


@dataclass(frozen=True)
class Tick:
    at: float  # pixel position along the axis
    label: str


@dataclass(frozen=True)
class Marker:
    x: float
    y: float
    label: str


@dataclass(frozen=True)
class LineChart:
    width: int
    height: int
    path: str  # SVG path data: "M x,y L x,y …", a new M after a gap (a diverged step)
    markers: list = field(default_factory=list)
    y_ticks: list = field(default_factory=list)
    x_ticks: list = field(default_factory=list)
    plot_left: int = LEFT
    plot_right: int = WIDTH - RIGHT
    plot_top: int = TOP
    plot_bottom: int = HEIGHT - BOTTOM
    last_label: str = ""

    @property
    def empty(self):
        return not self.path


def thin(points, limit=MAX_POINTS):
    if len(points) <= limit:
        return points
    stride = math.ceil(len(points) / limit)
    kept = points[::stride]
    return kept if kept[-1] is points[-1] else kept + [points[-1]]


@dataclass(frozen=True)
class Series:
    """One line of a chart with several: its label (the legend) and its path."""

    label: str
    path: str
    index: int  # its place among the chart's series: the page's colour for it
    last_label: str = ""  # its last finite value, formatted


@dataclass(frozen=True)
class MultiLineChart:
    width: int
    height: int
    series: list = field(default_factory=list)
    y_ticks: list = field(default_factory=list)
    x_ticks: list = field(default_factory=list)
    plot_left: int = LEFT
    plot_right: int = WIDTH - RIGHT
    plot_top: int = TOP
    plot_bottom: int = HEIGHT - BOTTOM

    @property
    def empty(self):
        return not any(line.path for line in self.series)


def _finite(y):
    return y is not None and math.isfinite(y)


class _Axes:
    """Pixel positions for the data range of every point given (x, y pairs; None ys are gaps). The y axis runs
    from the nice tick below the lowest value to the one above the highest (core.charts.ticks); x from the first
    step to the last."""

    def __init__(self, points, extra_ys, width, height, y_count):
        x_low, x_high = min(x for x, _ in points), max(x for x, _ in points)
        if x_high == x_low:
            x_low, x_high = x_low - 1, x_high + 1
        self.x_low, self.x_high = x_low, x_high
        ys = [y for _, y in points if _finite(y)] + list(extra_ys)
        self.ticks = nice_ticks(min(ys), max(ys), y_count)
        self.y_low, self.y_high = self.ticks.low, self.ticks.high
        self.right, self.bottom = width - RIGHT, height - BOTTOM

    def px(self, x):
        return round(LEFT + (x - self.x_low) / (self.x_high - self.x_low) * (self.right - LEFT), 1)

    def py(self, y):
        return round(self.bottom - (y - self.y_low) / (self.y_high - self.y_low) * (self.bottom - TOP), 1)

    def path(self, points):
        """SVG path data through `points`, a new M after each gap."""
        parts, pen_down = [], False
        for x, y in thin(points):
            if not _finite(y):
                pen_down = False
                continue
            parts.append(f"{'L' if pen_down else 'M'}{self.px(x)},{self.py(y)}")
            pen_down = True
        return " ".join(parts)

    def y_ticks(self):
        return [Tick(self.py(value), text) for value, text in zip(self.ticks.values, self.ticks.labels)]

    def x_ticks(self, first, last):
        """Round steps between the first and the last (whole numbers: x is a step)."""
        ticks = inner_ticks(first, last, X_TICKS, integer=True)
        return [Tick(self.px(value), text) for value, text in zip(ticks.values, ticks.labels)]


def line_chart(xs, ys, *, markers=(), y_format="{:.3g}", width=WIDTH, height=HEIGHT, y_ticks=5):
    """A line through (x, y) points, None ys leaving a gap; `markers` are (x, y, label) dots on top."""
    points = [(x, y) for x, y in zip(xs, ys) if x is not None]
    finite = [(x, y) for x, y in points if _finite(y)]
    if not finite:
        return LineChart(width, height, "", plot_right=width - RIGHT, plot_bottom=height - BOTTOM)
    marked = [(x, y, label) for x, y, label in markers if _finite(y)]
    axes = _Axes(points, [y for _, y, _ in marked], width, height, y_ticks)
    return LineChart(
        width, height, axes.path(points),
        markers=[Marker(axes.px(x), axes.py(y), label) for x, y, label in marked],
        y_ticks=axes.y_ticks(), x_ticks=axes.x_ticks(points[0][0], points[-1][0]),
        plot_right=axes.right, plot_bottom=axes.bottom, last_label=y_format.format(finite[-1][1]),
    )


def multi_line_chart(series, *, y_format="{:.3g}", width=WIDTH, height=HEIGHT, y_ticks=5):
    """Several lines on the same axes: `series` is [(label, xs, ys)], each drawn like line_chart's one; the axes
    span all of them. A series with nothing finite keeps its place (and colour) with an empty path."""
    lines = [(label, [(x, y) for x, y in zip(xs, ys) if x is not None]) for label, xs, ys in series]
    every = [point for _, points in lines for point in points]
    if not any(_finite(y) for _, y in every):
        return MultiLineChart(width, height, [Series(label, "", i) for i, (label, _) in enumerate(lines)],
                              plot_right=width - RIGHT, plot_bottom=height - BOTTOM)
    axes = _Axes(every, [], width, height, y_ticks)
    drawn = []
    for index, (label, points) in enumerate(lines):
        finite = [y for _, y in points if _finite(y)]
        drawn.append(Series(label, axes.path(points), index, y_format.format(finite[-1]) if finite else ""))
    xs = [x for x, _ in every]
    return MultiLineChart(
        width, height, drawn, y_ticks=axes.y_ticks(), x_ticks=axes.x_ticks(min(xs), max(xs)),
        plot_right=axes.right, plot_bottom=axes.bottom,
    )
