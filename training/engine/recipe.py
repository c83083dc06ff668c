"""The recipe: LIMA's fine-tuning hyper-parameters, each overridable by name.

Numbers come from "LIMA: Less Is More for Alignment" (Zhou et al., 2023), section 2 "Training
LIMA", summarised in ../shared/LIMA.md. Two values depend on the model's size ("auto"): LIMA used
batch 32 and top dropout 0.3 for its 65B model and "64 for smaller models" / "0.2 for smaller
models"; `resolve` picks them from the parameter count.
"""

import dataclasses
import difflib
import json
from dataclasses import dataclass

AUTO = "auto"
# LIMA's "smaller models" are its 7B ablation models against the 65B one; anything under this
# parameter count counts as small (LLaMA sizes: 7B, 13B, 33B | 65B).
SMALL_MODEL_PARAMETERS = 50e9


@dataclass(frozen=True)
class Recipe:
    epochs: int = 15  # LIMA: "fine-tune for 15 epochs"
    learning_rate: float = 1e-5  # LIMA: "initial learning rate of 1e-5 ... linearly decaying"
    final_learning_rate: float = 1e-6  # LIMA: "... to 1e-6 by the end of training"
    warmup_steps: int = 0  # LIMA: "without warmup steps"
    adam_beta1: float = 0.9  # LIMA: AdamW with beta1 = 0.9
    adam_beta2: float = 0.95  # LIMA: beta2 = 0.95
    weight_decay: float = 0.1  # LIMA: weight decay 0.1
    max_grad_norm: float = 1.0  # not in LIMA: the usual guard against a bad batch (transformers' default); 0 = off
    batch_size: int | str = AUTO  # examples per optimizer step; auto: LIMA's 32, or 64 for smaller models
    micro_batch_size: int = 8  # examples per forward pass (per device); accumulation reaches batch_size
    max_length: int = 2048  # LIMA: "texts longer than 2048 tokens are trimmed"
    # Not in LIMA, which only says "trimmed": a response cut at max_length keeps its tokens trained but
    # gets no EOT (else the model learns to stop mid-sentence); "drop" leaves such examples out.
    overlong: str = "cut"
    residual_dropout: float | str = AUTO  # dropout at the top layer; auto: LIMA's 0.3, or 0.2 for smaller models
    seed: int = 42  # data order, dropout masks, LoRA initialisation
    # Steps are drawn at random (LIMA's mix in every step); grouping only sorts a step's examples into
    # micro-batches of similar length, which cuts padding and changes nothing that is learned.
    length_grouping: bool = True
    # Padding-free micro-batches: a step's examples laid end to end, positions restarting per example and
    # no attention across them. auto: on a GPU with flash-attention (varlen kernels), off elsewhere (the
    # CPU path masks a block-diagonal attention, correct but quadratic in the packed length).
    packing: bool | str = AUTO
    lora: bool = False  # LIMA fine-tunes all weights; LoRA (peft) is the cheap option
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.0  # residual dropout already regularises
    # NOT LIMA's value (LIMA never used LoRA): LoRA practice is 10-20x the full fine-tuning rate, here
    # 20 x LIMA's 1e-5; it decays by LIMA's ratio (final_learning_rate / learning_rate) to 2e-5. At 1e-5
    # the new chat tokens' rows hardly move in a whole run and the model never learns to stop.
    lora_learning_rate: float = 2e-4
    save_from_epoch: int = 5  # LIMA chooses the checkpoint by hand "between the 5th and the 10th epochs"
    # Not in LIMA: a resume point (weights + optimizer state) every N optimizer steps, besides the one at
    # each epoch's end; 0 = epochs only (LIMA's 1,030 examples at batch 64 make 17 steps an epoch).
    save_every_steps: int = 0
    # auto: on GPU, off on CPU; "selective" keeps matmul and attention outputs and recomputes only the
    # cheap element-wise ops (norms, activations, rotary, dropout): less recompute, more memory.
    gradient_checkpointing: bool | str = AUTO
    bf16: bool | str = AUTO  # auto: bf16 autocast on a GPU that supports it, fp32 elsewhere
    compile: bool = False  # torch.compile each decoder layer: faster steps on GPU after a slow first one

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)


class RecipeError(ValueError):
    pass


_FIELDS = {field.name: field for field in dataclasses.fields(Recipe)}
_AUTO_FIELDS = {"batch_size", "residual_dropout", "gradient_checkpointing", "bf16", "packing"}
SELECTIVE = "selective"
# The values a text field accepts (a form offers them as choices); bool fields also take "auto" where
# their default is "auto", and gradient_checkpointing takes "selective" too.
CHOICES = {
    "overlong": ("cut", "drop"),
    "gradient_checkpointing": (AUTO, True, False, SELECTIVE),
    "bf16": (AUTO, True, False),
    "packing": (AUTO, True, False),
}


