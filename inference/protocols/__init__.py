"""Evaluation protocols: everything that differs between one kind of study and another, behind one interface.

A protocol says what an annotator sees and presses, how a study's items are built from its runs, where a
label is stored and how the labels become results (statistics, agreement, chart, downloads). Views, API,
forms, results and templates ask `study.protocol`; none of them branches on a study's kind.

Adding a protocol (healthchecks' integrations: one folder, nothing elsewhere):
- a module here with a `Protocol` subclass that sets the attributes below and overrides what differs,
- its templates, templates/inference/protocols/<kind>/_item.html and _results.html,
- one `register(...)` line at the bottom of that module (the package finds its modules itself).
Study.kind's choices are read from this registry, so no migration is needed either.
"""
from inference.protocols.base import (  # noqa: F401 - the package's face
    DEFAULT,
    LINEAGE_COLUMNS,
    Label,
    Protocol,
    all_protocols,
    choices,
    get,
    register,
    share,
    usernames,
)
