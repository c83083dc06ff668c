"""The live check of the /write/ page and the review queue: lengths and LIMA's style warnings per turn.

Pure Python on top of curation.text; no Django.

Token counts are an estimate: about four characters per token, the usual figure for English with LLaMA-style
BPE/SentencePiece vocabularies. It is close enough to compare a draft with LIMA's averages (LIMA.md, Table 1)
without loading a tokenizer on every keystroke.
"""
import math
from dataclasses import dataclass, field

from curation.text import StyleWarning, style_warnings

CHARS_PER_TOKEN = 4.0
ROLES = ("user", "assistant")


def estimate_tokens(text):
    text = (text or "").strip()
    return math.ceil(len(text) / CHARS_PER_TOKEN) if text else 0


@dataclass(frozen=True)
class TurnCheck:
    position: int
    role: str
    chars: int
    tokens: int
    warnings: list[StyleWarning] = field(default_factory=list)


def check_conversation(texts):
    """One TurnCheck per turn; responses are linted against the prompt they answer (users' turns are not)."""
    checks = []
    for position, text in enumerate(texts):
        role = ROLES[position % 2]
        warnings = []
        if role == "assistant" and (text or "").strip():
            warnings = style_warnings(text, prompt=texts[position - 1])
        checks.append(TurnCheck(position, role, len((text or "").strip()), estimate_tokens(text), warnings))
    return checks


def conversation_has_warnings(texts):
    return any(check.warnings for check in check_conversation(texts))
