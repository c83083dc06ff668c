"""The LoRA option (peft): low-rank adapters on every linear layer, plus the chat tokens' rows.

The chat tokens may be new to a pretrained model, and LoRA freezes the embeddings, so their rows
are trained too (peft's trainable_token_indices): the input embedding's and, when the output layer
is not tied to it, the output layer's, whose EOT row is what makes "stop" likely. Without them the
model could never learn EOT. The rows start at the base model's own end-of-turn / EOS row (chat.py)
and LoRA has its own learning rate (recipe.lora_learning_rate), so they move far enough in a run.
Checkpoints store merged weights, so they load with from_pretrained like any model.
"""

import re
import warnings

import torch


def _name_of(model, module) -> str:
    return next(name for name, candidate in model.named_modules() if candidate is module).rsplit(".", 1)[-1]


def apply_lora(model, r: int, alpha: int, dropout: float, token_ids: list[int]):
    from peft import LoraConfig, get_peft_model

    token_ids = sorted(set(token_ids))
    embeddings, output = model.get_input_embeddings(), model.get_output_embeddings()
    rows = {_name_of(model, embeddings): token_ids}
    if output is not None and output.weight is not embeddings.weight:  # untied: a tied one follows the input rows
        rows[_name_of(model, output)] = token_ids
    config = LoraConfig(
        r=r,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules="all-linear",  # peft leaves the output layer out of "all-linear"
        trainable_token_indices=rows,
        task_type="CAUSAL_LM",
    )
    with warnings.catch_warnings():  # peft reads transformers' deprecated is_gradient_checkpointing
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        return get_peft_model(model, config)


_WRAPPER_PARTS = re.compile(r"\.token_adapter\.base_layer|\.base_layer")


@torch.no_grad()
def merged_state(peft_model) -> dict:
    """The base model's state dict with the adapters folded in, under the base model's own key names."""
    base = peft_model.get_base_model()
    # Unmerging subtracts the adapters again and rounds; put the exact weights back instead, so a
    # run that saved a checkpoint continues exactly like one resumed from it.
    wrapped = {name: tensor.detach().cpu().clone() for name, tensor in base.state_dict().items() if "base_layer" in name}
    peft_model.merge_adapter()
    try:
        state = {}
        for name, tensor in base.state_dict().items():
            if "lora_" in name or "trainable_tokens_" in name:
                continue
            state[_WRAPPER_PARTS.sub("", name)] = tensor.detach().cpu().clone()
    finally:
        peft_model.unmerge_adapter()
        base.load_state_dict(wrapped, strict=False)
    return state


def trainable_state(model) -> dict:
    """The adapter weights only: what a LoRA run must keep to resume."""
    return {name: p.detach().cpu().clone() for name, p in model.named_parameters() if p.requires_grad}


@torch.no_grad()
def load_trainable_state(model, state: dict) -> None:
    parameters = dict(model.named_parameters())
    missing = set(state) - set(parameters)
    if missing:
        raise ValueError(f"the checkpoint's adapter has weights this model lacks: {sorted(missing)[:3]}")
    for name, tensor in state.items():
        parameters[name].copy_(tensor)
