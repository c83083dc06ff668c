"""Geometry for the dashboard's server-rendered SVG charts (pure: numbers in, shapes out)."""
from dataclasses import dataclass

WIDTH, HEIGHT = 260, 110
PAD_BOTTOM = 16


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    count: int
    label: str
    tick: str  # the bin's lower edge, short: "16", "1k", "2k+"

    @property
    def cx(self):
        return round(self.x + self.width / 2, 1)

    @property
    def label_y(self):
        return round(self.y - 3, 1)


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    bars: list
    baseline: float
    marker_x: float | None  # where a reference value (LIMA's average) falls, if given
    first_label: str
    last_label: str

    @property
    def tick_y(self):
        return self.height - 3


def _tick(b):
    text = f"{b.low // 1024}k" if b.low >= 1024 else str(b.low)
    return text + "+" if b.high is None else text


def bar_chart(bins, marker=None, width=WIDTH, height=HEIGHT):
    """Bars for histogram bins (curation.workspace.figures.Bin); `marker` is a value drawn as a dashed line."""
    n = len(bins)
    slot = width / n
    plot_height = height - PAD_BOTTOM
    peak = max((b.count for b in bins), default=0) or 1
    bars = []
    for i, b in enumerate(bins):
        bar_height = plot_height * b.count / peak
        bars.append(Bar(round(i * slot + 2, 1), round(plot_height - bar_height, 1), round(slot - 4, 1),
                        round(bar_height, 1), b.count, b.label, _tick(b)))
    marker_x = None
    if marker is not None:
        for i, b in enumerate(bins):
            if b.high is None or marker < b.high:
                span = (b.high - b.low) if b.high is not None else b.low or 1
                marker_x = round((i + min(1.0, (marker - b.low) / span)) * slot, 1)
                break
    return BarChart(width, height, bars, plot_height, marker_x, bins[0].label if bins else "",
                    bins[-1].label if bins else "")


def heat_level(count, peak, levels=5):
    """0 for nothing, then 1..levels-1 by share of the busiest day."""
    if count <= 0 or peak <= 0:
        return 0
    return max(1, min(levels - 1, round((levels - 1) * count / peak)))
