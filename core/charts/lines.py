"""Geometry of a run's server-rendered SVG line charts (pure: numbers in, shapes out).

The page draws what this returns; nothing is computed in the browser, so a chart is the same after a
reload and needs no JavaScript.
"""
import math
from dataclasses import dataclass, field

WIDTH, HEIGHT = 560, 200
LEFT, RIGHT, TOP, BOTTOM = 56, 14, 12, 26  # room for the axis labels
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


def _range(values):
    low, high = min(values), max(values)
    if high == low:
        pad = abs(high) * 0.1 or 1.0
        return low - pad, high + pad
    pad = (high - low) * 0.06
    return low - pad, high + pad


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
    """Pixel positions for the data range of every point given (x, y pairs; None ys are gaps)."""

    def __init__(self, points, extra_ys, width, height):
        x_low, x_high = min(x for x, _ in points), max(x for x, _ in points)
        if x_high == x_low:
            x_low, x_high = x_low - 1, x_high + 1
        self.x_low, self.x_high = x_low, x_high
        self.y_low, self.y_high = _range([y for _, y in points if _finite(y)] + list(extra_ys))
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

    def y_ticks(self, count, y_format):
        span = self.y_high - self.y_low
        return [Tick(self.py(self.y_low + span * i / (count - 1)), y_format.format(self.y_low + span * i / (count - 1)))
                for i in range(count)]

    def x_ticks(self, first, last, x_format):
        ticks = [Tick(self.px(first), x_format.format(first))]
        if last != first:
            ticks.append(Tick(self.px(last), x_format.format(last)))
        return ticks


def line_chart(xs, ys, *, markers=(), y_format="{:.3g}", x_format="{:g}", width=WIDTH, height=HEIGHT, y_ticks=4):
    """A line through (x, y) points, None ys leaving a gap; `markers` are (x, y, label) dots on top."""
    points = [(x, y) for x, y in zip(xs, ys) if x is not None]
    finite = [(x, y) for x, y in points if _finite(y)]
    if not finite:
        return LineChart(width, height, "", plot_right=width - RIGHT, plot_bottom=height - BOTTOM)
    marked = [(x, y, label) for x, y, label in markers if _finite(y)]
    axes = _Axes(points, [y for _, y, _ in marked], width, height)
    return LineChart(
        width, height, axes.path(points),
        markers=[Marker(axes.px(x), axes.py(y), label) for x, y, label in marked],
        y_ticks=axes.y_ticks(y_ticks, y_format), x_ticks=axes.x_ticks(points[0][0], points[-1][0], x_format),
        plot_right=axes.right, plot_bottom=axes.bottom, last_label=y_format.format(finite[-1][1]),
    )


def multi_line_chart(series, *, y_format="{:.3g}", x_format="{:g}", width=WIDTH, height=HEIGHT, y_ticks=4):
    """Several lines on the same axes: `series` is [(label, xs, ys)], each drawn like line_chart's one; the axes
    span all of them. A series with nothing finite keeps its place (and colour) with an empty path."""
    lines = [(label, [(x, y) for x, y in zip(xs, ys) if x is not None]) for label, xs, ys in series]
    every = [point for _, points in lines for point in points]
    if not any(_finite(y) for _, y in every):
        return MultiLineChart(width, height, [Series(label, "", i) for i, (label, _) in enumerate(lines)],
                              plot_right=width - RIGHT, plot_bottom=height - BOTTOM)
    axes = _Axes(every, [], width, height)
    drawn = []
    for index, (label, points) in enumerate(lines):
        finite = [y for _, y in points if _finite(y)]
        drawn.append(Series(label, axes.path(points), index, y_format.format(finite[-1]) if finite else ""))
    xs = [x for x, _ in every]
    return MultiLineChart(
        width, height, drawn, y_ticks=axes.y_ticks(y_ticks, y_format), x_ticks=axes.x_ticks(min(xs), max(xs), x_format),
        plot_right=axes.right, plot_bottom=axes.bottom,
    )