def _coerce(name: str, value):
    """A value of the field's type; strings are accepted as typed on a command line or a form."""
    kind = type(getattr(Recipe(), name)) if name not in _AUTO_FIELDS else None
    if kind is str:
        if value not in CHOICES[name]:
            raise RecipeError(f"recipe key {name!r}: expected one of {', '.join(CHOICES[name])}, got {value!r}")
        return value
    if name in _AUTO_FIELDS:
        if value == AUTO:
            return AUTO
        if name == "gradient_checkpointing" and value == SELECTIVE:
            return SELECTIVE
        kind = {"batch_size": int, "residual_dropout": float}.get(name, bool)
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "1", "yes", "on", "false", "0", "no", "off"):
            return value.strip().lower() in ("true", "1", "yes", "on")
        raise RecipeError(f"recipe key {name!r}: expected true or false, got {value!r}")
    try:
        if kind is int:
            number = float(value)
            if not number.is_integer() or isinstance(value, bool):
                raise ValueError
            return int(number)
        if isinstance(value, bool):
            raise ValueError
        return float(value)
    except (TypeError, ValueError):
        raise RecipeError(f"recipe key {name!r}: expected {'an integer' if kind is int else 'a number'}, got {value!r}") from None


def _check(recipe: Recipe) -> None:
    def require(condition, name, rule):
        if not condition:
            raise RecipeError(f"recipe key {name!r} must be {rule}, got {getattr(recipe, name)!r}")

    require(recipe.epochs >= 1, "epochs", ">= 1")
    require(recipe.learning_rate > 0, "learning_rate", "> 0")
    require(recipe.final_learning_rate >= 0, "final_learning_rate", ">= 0")
    require(recipe.warmup_steps >= 0, "warmup_steps", ">= 0")
    require(0 <= recipe.adam_beta1 < 1, "adam_beta1", "in [0, 1)")
    require(0 <= recipe.adam_beta2 < 1, "adam_beta2", "in [0, 1)")
    require(recipe.weight_decay >= 0, "weight_decay", ">= 0")
    require(recipe.max_grad_norm >= 0, "max_grad_norm", ">= 0")
    require(recipe.batch_size == AUTO or recipe.batch_size >= 1, "batch_size", "'auto' or >= 1")
    require(recipe.micro_batch_size >= 1, "micro_batch_size", ">= 1")
    require(recipe.max_length >= 16, "max_length", ">= 16")
    require(recipe.residual_dropout == AUTO or 0 <= recipe.residual_dropout < 1, "residual_dropout", "'auto' or in [0, 1)")
    require(recipe.lora_r >= 1, "lora_r", ">= 1")
    require(recipe.lora_alpha > 0, "lora_alpha", "> 0")
    require(0 <= recipe.lora_dropout < 1, "lora_dropout", "in [0, 1)")
    require(recipe.save_from_epoch >= 1, "save_from_epoch", ">= 1")
    require(recipe.save_every_steps >= 0, "save_every_steps", ">= 0")
    require(recipe.lora_learning_rate > 0, "lora_learning_rate", "> 0")


def learning_rates(recipe: Recipe) -> tuple[float, float]:
    """(first, last) learning rate of the run: LIMA's for full fine-tuning; for LoRA its own rate,
    decaying by LIMA's ratio."""
    if not recipe.lora:
        return recipe.learning_rate, recipe.final_learning_rate
    return recipe.lora_learning_rate, recipe.lora_learning_rate * recipe.final_learning_rate / recipe.learning_rate


def from_overrides(overrides: dict | None = None, base: Recipe | None = None) -> Recipe:
    """LIMA's recipe with `overrides` applied by name; an unknown name or a bad value raises RecipeError."""
    overrides = dict(overrides or {})
    unknown = [name for name in overrides if name not in _FIELDS]
    if unknown:
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(str(name), _FIELDS, n=1)
            hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise RecipeError(f"unknown recipe key(s): {', '.join(hints)}; known keys: {', '.join(_FIELDS)}")
    values = {name: _coerce(name, value) for name, value in overrides.items()}
    recipe = dataclasses.replace(base or Recipe(), **values)
    _check(recipe)
    return recipe


def resolve(recipe: Recipe, parameters: int, on_gpu: bool, bf16_supported: bool = True, varlen_attention: bool = False) -> Recipe:
    """The recipe with every "auto" replaced by its value for this model and device."""
    small = parameters < SMALL_MODEL_PARAMETERS
    resolved = {
        "packing": (on_gpu and varlen_attention) if recipe.packing == AUTO else recipe.packing,
        "batch_size": (64 if small else 32) if recipe.batch_size == AUTO else recipe.batch_size,
        "residual_dropout": (0.2 if small else 0.3) if recipe.residual_dropout == AUTO else recipe.residual_dropout,
        "gradient_checkpointing": on_gpu if recipe.gradient_checkpointing == AUTO else recipe.gradient_checkpointing,
        "bf16": (on_gpu and bf16_supported) if recipe.bf16 == AUTO else recipe.bf16,
    }
    return dataclasses.replace(recipe, **resolved)
