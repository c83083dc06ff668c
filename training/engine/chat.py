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


def chat_template(bos: str = "") -> str:
    """The same format for tools that call tokenizer.apply_chat_template (vLLM, TRL, lm-eval).

    `bos` is the text of the ids the tokenizer puts before any text (a LLaMA "<s>" or
    "<|begin_of_text|>"): chat templates are tokenised without special tokens, so the template itself
    must write it, or a checkpoint would be prompted without the BOS it was trained with.
    """
    return (
        bos + "{% for message in messages %}"
        "{% if message['role'] == 'user' %}" + USER + "{% elif message['role'] == 'assistant' %}" + ASSISTANT + ""
        "{% else %}{{ raise_exception('the LIMA chat format has only user and assistant turns') }}{% endif %}"
        "{{ message['content'] }}" + EOT + "{% endfor %}"
        "{% if add_generation_prompt %}" + ASSISTANT + "{% endif %}"
    )


CHAT_TEMPLATE = chat_template()  # for tokenizers that add no BOS (the tiny model's)


def add_chat_tokens(tokenizer, model=None) -> None:
    """Add any missing special tokens (each stays ONE id), set the pad token and chat template, resize the model's embeddings.

    New rows of the embeddings (and of the output layer when it is not tied to them) start where they
    can learn fast: EOT's at the base model's own end-of-turn / EOS row, which already means "stop",
    the others at the mean row (transformers' default would draw them at random around the mean).
    """
    present = set(tokenizer.get_vocab())
    missing = [token for token in SPECIAL_TOKENS if token not in present]
    base_eos = _base_eos_id(tokenizer, model)
    if missing:
        # Keep the tokenizer's own extra special tokens: the default call replaces the list.
        params = inspect.signature(tokenizer.add_special_tokens).parameters
        keep = {name: False for name in ("replace_extra_special_tokens", "replace_additional_special_tokens") if name in params}
        tokenizer.add_special_tokens({"additional_special_tokens": missing}, **keep)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = PAD
    # Replaces the base model's own (e.g. ChatML) template.
    tokenizer.chat_template = chat_template(tokenizer.decode(_prefix_ids(tokenizer)))
    for token in SPECIAL_TOKENS:
        ids = tokenizer(token, add_special_tokens=False)["input_ids"]
        if len(ids) != 1:
            raise ValueError(f"chat token {token!r} encodes to {len(ids)} ids, expected one")
    if model is not None:
        old_rows = model.get_input_embeddings().weight.shape[0]
        if old_rows < len(tokenizer):
            model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
            _init_new_rows(model, [tokenizer.convert_tokens_to_ids(t) for t in missing], old_rows, tokenizer.convert_tokens_to_ids(EOT), base_eos)
        model.config.pad_token_id = tokenizer.pad_token_id
        generation_config = getattr(model, "generation_config", None)
        if generation_config is not None:
            # A plain `generate` on the fine-tuned model must stop at EOT as well as at the old EOS.
            eos = generation_config.eos_token_id
            eos = [] if eos is None else list(eos) if isinstance(eos, (list, tuple)) else [eos]
            generation_config.eos_token_id = [eot_id(tokenizer)] + [i for i in eos if i != eot_id(tokenizer)]
            generation_config.pad_token_id = tokenizer.pad_token_id


def _base_eos_id(tokenizer, model) -> int | None:
    """The base model's own end token (its end-of-turn in an instruct model, e.g. <|im_end|>), if it has one."""
    if EOT in tokenizer.get_vocab():
        return None  # EOT is not new: nothing to initialise
    if tokenizer.eos_token_id is not None:
        return tokenizer.eos_token_id
    eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    return (eos[0] if eos else None) if isinstance(eos, (list, tuple)) else eos


def _init_new_rows(model, new_ids: list[int], old_rows: int, eot: int, base_eos: int | None) -> None:
    import torch  # not at the top: the web app imports this module and must start without torch

    matrices = [model.get_input_embeddings().weight]
    output = model.get_output_embeddings()
    if output is not None and output.weight is not matrices[0]:  # untied: the output row must start well too
        matrices.append(output.weight)
    with torch.no_grad():
        for weight in matrices:
            mean = weight[:old_rows].mean(dim=0)
            for token_id in new_ids:
                weight[token_id] = weight[base_eos] if token_id == eot and base_eos is not None and base_eos < old_rows else mean


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
