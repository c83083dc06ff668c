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


def line_chart(xs, ys, *, markers=(), y_format="{:.3g}", x_format="{:g}", width=WIDTH, height=HEIGHT, y_ticks=4):
    """A line through (x, y) points, None ys leaving a gap; `markers` are (x, y, label) dots on top."""
    points = [(x, y) for x, y in zip(xs, ys) if x is not None]
    finite = [(x, y) for x, y in points if y is not None and math.isfinite(y)]
    if not finite:
        return LineChart(width, height, "", plot_right=width - RIGHT, plot_bottom=height - BOTTOM)
    marked = [(x, y, label) for x, y, label in markers if y is not None and math.isfinite(y)]
    x_low, x_high = min(x for x, _ in points), max(x for x, _ in points)
    if x_high == x_low:
        x_low, x_high = x_low - 1, x_high + 1
    y_low, y_high = _range([y for _, y in finite] + [y for _, y, _ in marked])
    right, bottom = width - RIGHT, height - BOTTOM

    def px(x):
        return round(LEFT + (x - x_low) / (x_high - x_low) * (right - LEFT), 1)

    def py(y):
        return round(bottom - (y - y_low) / (y_high - y_low) * (bottom - TOP), 1)

    parts, pen_down = [], False
    for x, y in thin(points):
        if y is None or not math.isfinite(y):
            pen_down = False
            continue
        parts.append(f"{'L' if pen_down else 'M'}{px(x)},{py(y)}")
        pen_down = True
    ticks_y = [Tick(py(y_low + (y_high - y_low) * i / (y_ticks - 1)), y_format.format(y_low + (y_high - y_low) * i / (y_ticks - 1)))
               for i in range(y_ticks)]
    first, last = points[0][0], points[-1][0]
    ticks_x = [Tick(px(first), x_format.format(first))]
    if last != first:
        ticks_x.append(Tick(px(last), x_format.format(last)))
    return LineChart(
        width, height, " ".join(parts),
        markers=[Marker(px(x), py(y), label) for x, y, label in marked],
        y_ticks=ticks_y, x_ticks=ticks_x, plot_right=right, plot_bottom=bottom,
        last_label=y_format.format(finite[-1][1]),
    )
