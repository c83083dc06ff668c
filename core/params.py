"""Query parameters read with their type checked: a wrong one is a 400 naming it, never a 500 from the database.

`is_id` is the one test of "this text is a row id": ASCII digits only (`"²".isdigit()` is true, yet `int("²")`
fails) and no larger than a database integer (a larger one makes the drivers refuse to send the query)."""
from django.core.exceptions import BadRequest

MAX_ID = 2**63 - 1


class BadParameter(BadRequest):
    """Answered 400 with its message by core.middleware.RefuseNulInQuery (text on pages, JSON under /api/)."""

    def __init__(self, name, message):
        super().__init__(f"{name}: {message}")
        self.name = name


def is_id(text) -> bool:
    text = str(text if text is not None else "").strip()
    return text.isascii() and text.isdigit() and int(text) <= MAX_ID


def id_param(query, name, default=None):
    """The id in `query[name]`, `default` when absent or blank; BadParameter when it is not an id."""
    value = str(query.get(name, "") or "").strip()
    if not value:
        return default
    if not is_id(value):
        raise BadParameter(name, f"expected the id of a row (a whole number), not {value[:40]!r}.")
    return int(value)


def int_param(query, name, default, *, minimum=None, maximum=None):
    """A whole number in `query[name]` within [minimum, maximum]; `default` when absent or blank."""
    value = str(query.get(name, "") or "").strip()
    if not value:
        return default
    text = value[1:] if value.startswith("-") else value
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        raise BadParameter(name, f"expected a whole number, not {value[:40]!r}.")
    number = int(value)
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        bounds = f"from {minimum}" if maximum is None else (f"up to {maximum}" if minimum is None else f"{minimum} to {maximum}")
        raise BadParameter(name, f"expected a whole number {bounds}, not {number}.")
    return number
