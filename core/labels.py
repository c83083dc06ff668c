"""The one place that turns stored keys into words: import rejection reasons, review reasons, job statuses
and phases, example statuses and splits, roles. Pages use the ``label`` template filter, exports and the API
call ``label()``; a key with no entry still reads as words ("some_new_reason" -> "Some new reason").

Numbered reasons ("answer_score_below_10") are matched by their prefix and keep their number.
A unit test (tests/core/test_labels.py) collects every key the code can emit and checks each has an entry here.
"""
import re

# Reasons an import turns a record down with (curation.sources.* RULES, curation.imports).
IMPORT_REASONS = {
    # Stack Exchange
    "meta_site": "Meta site",
    "niche_site": "Niche site",
    "no_answer": "No answer",
    "empty_prompt": "Empty prompt",
    "empty_answer": "Empty answer",
    "answer_too_short": "Answer too short",
    "answer_too_long": "Answer too long",
    "first_person": "Answer in the first person",
    "refers_to_other_answers": "Refers to other answers",
    "title_not_self_contained": "Title not self-contained",
    # wikiHow
    "title_not_how_to": "Title is not a “How to”",
    "empty_response": "Empty response",
    "duplicate_article": "Duplicate article",
    # Reddit
    "submission_deleted": "Submission deleted",
    "submission_removed": "Submission removed",
    "empty_title": "Empty title",
    "no_top_level_comment": "No top-level comment",
    "comment_deleted": "Comment deleted",
    "comment_removed": "Comment removed",
    "comment_empty": "Comment empty",
    # Super-NaturalInstructions
    "not_a_generation_task": "Not a generation task",
    "not_english": "Not English",
    "no_instances": "No instances",
    # JSONL conversations
    "empty_conversation": "Empty conversation",
    "unsupported_role": "Unsupported role",
    "roles_not_alternating": "Roles not alternating",
    "empty_turn": "Empty turn",
    "ends_with_user_turn": "Ends with a user turn",
    "duplicate_row": "Duplicate row",
    # The ingest itself
    "not_sampled": "Not sampled",
    "invalid_conversation": "Invalid conversation",
    "duplicate_record": "Duplicate record",
    "exact_duplicate": "Exact duplicate of another example",
}

# Numbered reasons: the prefix, and the words before the number.
NUMBERED_REASONS = {
    "answer_score_below_": "Answer score below {}",
    "submission_score_below_": "Submission score below {}",
    "comment_score_below_": "Comment score below {}",
}

# Why a person rejected an example (curation.workspace.forms.REJECT_REASONS).
REVIEW_REASONS = {
    "not_self_contained": "Prompt is not self-contained",
    "low_quality": "Low quality or wrong",
    "off_style": "Off style: first person, links, chatty",
    "refers_elsewhere": "Refers to other answers or the site",
    "unsafe": "Toxic or unsafe",
    "duplicate": "Duplicate",
    "bad_length": "Too long or too short",
    "other": "Other",
}

# core.jobs.models.Job.Status
JOB_STATUSES = {
    "queued": "Queued",
    "running": "Running",
    "succeeded": "Succeeded",
    "failed": "Failed",
    "cancelled": "Cancelled",
}

# Job.phase values the runners write.
JOB_PHASES = {
    "reading": "Reading",
    "sampling": "Sampling",
    "saving": "Saving",
    "done": "Done",
    "writing": "Writing",
    "freezing": "Freezing",
    "planning": "Planning",
    "computing": "Computing",
    "signing": "Signing",
    "clustering": "Clustering",
    "storing": "Storing",
    "reading candidates": "Reading candidates",
    "reading embeddings": "Reading embeddings",
    "picking": "Picking",
    "comparing": "Comparing",
    "generating": "Generating",
    "drafting": "Drafting",
    "asking the endpoint": "Asking the endpoint",
    "asking the judge": "Asking the judge",
    "loading": "Loading the model",
    "serving": "Serving",
}

# Example.Status, Example.Split, Review.Decision, DatasetVersion.Status, Turn.Role
EXAMPLE_STATUSES = {
    "candidate": "Candidate",
    "approved": "Approved",
    "rejected": "Rejected",
}
SPLITS = {"train": "Train", "dev": "Dev", "test": "Test", "unassigned": "Unassigned"}
DECISIONS = {"approve": "Approve", "reject": "Reject", "needs_edit": "Needs edit"}
VERSION_STATUSES = {"freezing": "Freezing", "ready": "Ready", "failed": "Failed"}
TURN_ROLES = {"user": "User", "assistant": "Assistant"}

# core.roles
ROLES = {"admin": "Admin", "annotator": "Annotator"}

LABELS = {
    **IMPORT_REASONS, **REVIEW_REASONS, **JOB_STATUSES, **JOB_PHASES, **EXAMPLE_STATUSES, **SPLITS, **DECISIONS,
    **VERSION_STATUSES, **TURN_ROLES, **ROLES,
}

_NUMBER = re.compile(r"-?\d+")


def numbered(key):
    """The words of a numbered reason ("answer_score_below_10" -> "Answer score below 10"), else None."""
    for prefix, words in NUMBERED_REASONS.items():
        if key.startswith(prefix) and _NUMBER.fullmatch(key[len(prefix):]):
            return words.format(key[len(prefix):])
    return None


def fallback(key):
    """A key with no entry, as words: underscores to spaces, the first letter capitalised."""
    text = " ".join(str(key).replace("_", " ").split())
    return text[:1].upper() + text[1:]


def has_label(key):
    """Whether ``key`` has words of its own here (not only the fallback's)."""
    return key in LABELS or numbered(key) is not None or any(key == prefix for prefix in NUMBERED_REASONS)


def label(key):
    """The words for ``key``; "" for an empty key."""
    if key is None or key == "":
        return ""
    key = str(key)
    return LABELS.get(key) or numbered(key) or fallback(key)


def describe(keys, heading=""):
    """A help text listing keys and their words, for the API schema: "`queued`: Queued; `running`: Running…"."""
    listed = "; ".join(f"`{key}`: {label(key)}" for key in keys)
    return f"{heading} {listed}".strip() if heading else listed


def import_reasons_help():
    """The API's description of an import's reason field: every key with its words."""
    numbered_keys = "; ".join(f"`{prefix}N`: {words.format('N')}" for prefix, words in NUMBERED_REASONS.items())
    return ("Why the import turned the record down (a key; its words are in `reason_label`). "
            + describe(IMPORT_REASONS) + "; " + numbered_keys + ".")


_NOTE_KEY = re.compile(r"\(([a-z][a-z0-9_-]*)\)$")


def note_text(note):
    """A revision's note with the key it ends on in words: "review: reject (low_quality)" ->
    "review: reject (Low quality or wrong)", "rescued (answer_too_short)" -> "rescued (Answer too short)".
    The stored note keeps the key (history and exports stay greppable); only what is shown changes."""
    note = note or ""
    match = _NOTE_KEY.search(note)
    if not match or not has_label(match.group(1)):
        return note
    return note[: match.start(1)] + label(match.group(1)) + ")"
