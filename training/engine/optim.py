"""LIMA's optimizer and learning-rate schedule.

LIMA: AdamW with beta1 = 0.9, beta2 = 0.95 and weight decay 0.1; "an initial learning rate of 1e-5,
linearly decaying to 1e-6 by the end of training", no warmup. The first step uses learning_rate and
the last step final_learning_rate exactly. LoRA runs follow the same shape from their own rate
(recipe.learning_rates). On CUDA the fused AdamW kernel updates all parameters in one launch.
"""

import torch
from torch.optim.lr_scheduler import LambdaLR

from training.engine.recipe import Recipe, learning_rates


def learning_rate_at(step_index: int, total_steps: int, recipe: Recipe) -> float:
    """The learning rate of optimizer step `step_index` (0-based) out of total_steps."""
    (start, end), warmup = learning_rates(recipe), recipe.warmup_steps
    if step_index < warmup:
        return start * (step_index + 1) / warmup
    span = total_steps - 1 - warmup
    if span <= 0:
        return start
    progress = min((step_index - warmup) / span, 1.0)
    return start + (end - start) * progress


def build_optimizer(model: torch.nn.Module, recipe: Recipe, device: torch.device | None = None) -> torch.optim.AdamW:
    """AdamW over the trainable parameters; no decay on biases and norm gains (1-D tensors)."""
    trainable = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in trainable if p.ndim >= 2], "weight_decay": recipe.weight_decay},
        {"params": [p for p in trainable if p.ndim < 2], "weight_decay": 0.0},
    ]
    groups = [group for group in groups if group["params"]]
    fused = device is not None and device.type == "cuda"
    return torch.optim.AdamW(groups, lr=learning_rates(recipe)[0], betas=(recipe.adam_beta1, recipe.adam_beta2), fused=fused or None)


def build_scheduler(optimizer: torch.optim.Optimizer, total_steps: int, recipe: Recipe) -> LambdaLR:
    first = learning_rates(recipe)[0]
    return LambdaLR(optimizer, lambda step: learning_rate_at(step, total_steps, recipe) / first)
