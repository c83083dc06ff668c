"""The one chat format, shared by training, generation, the mask preview and export.

A conversation is a flat list of strings alternating user / assistant, starting with the user
(the format of LIMA's release, GAIR/lima). Each utterance is wrapped in a role marker and
followed by a new end-of-turn token: LIMA adds "a special end-of-turn token (EOT) at the end of
each utterance", used to stop generation instead of the pretrained EOS (../shared/LIMA.md).

    <|user|>How do I ...?<|eot|><|assistant|>First, ...<|eot|>

Trained tokens are the assistant's text and its EOT, so the model learns to stop (the classic
failure of tools that mask the EOT out of the loss).
"""

import inspect

EOT = "<|eot|>"
USER = "<|user|>"
ASSISTANT = "<|assistant|>"
PAD = "<|pad|>"
SPECIAL_TOKENS = [PAD, USER, ASSISTANT, EOT]
# The same format for tools that call tokenizer.apply_chat_template (text only: encode() is the
# source of truth for ids, including a BOS the tokenizer may add).
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'user' %}" + USER + "{% elif message['role'] == 'assistant' %}" + ASSISTANT + ""
    "{% else %}{{ raise_exception('the LIMA chat format has only user and assistant turns') }}{% endif %}"
    "{{ message['content'] }}" + EOT + "{% endfor %}"
    "{% if add_generation_prompt %}" + ASSISTANT + "{% endif %}"
)


def add_chat_tokens(tokenizer, model=None) -> None:
    """Add any missing special tokens (each stays ONE id), set the pad token and chat template, resize the model's embeddings."""
    present = set(tokenizer.get_vocab())
    missing = [token for token in SPECIAL_TOKENS if token not in present]
    if missing:
        # Keep the tokenizer's own extra special tokens: the default call replaces the list.
        params = inspect.signature(tokenizer.add_special_tokens).parameters
        keep = {name: False for name in ("replace_extra_special_tokens", "replace_additional_special_tokens") if name in params}
        tokenizer.add_special_tokens({"additional_special_tokens": missing}, **keep)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = PAD
    tokenizer.chat_template = CHAT_TEMPLATE  # replaces the base model's own (e.g. ChatML) template
    for token in SPECIAL_TOKENS:
        ids = tokenizer(token, add_special_tokens=False)["input_ids"]
        if len(ids) != 1:
            raise ValueError(f"chat token {token!r} encodes to {len(ids)} ids, expected one")
    if model is not None:
        if model.get_input_embeddings().weight.shape[0] < len(tokenizer):
            model.resize_token_embeddings(len(tokenizer))
        model.config.pad_token_id = tokenizer.pad_token_id
        generation_config = getattr(model, "generation_config", None)
        if generation_config is not None:
            # A plain `generate` on the fine-tuned model must stop at EOT as well as at the old EOS.
            eos = generation_config.eos_token_id
            eos = [] if eos is None else list(eos) if isinstance(eos, (list, tuple)) else [eos]
            generation_config.eos_token_id = [eot_id(tokenizer)] + [i for i in eos if i != eot_id(tokenizer)]
            generation_config.pad_token_id = tokenizer.pad_token_id


def eot_id(tokenizer) -> int:
    return tokenizer.convert_tokens_to_ids(EOT)


def _role(index: int) -> str:
    return USER if index % 2 == 0 else ASSISTANT


def render(turns: list[str], add_generation_prompt: bool = False) -> str:
    """The text form: USER + text + EOT, ASSISTANT + text + EOT, ... (+ ASSISTANT when add_generation_prompt)."""
    text = "".join(_role(i) + turn + EOT for i, turn in enumerate(turns))
    return text + ASSISTANT if add_generation_prompt else text


def _prefix_ids(tokenizer) -> list[int]:
    """Ids the tokenizer puts before any text by default (a LLaMA <s> BOS), or none."""
    with_special = tokenizer("x")["input_ids"]
    bare = tokenizer("x", add_special_tokens=False)["input_ids"]
    for start in range(len(with_special) - len(bare) + 1):
        if with_special[start : start + len(bare)] == bare:
            return list(with_special[:start])
    return []


def _single_id(tokenizer, token: str) -> int:
    token_id = tokenizer.convert_tokens_to_ids(token)
    if token_id is None or token_id == tokenizer.unk_token_id:
        raise ValueError(f"the tokenizer has no {token!r}: call add_chat_tokens(tokenizer, model) first")
    return token_id


def encode(tokenizer, turns: list[str]) -> tuple[list[int], list[bool]]:
    """Token ids of the whole conversation and, per token, whether it is trained (assistant text and its EOT)."""
    user, assistant, eot = (_single_id(tokenizer, t) for t in (USER, ASSISTANT, EOT))
    ids = _prefix_ids(tokenizer)
    trained = [False] * len(ids)
    # Each utterance is tokenised on its own: the markers are special tokens, so this equals
    # tokenising render(turns) while telling exactly which ids came from which turn.
    texts = tokenizer(list(turns), add_special_tokens=False)["input_ids"] if turns else []
    for index, text_ids in enumerate(texts):
        is_assistant = index % 2 == 1
        ids += [assistant if is_assistant else user, *text_ids, eot]
        trained += [False] + [is_assistant] * (len(text_ids) + 1)
    return ids, trained


def prompt_ids(tokenizer, turns: list[str]) -> list[int]:
    """Ids of a conversation that ends with a user turn, followed by the assistant marker: what generation continues."""
    if len(turns) % 2 != 1:
        raise ValueError(f"a prompt must end with a user turn; got {len(turns)} turns")
    ids, _ = encode(tokenizer, turns)
    return ids + [_single_id(tokenizer, ASSISTANT)]
