"""The loss-mask preview of the run form: one conversation as the engine will see it, token by token,
with the tokens that carry a label (the assistant's text and its EOT) marked.

It calls the engine's own encoding (training.engine.data.encode_example, which uses chat.encode and the
trimming to max_length), so the preview cannot drift from what is trained. Without a tokenizer that
loads locally, it falls back to the same mask per utterance.
"""
from dataclasses import dataclass, field
from functools import lru_cache

from training.engine.chat import ASSISTANT, EOT, PAD, USER

SPECIAL_LABELS = {USER: "user", ASSISTANT: "assistant", EOT: "EOT", PAD: "pad"}


@dataclass(frozen=True)
class Piece:
    text: str
    trained: bool
    special: str = ""  # "user", "assistant", "EOT" for the chat tokens
    token_id: int | None = None


@dataclass
class MaskPreview:
    pieces: list = field(default_factory=list)
    tokens: int = 0
    trained: int = 0
    trimmed: bool = False
    eot_trained: int = 0  # EOT tokens that carry a label: one per answer, or the model never learns to stop
    answers: int = 0
    tokenizer: str = ""  # which tokenizer, or "" for the per-utterance fallback

    @property
    def trained_share(self):
        return self.trained / self.tokens if self.tokens else 0.0


@lru_cache(maxsize=4)
def load_tokenizer(base_model):
    """The base model's tokenizer from local files only (never a download), with the chat tokens added."""
    from transformers import AutoTokenizer

    from training.engine.chat import add_chat_tokens

    tokenizer = AutoTokenizer.from_pretrained(base_model, local_files_only=True)
    add_chat_tokens(tokenizer)
    return tokenizer


def preview_tokens(tokenizer, turns, max_length, name=""):
    """Each token of the encoded (and, past max_length, trimmed) conversation with its mask."""
    from training.engine.data import IGNORE_INDEX, encode_example

    example = encode_example(tokenizer, list(turns), max_length)
    special_ids = {tokenizer.convert_tokens_to_ids(token): label for token, label in SPECIAL_LABELS.items()}
    preview = MaskPreview(tokenizer=name or getattr(tokenizer, "name_or_path", "tokenizer"), trimmed=example.trimmed)
    for token_id, label in zip(example.input_ids, example.labels):
        trained = label != IGNORE_INDEX
        special = special_ids.get(token_id, "")
        text = tokenizer.convert_ids_to_tokens(token_id) if special else tokenizer.decode([token_id])
        preview.pieces.append(Piece(text, trained, special, token_id))
        preview.tokens += 1
        preview.trained += trained
        preview.eot_trained += special == "EOT" and trained
        preview.answers += special == "assistant"
    return preview


def preview_turns(turns):
    """The mask per utterance, when no tokenizer is at hand: markers and user text untrained; the assistant's
    text and its EOT trained (the rule of training.engine.chat.encode)."""
    turns = list(turns)
    if len(turns) % 2 == 1:
        turns = turns[:-1]  # as the engine does: a last user turn with no answer trains nothing
    preview = MaskPreview()
    for index, text in enumerate(turns):
        assistant = index % 2 == 1
        role = "assistant" if assistant else "user"
        marker = ASSISTANT if assistant else USER
        preview.pieces += [Piece(marker, False, role), Piece(text, assistant), Piece(EOT, assistant, "EOT")]
        preview.eot_trained += assistant
        preview.answers += assistant
    return preview
