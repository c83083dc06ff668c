"""The rule report of an ImportRun: per rule, how many candidates it removed, three of them to look at,
and the option that loosens it, with a re-run of the same file with that one option loosened.

The counts come from ``ImportRun.rejected_by_reason`` (every rejection is counted there, stored or not),
the examples from the run's ``RejectedRecord`` rows, what each rule does and how to loosen it from the
parser's ``RULES`` (``curation.sources.records.Rule``) and, for the reasons the ingest itself gives, from
``INGEST_RULES`` here. One rule changes records instead of removing them: a title prompt that cannot
stand alone is asked by the question's body (``self_contained_titles``); it gets a row of its own.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from pathlib import Path

from curation.imports import ingest
from curation.models import Example, ImportRun, RejectedRecord
from curation.sources.records import Rule

EXAMPLES_PER_RULE = 3
EXCERPT_CHARS = 160
TITLE_FALLBACK = "title_not_self_contained"

# Reasons of the ingest, not of a parser. ``target`` is a run option (not the parser's): "all" keeps
# every accepted record.
INGEST_RULES = (
    Rule(ingest.NOT_SAMPLED, "Accepted, but not drawn by the sampler (LIMA: 200 STEM + 200 other, 200 wikiHow, "
         "50 tasks).", "target", lambda value: "all", "every accepted record kept"),
    Rule(ingest.INVALID_CONVERSATION, "Turns that do not make a conversation (empty, or not alternating)."),
    Rule(ingest.DUPLICATE_RECORD, "A record with the same id earlier in the run."),
)
TITLE_RULE = Rule(
    TITLE_FALLBACK, "A title picked as the prompt could not stand alone (\"What does this code do?\", or it asks "
    "nothing while the body does): the question's body is the prompt instead.",
    "self_contained_titles", lambda value: False, "titles kept as prompts as they are",
)


@dataclass
class RuleExample:
    record: RejectedRecord | Example
    external_id: str
    url: str
    excerpt: str
    found: list[str] = field(default_factory=list)
    sentence: str = ""
    lists: list[str] = field(default_factory=list)


@dataclass
class RuleRow:
    reason: str
    summary: str
    removed: int
    share: float  # of the records read
    examples: list[RuleExample]
    option: str | None = None
    current: object = None
    loosened_value: object = None
    loosened: str = ""
    changes: bool = False  # the rule changes records (the title row) instead of removing them

    @property
    def can_loosen(self) -> bool:
        return self.option is not None

    @property
    def share_text(self) -> str:
        return "<1%" if 0 < self.share < 0.01 else f"{round(self.share * 100)}%"


def _parser_rules(kind) -> tuple[Rule, ...]:
    try:
        return tuple(getattr(ingest.parser_for(kind), "RULES", ()))
    except ingest.ImportOptionError:
        return ()


def rule_for(kind, reason) -> Rule | None:
    """The rule that gives ``reason`` in an import of ``kind`` (None: a reason no rule declares)."""
    if reason == TITLE_FALLBACK:
        return TITLE_RULE if kind == "stackexchange" else None
    for rule in _parser_rules(kind) + INGEST_RULES:
        if rule.matches(reason):
            return rule
    return None


def _current_value(run, rule: Rule):
    """The value the run had for the rule's option: its own, else the parser's default."""
    if rule.option in run.options:
        return run.options[rule.option]
    if rule.option in ingest.RUN_OPTIONS:
        return None
    parameter = inspect.signature(ingest.parser_for(run.source.kind).iter_records).parameters.get(rule.option)
    return None if parameter is None or parameter.default is inspect.Parameter.empty else parameter.default


def _number_in(reason: str, prefix: str):
    tail = reason[len(prefix):]
    return int(tail) if tail.lstrip("-").isdigit() else None


def loosened_value(run, reason):
    """(rule, value) to re-run ``run`` with so that ``reason`` removes fewer records; (rule, None) when the
    rule has no option, (None, None) when no rule gives the reason."""
    rule = rule_for(run.source.kind, reason)
    if rule is None or rule.option is None:
        return rule, None
    current = _current_value(run, rule)
    if rule.reason.endswith("_") and current is None:
        current = _number_in(reason, rule.reason)  # "answer_score_below_10": the run had 10
    return rule, rule.loosen(current)


def _excerpt(text: str) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"


def _example(record) -> RuleExample:
    turns = record.turns if isinstance(record, RejectedRecord) else record.conversation
    metadata = record.metadata or {}
    hits = metadata.get("rule_hits") or {}
    return RuleExample(
        record=record,
        external_id=record.external_id,
        url=metadata.get("answer_url") or metadata.get("url") or "",
        excerpt=_excerpt(turns[0]) if turns else "",
        found=list(hits.get("found") or []),
        sentence=hits.get("sentence") or "",
        lists=list(hits.get("lists") or []),
    )


def _row(run, reason: str, removed: int, examples: list) -> RuleRow:
    rule, value = loosened_value(run, reason)
    row = RuleRow(
        reason=reason,
        summary=rule.summary if rule else "",
        removed=removed,
        share=removed / run.read_count if run.read_count else 0.0,
        examples=[_example(record) for record in examples],
    )
    if rule is not None and rule.option is not None:
        row.option, row.current, row.loosened_value, row.loosened = rule.option, _current_value(run, rule), value, rule.loosened
    return row


def rule_report(run: ImportRun) -> list[RuleRow]:
    """One row per reason the run rejected records for, the most removed first, and a row for the
    title prompts that fell back to the body (Stack Exchange)."""
    rows = []
    for reason, count in sorted(run.rejected_by_reason.items(), key=lambda item: (-item[1], item[0])):
        examples = list(run.rejected_records.filter(reason=reason).order_by("id")[:EXAMPLES_PER_RULE])
        rows.append(_row(run, reason, count, examples))
    if run.source.kind == "stackexchange":
        changed = Example.objects.filter(import_run=run, metadata__has_key=TITLE_FALLBACK)
        kept_aside = run.rejected_records.filter(metadata__has_key=TITLE_FALLBACK)
        count = changed.count() + kept_aside.count()
        if count:
            examples = list(changed.order_by("id")[:EXAMPLES_PER_RULE])
            examples += list(kept_aside.order_by("id")[: EXAMPLES_PER_RULE - len(examples)])
            row = _row(run, TITLE_FALLBACK, count, examples)
            row.changes = True
            rows.append(row)
    return rows


def run_warnings(run: ImportRun) -> list[str]:
    """What the parser warned about the run as a whole, once the ingest keeps it (``ImportRun.warnings``)."""
    warnings = getattr(run, "warnings", None)
    return list(warnings) if isinstance(warnings, (list, tuple)) else []


class CannotLoosen(ValueError):
    """The reason has no rule with an option: nothing to loosen."""


def loosened_options(run: ImportRun, reason: str) -> dict:
    """The run's own options with the one that loosens ``reason`` changed."""
    rule, value = loosened_value(run, reason)
    if rule is None or rule.option is None:
        raise CannotLoosen(f"{reason}: no option loosens this rule.")
    return {**run.options, rule.option: value}


def rerun_loosened(run: ImportRun, reason: str, user) -> ImportRun:
    """A new import of the run's file and source with the rule of ``reason`` loosened (queued for the worker)."""
    if not Path(run.file).exists():
        raise ingest.ImportOptionError(
            f"{Path(run.file).name} is no longer on the server (uploads are removed after UPLOAD_RETENTION_DAYS): "
            "upload it again to re-run.")
    return ingest.start_import(
        run.source.kind, run.file, name=run.source.name, options=loosened_options(run, reason), user=user,
    )
