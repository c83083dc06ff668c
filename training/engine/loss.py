"""The training loss: cross-entropy summed over the trained tokens, without full-vocabulary fp32 logits.

A causal LM's `forward` computes logits for every position of the batch, (batch, seq, vocab), and
the usual loss upcasts them to fp32: for a 128k vocabulary and 16k tokens a pass that is 8 GB before
any gradient. Here the decoder's hidden states are kept only at the positions that have a label
(assistant text and EOT), and the output layer runs on at most CHUNK_TOKENS of them at a time; each
chunk's logits are recomputed in the backward pass instead of being kept. On a GPU with Liger
installed, its fused linear cross-entropy (a Triton kernel doing the same) is used instead.

`CausalLMLoss` wraps the model so that FSDP / DDP wrap the whole computation: the root's parameters
(embeddings, final norm, output layer) are gathered for its forward like any layer's.
"""

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from training.engine.data import IGNORE_INDEX

CHUNK_TOKENS = 1024  # 1,024 x 128k vocabulary x 4 bytes = 0.5 GB of fp32 logits at a time


def liger_loss():
    """Liger's fused linear cross-entropy (reduction "sum"), or None when liger-kernel is not installed."""
    try:
        from liger_kernel.transformers import LigerFusedLinearCrossEntropyLoss
    except ImportError:
        return None
    return LigerFusedLinearCrossEntropyLoss(ignore_index=IGNORE_INDEX, reduction="sum")


def _chunk_loss(hidden: torch.Tensor, targets: torch.Tensor, output_layer: nn.Module) -> torch.Tensor:
    logits = output_layer(hidden).float()  # (chunk, vocab): fp32 for one chunk only
    return F.cross_entropy(logits, targets, reduction="sum")


def chunked_cross_entropy(hidden: torch.Tensor, targets: torch.Tensor, output_layer: nn.Module, chunk_tokens: int = CHUNK_TOKENS) -> torch.Tensor:
    """Sum over rows of cross_entropy(output_layer(hidden), targets); hidden (n, hidden), targets (n,).

    Equal to the loss on the full logits (to float rounding) with its gradients, while holding at
    most chunk_tokens rows of logits: each chunk is checkpointed, its logits rebuilt for backward.
    """
    if hidden.shape[0] <= chunk_tokens:  # one chunk: keeping its logits costs what recomputing would hold
        return _chunk_loss(hidden, targets, output_layer)
    total = None
    for start in range(0, hidden.shape[0], chunk_tokens):
        piece = checkpoint(_chunk_loss, hidden[start : start + chunk_tokens], targets[start : start + chunk_tokens], output_layer, use_reentrant=False)
        total = piece if total is None else total + piece
    return total


class CausalLMLoss(nn.Module):
    """forward(input_ids, labels, attention_mask | position_ids) -> cross-entropy summed over the labelled tokens."""

    def __init__(self, lm: nn.Module, chunk_tokens: int = CHUNK_TOKENS):
        super().__init__()
        self.lm = lm  # a transformers causal LM (peft's LoRA layers are injected into it in place)
        self.chunk_tokens = chunk_tokens
        self.fused = None  # Liger's loss, set by use_fused_loss on a GPU

    def use_fused_loss(self) -> bool:
        """Use Liger's kernel when it is installed and the output layer is a plain Linear (not a LoRA wrapper)."""
        if type(self.lm.get_output_embeddings()) is nn.Linear:
            self.fused = liger_loss()
        return self.fused is not None

    def forward(self, input_ids, labels, attention_mask=None, position_ids=None) -> torch.Tensor:
        decoder = self.lm.get_decoder()
        hidden = decoder(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, use_cache=False).last_hidden_state  # (batch, seq, hidden)
        targets = labels[:, 1:]  # token t predicts token t + 1
        keep = targets != IGNORE_INDEX
        hidden, targets = hidden[:, :-1][keep], targets[keep]  # (trained, hidden), (trained,)
        output_layer = self.lm.get_output_embeddings()
        if self.fused is not None:
            return self.fused(output_layer.weight, hidden, targets)
        return chunked_cross_entropy(hidden, targets, output_layer, self.chunk_tokens)
