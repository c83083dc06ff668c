"""The judge's pure parts: the prompt it is asked (a template, editable per run), reading its answer, the rule
that makes one verdict of two orders, and the cache key of one call. No Django, no network.

Pairwise (LIMA.md, Evaluation: which response is better, or neither is significantly better): every item is
asked twice, the responses in the study's order ("AB": A = the item's left) and swapped ("BA"). A verdict
counts only when the two orders agree; where they disagree the item is a tie and counts as a flip (the order,
not the answers, decided). An answer that names no option, or more than one, is unparseable: counted and
shown, never guessed, and its item has no verdict.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

PAIRWISE_TEMPLATE = """You are comparing two responses to the same prompt, as a careful human annotator would.

{conversation}

[Response A]
{response_a}
[End of response A]

[Response B]
{response_b}
[End of response B]

Which response is better? Or is neither significantly better than the other?
Answer with exactly one of: "Response A", "Response B" or "Neither", then a short reason on the next line."""

RATING_TEMPLATE = """You are rating one response to a prompt, as a careful human annotator would.

{conversation}

[Response]
{response}
[End of response]

Rate the response: "Fail" if it does not meet the prompt's requirements, "Pass" if it meets them, "Excellent" if
it is an outstanding answer. Answer with exactly one of: "Fail", "Pass" or "Excellent", then a short reason on the
next line."""

PLACEHOLDERS = {"pairwise": ("{conversation}", "{response_a}", "{response_b}"), "rating": ("{conversation}", "{response}")}
ORDERS = ("AB", "BA")  # AB: A is the item's left response; BA: swapped
PAIRWISE_OPTIONS = {"response a": "A", "response b": "B", "neither": "tie"}
RATING_OPTIONS = {"fail": "Fail", "pass": "Pass", "excellent": "Excellent"}


class TemplateError(ValueError):
    """A judge template lacks a placeholder it needs."""


def default_template(kind: str) -> str:
    return RATING_TEMPLATE if kind == "rating" else PAIRWISE_TEMPLATE


def check_template(template: str, kind: str) -> None:
    missing = [p for p in PLACEHOLDERS["rating" if kind == "rating" else "pairwise"] if p not in template]
    if missing:
        raise TemplateError(f"template: {', '.join(missing)} missing (the judge would not see "
                            f"{'it' if len(missing) == 1 else 'them'})")


def conversation_text(turns: list[str]) -> str:
    """The prompt as the judge reads it: earlier turns labelled, the last one the user's."""
    if len(turns) == 1:
        return f"[Prompt]\n{turns[0]}\n[End of prompt]"
    lines = [f"[{'User' if i % 2 == 0 else 'Assistant'}]\n{text}" for i, text in enumerate(turns)]
    return "[Conversation]\n" + "\n\n".join(lines) + "\n[End of conversation]"


_PLACEHOLDER = re.compile(r"\{(conversation|response_a|response_b|response)\}")


def render(template: str, turns: list[str], response_a: str, response_b: str | None = None) -> str:
    """The template with the prompt and the response(s) in place, in one pass: braces in code answers stay as
    they are, and text inside a response is never read as a placeholder."""
    values = {"conversation": conversation_text(turns), "response_a": response_a, "response": response_a,
              "response_b": response_b if response_b is not None else ""}
    return _PLACEHOLDER.sub(lambda match: values[match.group(1)], template)


_LEAD = re.compile(r"^[\s*_#>\"'`\[(:-]*(?:answer|verdict|rating|final answer)?[\s*_:\"'`-]*", re.IGNORECASE)


def _read(text: str, options: dict[str, str]) -> str | None:
    """The option the answer gives: the one its first line opens with, else the only one it names at all."""
    lowered = (text or "").strip().lower()
    if not lowered:
        return None
    first = _LEAD.sub("", lowered.splitlines()[0])
    for word, value in sorted(options.items(), key=lambda kv: -len(kv[0])):
        if re.match(rf"{re.escape(word)}\b", first):
            return value
    named = {value for word, value in options.items() if re.search(rf"\b{re.escape(word)}\b", lowered)}
    return named.pop() if len(named) == 1 else None


def parse_pairwise(text: str) -> str | None:
    """"A", "B" or "tie" from the judge's answer (in the order it was shown), None when unparseable."""
    return _read(text, PAIRWISE_OPTIONS)


def parse_rating(text: str) -> str | None:
    return _read(text, RATING_OPTIONS)


def unswap(label: str | None) -> str | None:
    """A verdict given with the responses swapped (BA), in the item's own order."""
    return {"A": "B", "B": "A"}.get(label, label)


@dataclass(frozen=True)
class Combined:
    label: str | None  # in the item's order: "A" (left better), "B", "tie"; None: unparseable
    flipped: bool  # both orders read, and they disagreed (the item then counts as a tie)
    unparseable: int  # how many of the two answers could not be read


def combine(forward: str | None, backward: str | None) -> Combined:
    """One verdict from the AB answer's label and the BA answer's label (each as parsed, in its own order)."""
    backward = unswap(backward)
    missing = (forward is None) + (backward is None)
    if missing:
        return Combined(None, False, missing)
    if forward == backward:
        return Combined(forward, False, 0)
    return Combined("tie", True, 0)


def cache_key(judge_model: str, template: str, turns: list[str], response_a: str, response_b: str | None,
              order: str) -> str:
    """The call's identity: the same judge model, template, prompt, responses and order give the same answer
    from the cache, whichever run or study asks."""
    blob = json.dumps([judge_model, template, list(turns), response_a, response_b, order], ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()
