"""LIMA's residual dropout, added to a pretrained LLaMA-family model with forward hooks.

LIMA: "we apply dropout over residual connections, starting at p = 0.0 at the bottom layer and
linearly raising the rate to p = 0.3 at the last layer (p = 0.2 for smaller models)". The hooks
drop units of the attention and MLP outputs before the decoder layer adds them to the residual
stream, and only in train mode, so generation and evaluation are untouched.
"""

import torch.nn.functional as F
from torch import nn


class ResidualDropout:
    """A forward hook applying dropout with rate p to a module's output (or its first element)."""

    def __init__(self, p: float):
        self.p = p

    def __call__(self, module: nn.Module, inputs, output):
        if not module.training or self.p == 0:
            return None
        if isinstance(output, tuple):  # attention returns (hidden states, attention weights)
            return (F.dropout(output[0], self.p, training=True), *output[1:])
        return F.dropout(output, self.p, training=True)


def decoder_layers(model: nn.Module) -> nn.ModuleList:
    """The stack of decoder layers (each with self_attn and mlp) of a LLaMA-family model, wrapped or not."""
    for module in model.modules():
        if isinstance(module, nn.ModuleList) and len(module) and all(hasattr(layer, "self_attn") and hasattr(layer, "mlp") for layer in module):
            return module
    raise ValueError(f"residual dropout needs LLaMA-family decoder layers (with self_attn and mlp); found none in {type(model).__name__}")


def layer_rates(n_layers: int, top: float) -> list[float]:
    """0.0 at the bottom layer, rising linearly to `top` at the last."""
    if n_layers == 1:
        return [top]
    return [top * index / (n_layers - 1) for index in range(n_layers)]


def add_residual_dropout(model: nn.Module, top: float) -> list[float]:
    """Hook dropout onto every decoder layer's self_attn and mlp outputs; returns the rate of each layer."""
    layers = decoder_layers(model)
    rates = layer_rates(len(layers), top)
    for layer, rate in zip(layers, rates):
        hook = ResidualDropout(rate)
        layer.self_attn.register_forward_hook(hook)
        layer.mlp.register_forward_hook(hook)
    return rates
