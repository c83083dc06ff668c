"""Axis ticks people can read: "nice numbers" (1, 2 or 5 × 10^k apart) and labels with just enough decimals
to tell them apart (Heckbert, "Nice numbers for graph labels", Graphics Gems, 1990).

    nice_ticks(6.2318, 6.2325) -> Ticks(values=[6.2318, 6.232, 6.2322, 6.2324, 6.2326], …)
    labels -> ["6.2318", "6.2320", "6.2322", "6.2324", "6.2326"], never "6.232" three times.
"""
import math
from dataclasses import dataclass

STEPS = (1, 2, 5, 10)


@dataclass(frozen=True)
class Ticks:
    values: list  # ascending, evenly `step` apart, the first <= low and the last >= high
    step: float
    labels: list  # one per value, all different

    @property
    def low(self):
        return self.values[0]

    @property
    def high(self):
        return self.values[-1]


def nice_step(raw):
    """The smallest 1, 2 or 5 × 10^k that is at least ``raw`` (> 0)."""
    exponent = math.floor(math.log10(raw))
    for multiple in STEPS:
        step = multiple * 10.0 ** exponent
        if step >= raw * (1 - 1e-9):
            return step
    return 10.0 ** (exponent + 1)  # pragma: no cover (10 is in STEPS)


def nice_step_below(raw):
    """The largest 1, 2 or 5 × 10^k that is at most ``raw`` (> 0): more ticks, never fewer than asked."""
    exponent = math.floor(math.log10(raw))
    for multiple in reversed(STEPS):
        step = multiple * 10.0 ** exponent
        if step <= raw * (1 + 1e-9):
            return step
    return 10.0 ** exponent  # pragma: no cover (1 is in STEPS)


def _flat_span(value):
    """A range around a flat series: a step of about a tenth of its size (1 for 0), so it gets distinct ticks."""
    magnitude = abs(value)
    return 10.0 ** math.floor(math.log10(magnitude)) if magnitude else 1.0


def nice_ticks(low, high, count=5):
    """About ``count`` round ticks covering [low, high] (a flat range is widened around its value)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError(f"ticks need finite bounds, not {low!r}..{high!r}")
    low, high = min(low, high), max(low, high)
    if high == low:
        pad = _flat_span(low) / 2
        low, high = low - pad, high + pad
    raw = (high - low) / max(1, count - 1)
    step = nice_step_below(raw)
    if _span_count(low, high, step) > count + 2:  # too many at the smaller step: the larger one
        step = nice_step(raw)
    first, last = math.floor(low / step + 1e-9), math.ceil(high / step - 1e-9)
    values = [_clean(i * step, step) for i in range(first, last + 1)]
    return Ticks(values, step, format_ticks(values, step))


def _span_count(low, high, step):
    return math.ceil(high / step - 1e-9) - math.floor(low / step + 1e-9) + 1


def inner_ticks(low, high, count=5, integer=False):
    """Round ticks inside [low, high] (for an axis whose ends are the data's own, like steps); integers only
    when ``integer``."""
    if high <= low:
        return Ticks([low], 1.0, format_ticks([low], 1.0))
    step = nice_step_below((high - low) / max(1, count - 1))
    if integer:
        step = max(1.0, step)
    first, last = math.ceil(low / step - 1e-9), math.floor(high / step + 1e-9)
    values = [_clean(i * step, step) for i in range(first, last + 1)]
    return Ticks(values, step, format_ticks(values, step))


def _decimals(step):
    return max(0, -math.floor(math.log10(step) + 1e-9))


def _clean(value, step):
    """Round away float noise (0.30000000000000004) to the step's precision."""
    value = round(value, _decimals(step) + 1)
    return 0.0 if value == 0 else value


def format_ticks(values, step):
    """Labels that differ from tick to tick: fixed decimals as the step needs them; in scientific notation
    for very small or very large numbers ("5e-5", "1.5e9")."""
    biggest = max((abs(v) for v in values), default=0.0)
    decimals = _decimals(step)
    if (biggest == 0 or 1e-2 <= biggest < 1e6) and decimals <= 6:
        return [f"{v:,.{decimals}f}" for v in values]
    top = math.floor(math.log10(biggest)) if biggest else 0
    mantissa = max(0, top - math.floor(math.log10(step) + 1e-9))
    return ["0" if v == 0 else _short_exponent(f"{v:.{mantissa}e}") for v in values]


def _short_exponent(text):
    """"5.0e-05" -> "5.0e-5", "1.5e+09" -> "1.5e9"."""
    mantissa, exponent = text.split("e")
    return f"{mantissa}e{int(exponent)}"


def value_text(value, step):
    """One value (the last point, a marker) with a tick's precision and one more digit."""
    return format_ticks([value], step / 10)[0]
