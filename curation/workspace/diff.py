"""Differences between two versions of a conversation, for the history page and the edit-conflict message.

Pure Python (difflib). Turns are compared position by position; within a turn, lines are compared, and a
changed line is compared word by word so that the template can mark exactly what moved. Long unchanged
stretches are folded, keeping CONTEXT lines around each change. Text stays text: the template escapes it.
"""
import difflib
import re
from dataclasses import dataclass, field

CONTEXT = 2
ROLES = ("user", "assistant")
_WORDS = re.compile(r"\s+|\w+|[^\w\s]")


@dataclass(frozen=True)
class Line:
    kind: str  # "same" | "del" | "add" | "fold"
    old_no: int | None
    new_no: int | None
    parts: list  # [(kind, text)], kind "same" | "del" | "add"; a "fold" line holds [("same", "12 lines")]


@dataclass(frozen=True)
class TurnDiff:
    position: int
    role: str
    status: str  # "same" | "changed" | "added" | "removed"
    lines: list = field(default_factory=list)
    added: int = 0
    removed: int = 0


@dataclass(frozen=True)
class FieldChange:
    name: str
    old: str
    new: str


def _word_parts(old, new):
    """Word-level (kind, text) parts of the old line and of the new line."""
    a, b = _WORDS.findall(old), _WORDS.findall(new)
    old_parts, new_parts = [], []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            old_parts.append(("same", "".join(a[i1:i2])))
            new_parts.append(("same", "".join(b[j1:j2])))
            continue
        if i2 > i1:
            old_parts.append(("del", "".join(a[i1:i2])))
        if j2 > j1:
            new_parts.append(("add", "".join(b[j1:j2])))
    return old_parts, new_parts


def _line_diff(old_text, new_text):
    old, new = old_text.splitlines(), new_text.splitlines()
    lines = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if op == "equal":
            lines.extend(Line("same", i1 + k + 1, j1 + k + 1, [("same", old[i1 + k])]) for k in range(i2 - i1))
            continue
        paired = min(i2 - i1, j2 - j1) if op == "replace" else 0
        for k in range(i2 - i1):
            parts = _word_parts(old[i1 + k], new[j1 + k])[0] if k < paired else [("del", old[i1 + k])]
            lines.append(Line("del", i1 + k + 1, None, parts))
        for k in range(j2 - j1):
            parts = _word_parts(old[i1 + k], new[j1 + k])[1] if k < paired else [("add", new[j1 + k])]
            lines.append(Line("add", None, j1 + k + 1, parts))
    return _fold(lines)


def _fold(lines):
    """Replace runs of unchanged lines far from any change by one "fold" line."""
    changed = [i for i, line in enumerate(lines) if line.kind != "same"]
    keep = set()
    for i in changed:
        keep.update(range(i - CONTEXT, i + CONTEXT + 1))
    folded, run = [], 0
    for i, line in enumerate(lines):
        if line.kind != "same" or i in keep:
            if run:
                folded.append(Line("fold", None, None, [("same", f"{run} unchanged line{'s' if run != 1 else ''}")]))
                run = 0
            folded.append(line)
        else:
            run += 1
    if run:
        folded.append(Line("fold", None, None, [("same", f"{run} unchanged line{'s' if run != 1 else ''}")]))
    return folded


def diff_conversations(old_turns, new_turns):
    """One TurnDiff per position present in either conversation."""
    diffs = []
    for position in range(max(len(old_turns), len(new_turns))):
        old = old_turns[position] if position < len(old_turns) else None
        new = new_turns[position] if position < len(new_turns) else None
        role = ROLES[position % 2]
        if old == new:
            diffs.append(TurnDiff(position, role, "same"))
            continue
        status = "added" if old is None else "removed" if new is None else "changed"
        lines = _line_diff(old or "", new or "")
        diffs.append(TurnDiff(
            position, role, status, lines,
            added=sum(line.kind == "add" for line in lines),
            removed=sum(line.kind == "del" for line in lines),
        ))
    return diffs


def field_changes(old, new, names=("status", "split", "domain", "tags")):
    """What changed besides the text, between two mappings (e.g. two revisions as dicts)."""
    changes = []
    for name in names:
        before, after = old.get(name), new.get(name)
        if before != after:
            show = (lambda v: (", ".join(v) if isinstance(v, list) else str(v or "")) or "—")
            changes.append(FieldChange(name, show(before), show(after)))
    return changes
