"""Conversation files -> records: the LIMA release, OpenAI chat, ShareGPT and Alpaca.

The format is detected once per file, from its first row, and every row must then be of it:

- ``lima``:     ``{"conversations": ["user", "assistant", ...], "source": "stackexchange"}``
- ``openai``:   ``{"messages": [{"role": "system"|"user"|"assistant", "content": "..."}]}``
- ``sharegpt``: ``{"conversations": [{"from": "human"|"gpt", "value": "..."}]}``
- ``alpaca``:   ``{"instruction": "...", "input": "...", "output": "..."}``

A file is NDJSON (one row a line, plain or zstd) or, when its first character is "[", one JSON
array of rows (read whole: such files are small, e.g. the 3 MB train_1k_fastchat.json).

Decisions:
- Structural problems fail the file with SourceFormatError naming it and the line (or array
  item): invalid JSON, a row that is not an object or not of the file's format, a turn that is
  not text, an unknown role name. Content problems become rejected records a person can fix:
  ``roles_not_alternating`` (turns must go user, assistant, user, ...), ``empty_conversation``,
  ``ends_with_user_turn`` (more than one turn, and the last is the user's), ``empty_turn``,
  ``unsupported_role`` (OpenAI tool/function messages), ``duplicate_row`` (same id as an
  earlier row).
- One user turn alone is a prompt-only record on the ``prompt_only_split`` ("test"): LIMA's
  test.jsonl rows.
- A leading system message (OpenAI "system", ShareGPT "system") is kept in
  ``metadata["system"]`` by default (``system_prompt="metadata"``); ``"prepend"`` puts it in
  front of the first user turn, ``"drop"`` discards it. A system message anywhere else is
  ``roles_not_alternating``.
- ``strip_alpaca_preamble`` (on by default) removes the Alpaca template some conversions put
  around every prompt ("Below is an instruction that describes a task. … ### Instruction: …
  ### Input: … ### Response:"), as train_1k_fastchat.json does, keeping the instruction (and the
  input after a blank line).
- external_id is the row's "id" when it has one, else a hash of the row's content (stable across
  imports and options). domain is the row's "source" (LIMA) or "category" when present; other
  top-level scalar fields ("source", "score", ...) are copied into metadata.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from curation.sources._lines import iter_json_lines, load_json_document
from curation.sources.plugins import SourceKind, register
from curation.sources.records import SPLITS, Record, Rule, SourceFormatError

FORMATS = ("lima", "openai", "sharegpt", "alpaca")
USER_ROLES = {"human", "user", "prompter"}
ASSISTANT_ROLES = {"gpt", "assistant", "chatgpt", "bard", "bing", "model", "bot"}
SYSTEM_ROLES = {"system"}
UNSUPPORTED_ROLES = {"tool", "function", "ipython"}
SYSTEM_PROMPT_MODES = ("metadata", "prepend", "drop")

RULES = (
    Rule("empty_conversation", "The row holds no turn."),
    Rule("unsupported_role", "A tool or function message (OpenAI)."),
    Rule("roles_not_alternating", "Turns do not go user, assistant, user, ..."),
    Rule("empty_turn", "A turn is empty."),
    Rule("ends_with_user_turn", "The conversation ends with the user's turn."),
    Rule("duplicate_row", "The same id as an earlier row.", "skip_duplicates", lambda value: False, "repeated rows kept"),
)

_ALPACA_PREAMBLE = re.compile(
    r"^\s*Below is an instruction that describes a task(?:, paired with an input that provides "
    r"further context)?\.\s*Write a response that appropriately completes the request\.\s*"
    r"(?:###\s*Instruction:\s*)?",
)
_ALPACA_INPUT = re.compile(r"\s*###\s*Input:\s*")
_ALPACA_RESPONSE = re.compile(r"\s*###\s*Response:\s*$")


def iter_records(
    path,
    *,
    seed: int = 0,
    strip_alpaca_preamble: bool = True,
    system_prompt: str = "metadata",
    split: str = "unassigned",
    prompt_only_split: str = "test",
    source_format: str | None = None,
    skip_duplicates: bool = True,
    stats: Counter | None = None,
) -> Iterator[Record]:
    """Yield one Record per row of a conversation file, accepted or rejected.

    ``source_format`` forces one of FORMATS instead of detecting it. ``split`` is given to full
    conversations, ``prompt_only_split`` to rows holding one user turn. ``seed`` is accepted for
    a uniform interface; nothing here is random. Conversations are taken as they are (no Markdown
    clean-up: such files are finished datasets). ``skip_duplicates`` False keeps rows whose id was
    seen before; ``stats`` counts the rows read.
    """
    del seed
    stats = Counter() if stats is None else stats
    if system_prompt not in SYSTEM_PROMPT_MODES:
        raise ValueError(f"system_prompt must be one of {SYSTEM_PROMPT_MODES}")
    if source_format is not None and source_format not in FORMATS:
        raise ValueError(f"source_format must be one of {FORMATS}")
    for option in (split, prompt_only_split):
        if option not in SPLITS:
            raise ValueError(f"split {option!r} is not one of {SPLITS}")
    path = Path(path)
    if not path.is_file():
        raise SourceFormatError(path, "", "no such file")
    file_format = source_format
    seen: set[str] = set()
    for where, item in _rows(path):
        if not isinstance(item, dict):
            raise SourceFormatError(
                path, where, f"expected a JSON object, found {type(item).__name__}"
            )
        if file_format is None:
            file_format = detect_format(item)
            if file_format is None:
                raise SourceFormatError(
                    path,
                    where,
                    "unknown conversation format: expected 'conversations' (LIMA or ShareGPT), "
                    f"'messages' (OpenAI) or 'instruction'/'output' (Alpaca); keys found: "
                    f"{', '.join(item) or 'none'}",
                )
        origin = _origin(file_format, source_format)
        row_format = detect_format(item)
        if row_format not in (None, file_format):
            raise SourceFormatError(
                path, where, f"this row is {row_format}, but the file is read as {origin}"
            )
        record = _record(
            path,
            where,
            item,
            file_format,
            origin=origin,
            strip_alpaca_preamble=strip_alpaca_preamble,
            system_prompt=system_prompt,
            split=split,
            prompt_only_split=prompt_only_split,
        )
        if record.external_id in seen and record.reject_reason is None and skip_duplicates:
            record.reject_reason = "duplicate_row"
        seen.add(record.external_id)
        stats["rows"] += 1
        yield record


def detect_format(item: dict) -> str | None:
    """The format of one row, or None when it is none of FORMATS."""
    if isinstance(item.get("messages"), list):
        return "openai"
    conversations = item.get("conversations")
    if isinstance(conversations, list) and conversations:
        if all(isinstance(turn, str) for turn in conversations):
            return "lima"
        if all(isinstance(turn, dict) and "from" in turn for turn in conversations):
            return "sharegpt"
    if "instruction" in item and "output" in item:
        return "alpaca"
    return None


def _rows(path: Path) -> Iterator[tuple[str, object]]:
    if _starts_with_bracket(path):
        try:
            items = load_json_document(path)
        except json.JSONDecodeError as error:
            raise SourceFormatError(
                path, f"line {error.lineno} column {error.colno}", f"invalid JSON: {error.msg}"
            ) from None
        except UnicodeDecodeError as error:
            raise SourceFormatError(path, f"byte offset {error.start}", "not UTF-8 text") from None
        if not isinstance(items, list):
            raise SourceFormatError(path, "", "expected a JSON array of rows")
        for index, item in enumerate(items):
            yield f"item {index}", item
        return
    for number, item in iter_json_lines(path):
        yield f"line {number}", item


def _starts_with_bracket(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"[")


# --- One row -> turns with roles ----------------------------------------------------------------


def _origin(file_format: str, source_format: str | None) -> str:
    return f"{file_format} ({'as asked' if source_format else 'from its first row'})"


def _record(path: Path, where: str, item: dict, file_format: str, origin: str, **options) -> Record:
    messages = _messages(path, where, item, file_format, origin)  # [(role, text)]
    metadata = {"format": file_format}
    for key, value in item.items():
        if key not in ("conversations", "messages", "instruction", "input", "output") and (
            value is None or isinstance(value, (str, int, float, bool))
        ):
            metadata[key] = value
    record = Record(
        external_id=_external_id(item),
        turns=[],
        domain=str(item.get("source") or item.get("category") or ""),
        metadata=metadata,
        location=f"{path.name} {where}",
    )

    if messages and messages[0][0] == "system":
        system = messages.pop(0)[1]
        if options["system_prompt"] == "metadata":
            metadata["system"] = system
        elif options["system_prompt"] == "prepend" and messages and messages[0][0] == "user":
            messages[0] = ("user", f"{system}\n\n{messages[0][1]}")
    if options["strip_alpaca_preamble"]:
        messages = [
            (role, _strip_alpaca(text) if role == "user" else text) for role, text in messages
        ]

    record.turns = [text for _, text in messages]
    roles = [role for role, _ in messages]
    expected = ["user" if i % 2 == 0 else "assistant" for i in range(len(roles))]
    if not roles:
        record.reject_reason = "empty_conversation"
    elif any(role in UNSUPPORTED_ROLES for role in roles):
        record.reject_reason = "unsupported_role"
    elif roles != expected:
        record.reject_reason = "roles_not_alternating"
    elif any(not text.strip() for text in record.turns):
        record.reject_reason = "empty_turn"
    elif len(roles) > 1 and roles[-1] == "user":
        record.reject_reason = "ends_with_user_turn"
    record.split = options["prompt_only_split"] if roles == ["user"] else options["split"]
    return record


def _messages(
    path: Path, where: str, item: dict, file_format: str, origin: str
) -> list[tuple[str, str]]:
    def fail(message: str):
        raise SourceFormatError(path, where, f"{message}; the file is read as {origin}")

    if file_format == "lima":
        turns = item.get("conversations")
        if not isinstance(turns, list) or not all(isinstance(t, str) for t in turns):
            fail("expected 'conversations' as a list of strings")
        return [("user" if i % 2 == 0 else "assistant", _normalise(t)) for i, t in enumerate(turns)]

    if file_format == "alpaca":
        if not all(
            isinstance(item.get(k, ""), str) for k in ("instruction", "input", "output")
        ) or ("instruction" not in item or "output" not in item):
            fail("expected 'instruction', 'input' and 'output' as strings")
        prompt = _normalise(item["instruction"]).strip()
        extra = _normalise(item.get("input") or "").strip()
        if extra:
            prompt = f"{prompt}\n\n{extra}"
        return [("user", prompt), ("assistant", _normalise(item["output"]))]

    key, role_key, text_key = (
        ("messages", "role", "content")
        if file_format == "openai"
        else ("conversations", "from", "value")
    )
    turns = item.get(key)
    if not isinstance(turns, list):
        fail(f"expected '{key}' as a list of {{'{role_key}', '{text_key}'}} objects")
    messages = []
    for index, turn in enumerate(turns):
        if not isinstance(turn, dict) or not isinstance(turn.get(role_key), str):
            fail(f"turn {index}: expected an object with '{role_key}' and '{text_key}'")
        text = _content_text(turn.get(text_key))
        if text is None:
            fail(f"turn {index}: '{text_key}' is not text")
        role = turn[role_key].strip().lower()
        if role in USER_ROLES:
            role = "user"
        elif role in ASSISTANT_ROLES:
            role = "assistant"
        elif role not in SYSTEM_ROLES | UNSUPPORTED_ROLES:
            fail(f"turn {index}: unknown role {turn[role_key]!r}")
        messages.append((role, _normalise(text)))
    return messages


def _content_text(content) -> str | None:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    # OpenAI's multi-part content: [{"type": "text", "text": "..."}, ...]
    if isinstance(content, list) and all(isinstance(part, dict) for part in content):
        return "".join(
            part.get("text", "") for part in content if part.get("type", "text") == "text"
        )
    return None


def _strip_alpaca(text: str) -> str:
    stripped = _ALPACA_PREAMBLE.sub("", text, count=1)
    if stripped == text:
        return text
    stripped = _ALPACA_RESPONSE.sub("", stripped)
    instruction, *extra = _ALPACA_INPUT.split(stripped, maxsplit=1)
    extra_text = extra[0].strip() if extra else ""
    return f"{instruction.strip()}\n\n{extra_text}" if extra_text else instruction.strip()


def _normalise(text: str) -> str:
    return text.replace("\r\n", "\n")


def _external_id(item: dict) -> str:
    if item.get("id") not in (None, ""):
        return str(item["id"])
    canonical = json.dumps(item, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()[:20]


# Ready-made conversations (LIMA's own release, OpenAI, ShareGPT, Alpaca files): every accepted one is kept.
SOURCE = register(SourceKind(
    kind="jsonl", label="JSONL", parser=__name__, targets=None, within="random", order=60,
    buckets={"other": ("Other", 90)},
))
