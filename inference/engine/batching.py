"""Continuous batching: a finished row leaves the batch at once and a waiting prompt takes its place.

With static batches (`model.generate` on 16 prompts) every row costs a decode step until the
longest answer ends; with LIMA's natural stopping most steps are then spent on finished rows. Here
the batch is the set of rows still generating: each step is one forward pass over all of them
(the same KV-cache decoding as `generate`), rows that emit a stop token or reach max_new_tokens are
removed, and new prompts are prefilled together and merged in, left-padded to the common length.
Each row gets its own positions (counted over its real tokens), so padding never shifts RoPE.

The loop is per step, never per row per token: selecting, padding and merging are tensor ops.
Works with transformers' DynamicCache of full-attention layers (the LLaMA family).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer


class _Rows:
    """The rows generating now: token history, attention mask and KV cache, aligned column for column."""

    def __init__(self, ids: torch.Tensor, mask: torch.Tensor, cache: DynamicCache, indices: list[int], new: torch.Tensor):
        self.ids = ids  # (rows, width): prompt + generated tokens, left-padded
        self.mask = mask  # (rows, width): 1 on real tokens
        self.cache = cache  # keys / values (rows, heads, width - 1, dim): every token but the last
        self.indices = indices  # which prompt each row answers
        self.new = new  # (rows,): tokens generated so far

    def __len__(self) -> int:
        return len(self.indices)


def _left_pad(rows: _Rows, columns: int, pad_id: int) -> None:
    if columns <= 0:
        return
    rows.ids = torch.nn.functional.pad(rows.ids, (columns, 0), value=pad_id)
    rows.mask = torch.nn.functional.pad(rows.mask, (columns, 0), value=0)
    for layer in rows.cache.layers:
        layer.keys = torch.nn.functional.pad(layer.keys, (0, 0, columns, 0))  # (rows, heads, seq, dim)
        layer.values = torch.nn.functional.pad(layer.values, (0, 0, columns, 0))


def _merge(active: _Rows | None, joining: _Rows, pad_id: int) -> _Rows:
    if active is None or not len(active):
        return joining
    _left_pad(active, joining.ids.shape[1] - active.ids.shape[1], pad_id)
    _left_pad(joining, active.ids.shape[1] - joining.ids.shape[1], pad_id)
    active.ids = torch.cat([active.ids, joining.ids])
    active.mask = torch.cat([active.mask, joining.mask])
    for mine, theirs in zip(active.cache.layers, joining.cache.layers):
        mine.keys = torch.cat([mine.keys, theirs.keys])
        mine.values = torch.cat([mine.values, theirs.values])
    active.indices = active.indices + joining.indices
    active.new = torch.cat([active.new, joining.new])
    return active


def _keep(rows: _Rows, keep: torch.Tensor) -> None:
    """Only the rows where `keep`; then drop the leading columns that are padding in every row left."""
    rows.ids, rows.mask, rows.new = rows.ids[keep], rows.mask[keep], rows.new[keep]
    rows.indices = [index for index, kept in zip(rows.indices, keep.tolist()) if kept]
    rows.cache.batch_select_indices(keep.nonzero().flatten())
    if not len(rows):
        return
    first = int(rows.mask.any(dim=0).int().argmax())  # first column someone still needs
    if first:
        rows.ids, rows.mask = rows.ids[:, first:], rows.mask[:, first:]
        for layer in rows.cache.layers:
            layer.keys, layer.values = layer.keys[:, :, first:], layer.values[:, :, first:]


def _positions(mask: torch.Tensor) -> torch.Tensor:
    """Each token's position among its row's real tokens (as generate computes them from the mask)."""
    return (mask.cumsum(-1) - 1).masked_fill(mask == 0, 1)


@torch.inference_mode()
def generate_continuously(
    model,
    prompts: list[list[int]],
    choose: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
    stop_ids: list[int],
    max_new_tokens: int,
    batch_size: int,
    pad_id: int,
    on_done: Callable[[int, list[int]], None] | None = None,
    on_step: Callable[[torch.Tensor], None] | None = None,
) -> list[list[int]]:
    """New token ids for each prompt (ids), the stop token included when one ended it.

    choose(history (rows, width), next-token logits (rows, vocab) in fp32, tokens generated so far (rows,))
    returns the next token of every row (rows,). on_done(prompt index, its new ids) is called as each finishes;
    on_step(tokens generated so far by each row still generating (rows,)) after every step (progress).
    """
    device = next(model.parameters()).device
    stops = torch.tensor(stop_ids, device=device)
    waiting = list(range(len(prompts)))
    results: list[list[int] | None] = [None] * len(prompts)
    active: _Rows | None = None
    while waiting or (active is not None and len(active)):
        running = len(active) if active is not None else 0
        free = batch_size - running
        # Refill in groups (a quarter of the batch, or all that wait): each prefill is a pass of its own.
        if waiting and (free >= min(max(batch_size // 4, 1), len(waiting)) or not running):
            joining, waiting = waiting[:free], waiting[free:]
            active = _merge(active, _prefill(model, [prompts[i] for i in joining], joining, choose, pad_id, device), pad_id)
        else:
            # one decode step for every row: the last token in, its logits out
            logits = model(
                input_ids=active.ids[:, -1:],
                attention_mask=active.mask,
                position_ids=_positions(active.mask)[:, -1:],
                past_key_values=active.cache,
                use_cache=True,
                logits_to_keep=1,
            ).logits[:, -1, :].float()  # (rows, vocab)
            token = choose(active.ids, logits, active.new)
            active.ids = torch.cat([active.ids, token[:, None]], dim=1)
            active.mask = torch.nn.functional.pad(active.mask, (0, 1), value=1)
            active.new = active.new + 1
        finished = torch.isin(active.ids[:, -1], stops) | (active.new >= max_new_tokens)
        if finished.any():
            for row in finished.nonzero().flatten().tolist():
                index, count = active.indices[row], int(active.new[row])
                results[index] = active.ids[row, -count:].tolist()
                if on_done is not None:
                    on_done(index, results[index])
            _keep(active, ~finished)
        if on_step is not None:
            on_step(active.new)
    return results  # type: ignore[return-value]


def _prefill(model, prompts: list[list[int]], indices: list[int], choose, pad_id: int, device) -> _Rows:
    """Run the new prompts (left-padded together) and draw their first tokens."""
    width = max(len(p) for p in prompts)
    ids = torch.tensor([[pad_id] * (width - len(p)) + p for p in prompts], device=device)  # (rows, width)
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=device)
    cache = DynamicCache(config=model.config)
    logits = model(input_ids=ids, attention_mask=mask, position_ids=_positions(mask), past_key_values=cache, use_cache=True, logits_to_keep=1).logits[:, -1, :].float()
    if not all(type(layer) is DynamicLayer for layer in cache.layers):
        raise ValueError("continuous batching needs full-attention cache layers (no sliding window)")
    new = torch.zeros(len(prompts), dtype=torch.long, device=device)
    token = choose(ids, logits, new)
    return _Rows(torch.cat([ids, token[:, None]], dim=1), torch.nn.functional.pad(mask, (0, 1), value=1), cache, list(indices), new + 1)
