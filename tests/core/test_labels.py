"""Keys to words (core.labels): every reason, status, phase and role the code can emit has words of its own;
a key nobody wrote words for still reads as words. The keys are collected from the code, so a new reason
without an entry fails here."""
import ast
from pathlib import Path

import pytest

from core import labels
from core.jobs.models import Job
from core.roles import ADMIN, ANNOTATOR
from curation.imports import ingest, rules
from curation.models import DatasetVersion, Example, Review, Turn
from curation.sources import plugins
from curation.workspace.forms import REJECT_REASONS

REPO = Path(__file__).resolve().parents[2]
CODE = [path for part in ("core", "curation", "training", "inference") for path in (REPO / part).rglob("*.py")
        if "migrations" not in path.parts]


def _parser_reasons():
    reasons = set()
    for kind in plugins.all_kinds():
        if kind.importable:
            reasons |= {rule.reason for rule in getattr(kind.module(), "RULES", ())}
    return reasons


def _literal_reasons():
    """Every string the source parsers assign to `reject_reason` (or pass as it) and the filters return; an
    f-string gives its constant prefix ("submission_" of f"submission_{gone}")."""
    found = set()

    def take(value):
        if isinstance(value, ast.Constant) and isinstance(value.value, str) and value.value:
            found.add(value.value)
        elif isinstance(value, ast.JoinedStr) and isinstance(value.values[0], ast.Constant):
            found.add(value.values[0].value)

    for path in (REPO / "curation" / "sources").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Assign) and any(getattr(t, "attr", None) == "reject_reason" for t in node.targets):
                take(node.value)
            elif isinstance(node, ast.keyword) and node.arg == "reject_reason":
                take(node.value)
            elif isinstance(node, ast.FunctionDef) and node.name.startswith("check_") and path.name == "filters.py":
                for inner in ast.walk(node):
                    if isinstance(inner, ast.IfExp):
                        take(inner.body)
                    elif isinstance(inner, ast.Return):
                        take(inner.value)
    return found


def _phases():
    """Every constant phase a job writes: progress(..., phase="x"), succeed(phase="x"), on_phase("x"), and the
    import tracker's enter("x")."""
    found = set()
    for path in CODE:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.keyword) and node.arg == "phase" and isinstance(node.value, ast.Constant):
                found.add(node.value.value)
            elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
                  and (getattr(node.func, "id", None) == "on_phase" or getattr(node.func, "attr", None) == "enter")):
                found.add(node.args[0].value)
    return {phase for phase in found if isinstance(phase, str) and phase}


def _covered(prefix_or_key):
    """A key, or the constant prefix of keys built at run time: some entry (or numbered rule) starts with it."""
    if labels.has_label(prefix_or_key):
        return True
    return prefix_or_key.endswith("_") and any(key.startswith(prefix_or_key) for key in labels.LABELS)


def test_every_import_reason_the_code_can_give_has_words():
    reasons = _parser_reasons() | _literal_reasons() | {rule.reason for rule in rules.INGEST_RULES}
    reasons |= {rules.TITLE_FALLBACK, ingest.NOT_SAMPLED, ingest.INVALID_CONVERSATION, ingest.DUPLICATE_RECORD,
                ingest.EXACT_DUPLICATE, *ingest.COUNT_ONLY_REASONS, *ingest.COUNT_ONLY_PREFIXES}
    assert len(reasons) > 30  # the collection found the parsers' rules, not nothing
    assert sorted(reason for reason in reasons if not _covered(reason)) == []


def test_every_review_reason_status_phase_and_role_has_words():
    keys = {value for value, _ in REJECT_REASONS}
    for choices in (Job.Status, Example.Status, Example.Split, Review.Decision, DatasetVersion.Status, Turn.Role):
        keys |= set(choices.values)
    keys |= {ADMIN, ANNOTATOR} | _phases()
    assert {"generating", "writing", "reading"} <= keys
    assert sorted(key for key in keys if not labels.has_label(key)) == []


@pytest.mark.parametrize("key,words", [
    ("answer_score_below_10", "Answer score below 10"),
    ("comment_score_below_-3", "Comment score below -3"),
    ("low_quality", "Low quality or wrong"),
    ("exact_duplicate", "Exact duplicate of another example"),
    ("meta_site", "Meta site"),
    ("cancelled", "Cancelled"),
    ("needs_edit", "Needs edit"),
])
def test_keys_read_as_words(key, words):
    assert labels.label(key) == words


def test_an_unknown_key_falls_back_to_readable_words():
    assert labels.label("some_new_reason") == "Some new reason"
    assert labels.label("answer_score_below_x") == "Answer score below x"  # not a number: the fallback
    assert labels.label("") == "" and labels.label(None) == ""
    assert not labels.has_label("some_new_reason")


def test_the_template_filter_is_the_same_function():
    from django.template import Context, Template

    page = Template("{{ reason|label }} · {{ seconds|duration }}").render(Context({"reason": "not_english", "seconds": 159.43}))
    assert page == "Not English · 2 min 39 s"


@pytest.mark.parametrize("note,shown", [
    ("review: reject (low_quality)", "review: reject (Low quality or wrong)"),
    ("rescued (answer_score_below_10)", "rescued (Answer score below 10)"),
    ("review: approve", "review: approve"),
    ("edited (my own words)", "edited (my own words)"),
    ("", ""),
])
def test_a_revision_note_shows_its_key_in_words(note, shown):
    assert labels.note_text(note) == shown
