"""What the workspace's templates show of an example: rendered turns with their checks, and its attribution.

Every piece of Markdown goes through core.markdown.render_markdown (markdown-it, then nh3), so what reaches
`mark_safe` is already sanitised.
"""
from dataclasses import dataclass

from django.utils.safestring import mark_safe

from core.markdown import render_markdown
from curation.workspace.lint import check_conversation


@dataclass(frozen=True)
class ShownTurn:
    position: int
    role: str
    text: str
    html: str
    chars: int
    tokens: int
    warnings: list


def shown_turns(texts):
    return [
        ShownTurn(check.position, check.role, text, mark_safe(render_markdown(text)), check.chars, check.tokens,
                  check.warnings)
        for text, check in zip(texts, check_conversation(texts))
    ]


@dataclass(frozen=True)
class Fact:
    label: str
    value: str
    url: str = ""


def _safe_url(value):
    # Metadata comes from imported files: only plain web links become links.
    value = str(value or "").strip()
    return value if value.lower().startswith(("https://", "http://")) else ""


# Metadata keys shown first, in this order, with their labels; the rest follow under "More".
_MAIN_FACTS = (
    ("title", "Title"),
    ("author", "Author"),
    ("licence", "Licence"),
    ("score", "Score"),
    ("question_score", "Question score"),
    ("accepted", "Accepted answer"),
    ("site", "Site"),
    ("subreddit", "Subreddit"),
    ("category", "Category"),
)
_LINK_KEYS = ("url", "answer_url", "author_url")
_HIDDEN_KEYS = {"tags"}


def attribution(example):
    """(main facts, links, other facts) from the example's metadata and its source."""
    metadata = example.metadata or {}
    facts = []
    for key, label in _MAIN_FACTS:
        if key in metadata and metadata[key] not in (None, ""):
            value = metadata[key]
            if isinstance(value, bool):
                value = "yes" if value else "no"
            url = _safe_url(metadata.get("author_url")) if key == "author" else ""
            facts.append(Fact(label, f"{value:,}" if isinstance(value, int) else str(value), url))
    if "licence" not in metadata and example.source.licence:
        facts.append(Fact("Licence", example.source.licence + " (source)"))
    links = [
        Fact({"url": "Original", "answer_url": "Answer", "author_url": "Author's page"}[key], metadata[key],
             _safe_url(metadata[key]))
        for key in _LINK_KEYS
        if _safe_url(metadata.get(key))
    ]
    shown = {key for key, _ in _MAIN_FACTS} | set(_LINK_KEYS) | _HIDDEN_KEYS
    others = [Fact(key.replace("_", " "), _short(value)) for key, value in metadata.items() if key not in shown]
    return facts, links, others


def _short(value, limit=120):
    text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
