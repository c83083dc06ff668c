"""Durations as people read them: the one formatter of every page and of the API's `*_text` fields."""
from datetime import timedelta


def seconds_text(seconds):
    """"1 h 04 min", "3 min 12 s", "48 s"; under ten seconds with a tenth ("2.4 s"), so a quick job is not "0 s"."""
    seconds = max(0.0, float(seconds))
    if seconds < 9.95:
        return f"{seconds:.1f} s" if seconds >= 0.05 else "0 s"
    seconds = int(round(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"


def duration_text(value):
    """A timedelta, or a number of seconds, as seconds_text; "" for None or anything that is not a duration."""
    if isinstance(value, timedelta):
        return seconds_text(value.total_seconds())
    if isinstance(value, bool) or value is None or value == "":
        return ""
    try:
        return seconds_text(float(value))
    except (TypeError, ValueError):
        return ""
