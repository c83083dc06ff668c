"""Geometry of a version page's server-rendered SVG charts (pure: counts in, shapes out)."""
from dataclasses import dataclass

ROW_HEIGHT = 22
LABEL_WIDTH = 130
BAR_WIDTH = 220
COUNT_WIDTH = 50


@dataclass(frozen=True)
class HBar:
    y: float
    width: float
    label: str
    count: int
    share: float  # of the total, 0..1


@dataclass(frozen=True)
class HBarChart:
    width: int
    height: int
    label_width: int
    bar_x: int
    count_x: int
    bars: list
    hidden: int  # categories folded into "other"


def hbar_chart(counts, limit=12):
    """Horizontal bars, largest first, for {label: count}; beyond `limit` categories the rest become "other"."""
    items = sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))
    hidden = 0
    if len(items) > limit:
        rest = items[limit - 1:]
        hidden = len(rest)
        items = items[:limit - 1] + [(f"{hidden} others", sum(count for _, count in rest))]
    total = sum(count for _, count in items) or 1
    peak = max((count for _, count in items), default=0) or 1
    bars = [
        HBar(y=i * ROW_HEIGHT, width=round(BAR_WIDTH * count / peak, 1), label=str(label), count=count,
             share=count / total)
        for i, (label, count) in enumerate(items)
    ]
    return HBarChart(
        width=LABEL_WIDTH + BAR_WIDTH + COUNT_WIDTH, height=max(1, len(bars)) * ROW_HEIGHT,
        label_width=LABEL_WIDTH, bar_x=LABEL_WIDTH + 8, count_x=LABEL_WIDTH + BAR_WIDTH + 14, bars=bars, hidden=hidden,
    )


@dataclass(frozen=True)
class Column:
    x: float
    y: float
    width: float
    height: float
    label: str
    count: int

    @property
    def count_y(self):
        return round(self.y - 4, 1)


@dataclass(frozen=True)
class Histogram:
    width: int
    height: int
    baseline: float
    columns: list

    @property
    def label_y(self):
        return self.height - 14


def histogram(buckets, width=460, height=160, label_space=30, headroom=14):
    """Columns for [{"up_to_tokens": bound, "examples": n}, ...] (the manifest's length histogram)."""
    buckets = _with_empty_buckets(buckets)
    plot = height - label_space
    usable = plot - headroom  # room above the tallest column for its count
    peak = max((b["examples"] for b in buckets), default=0) or 1
    slot = width / max(1, len(buckets))
    columns = [
        Column(
            x=round(i * slot + 3, 1), y=round(plot - usable * b["examples"] / peak, 1), width=round(slot - 6, 1),
            height=round(usable * b["examples"] / peak, 1), label=f"≤{b['up_to_tokens']:,}", count=b["examples"],
        )
        for i, b in enumerate(buckets)
    ]
    return Histogram(width=width, height=height, baseline=plot, columns=columns)


def _with_empty_buckets(buckets):
    """Power-of-two buckets from the smallest to the largest present, empty ones included, so widths stay honest."""
    counts = {b["up_to_tokens"]: b["examples"] for b in buckets}
    if not counts:
        return []
    bound, last, filled = min(counts), max(counts), []
    while bound <= last:
        filled.append({"up_to_tokens": bound, "examples": counts.get(bound, 0)})
        bound *= 2
    return filled
