"""Columns, filters and bulk actions that other parts of the studio add to the examples table, from their own
modules, with no edit here or in the table:

    # curation/dedupe/table_columns.py — found and imported the first time the table is used
    from curation.workspace.registry import register_column, register_filter

    register_column(
        "duplicates", "Duplicates",
        annotate=lambda examples: examples.annotate(duplicates=Count("near_duplicates")),  # adds `duplicates`
        render=lambda example: str(example.duplicates or ""),
        sortable=True, numeric=True, help="Near-duplicates of this example (MinHash LSH)",
    )
    register_filter(
        "duplicates", "Duplicates", choices=[("yes", "Has near-duplicates"), ("no", "None")],
        apply=lambda examples, value: examples.filter(near_duplicates__isnull=(value == "no")).distinct(),
    )

A column's `annotate(queryset) -> queryset` must add an annotation named after its key (one value an
example); the table shows it through `render(example) -> str` (escaped unless it is a SafeString, e.g. from
format_html), sorts by it when `sortable` (NULLs last, keyset pagination on (value, id)), and the value is also
the API's. A filter's `apply(queryset, value) -> queryset` receives what the person chose (one of `choices`, or
any text when `choices` is None); the page, the API (`?<key>=`) and "all matching" bulk actions all go through it.
An action (`register_action`, curation.workspace.bulk.BulkAction) joins the table's action bar and the API.

Modules named `table_columns.py` in any package of the curation app are imported at first use (as Django's admin
finds admin.py); the table's own style-check column is declared that way (curation/workspace/table_columns.py).
"""
from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.utils.html import conditional_escape

# Query parameters the table uses itself: a column or filter may not take one of these keys.
RESERVED = frozenset({
    "q", "within", "source", "domain", "status", "split", "tag", "import_run", "flag", "reviewed", "sort", "cursor",
    "size", "id", "pk", "search", "page_size", "version", "summary", "style_check", "semantic", "similarity",
})


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    annotate: Callable  # (queryset) -> queryset with an annotation named `key`
    render: Callable | None = None  # (example) -> str for the cell; default: the value, "–" when None
    sortable: bool = False
    numeric: bool = False  # right-aligned, tabular figures
    help: str = ""  # the header's tooltip: what it is and where the method comes from
    rank: int = 100  # where it sits among the added columns (lower first)

    def cell(self, example):
        if self.render is not None:
            return conditional_escape(self.render(example))
        value = getattr(example, self.key, None)
        return "–" if value is None else conditional_escape(value)


@dataclass(frozen=True)
class Filter:
    key: str
    label: str
    apply: Callable  # (queryset, value) -> queryset
    choices: list | Callable | None = None  # [(value, label)], or a callable giving them; None: free text
    help: str = ""
    rank: int = 100

    def options(self):
        return list(self.choices() if callable(self.choices) else self.choices or [])

    def clean(self, value):
        """The value if it is one this filter takes, else "" (the filter is then off)."""
        value = (value or "").strip()
        if not value or self.choices is None:
            return value[:200]
        return value if value in {choice for choice, _ in self.options()} else ""


@dataclass
class _Registry:
    columns: dict[str, Column] = field(default_factory=dict)
    filters: dict[str, Filter] = field(default_factory=dict)
    actions: dict = field(default_factory=dict)


_registry = _Registry()
_discovered = False
_lock = threading.RLock()  # a table_columns module that lists the columns while being imported must not hang


def _check_key(key, kind, known, entry):
    if key in RESERVED:
        raise ValueError(f"{key!r} is a parameter of the examples table itself: choose another {kind} key.")
    if key in known and known[key] != entry:
        raise ValueError(f"An examples-table {kind} {key!r} is already registered.")


def register_column(key, label, *, annotate, render=None, sortable=False, numeric=False, help="", rank=100) -> Column:
    """Add a column to the examples table (and its value to nothing else: the API lists only the filters)."""
    column = Column(key, label, annotate, render, sortable, numeric, help, rank)
    _check_key(key, "column", _registry.columns, column)
    _registry.columns[key] = column
    return column


def register_filter(key, label, *, apply, choices=None, help="", rank=100) -> Filter:
    """Add a filter to the table's filter bar, to /api/examples/?<key>= and to "all matching" selections."""
    entry = Filter(key, label, apply, choices, help, rank)
    _check_key(key, "filter", _registry.filters, entry)
    _registry.filters[key] = entry
    return entry


def register_action(action):
    """Add a bulk action (a curation.workspace.bulk.BulkAction) to the table's bar and POST /api/examples/bulk/."""
    _check_key(action.key, "action", _registry.actions, action)
    _registry.actions[action.key] = action
    return action


def unregister(key):
    """Remove a column, filter and action of this key (tests)."""
    for entries in (_registry.columns, _registry.filters, _registry.actions):
        entries.pop(key, None)


def _discover():
    """Import every `table_columns` module of the curation app's packages, once."""
    global _discovered
    if _discovered:
        return
    with _lock:
        if _discovered:
            return
        root = Path(importlib.import_module("curation").__file__).parent
        found = sorted(path for path in root.rglob("table_columns.py") if "__pycache__" not in path.parts)
        for path in found:
            module = ".".join(("curation", *path.relative_to(root).with_suffix("").parts))
            importlib.import_module(module)
        _discovered = True


def columns() -> list[Column]:
    _discover()
    return sorted(_registry.columns.values(), key=lambda column: column.rank)


def filters() -> list[Filter]:
    _discover()
    return sorted(_registry.filters.values(), key=lambda entry: entry.rank)


def get_column(key) -> Column | None:
    _discover()
    return _registry.columns.get(key)


def get_filter(key) -> Filter | None:
    _discover()
    return _registry.filters.get(key)


def actions() -> dict:
    _discover()
    return dict(_registry.actions)
