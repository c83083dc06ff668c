"""Checkpoint folders: one per epoch, written whole or not at all.

    OUTPUT_DIR/checkpoint-epoch-05/
        config.json, generation_config.json, model.safetensors   save_pretrained (LoRA: merged)
        tokenizer.json, tokenizer_config.json                      the tokenizer with the chat tokens
        recipe.json        the resolved recipe, base model, data file and hash, epoch, step
        metrics.json       per-step loss / lr series and the mean loss of each epoch so far
        trainer_state.pt   optimizer, scheduler, RNG states, epoch, step (LoRA: adapter weights): for resume

A folder is written as `.checkpoint-epoch-05.tmp` and renamed when complete, so a killed run never
leaves a half-written checkpoint that resume would pick up.
"""

import json
import re
import shutil
from pathlib import Path

import torch

_NAME = re.compile(r"^checkpoint-epoch-(\d+)$")
TRAINER_STATE = "trainer_state.pt"


def checkpoint_path(output_dir, epoch: int) -> Path:
    return Path(output_dir) / f"checkpoint-epoch-{epoch:02d}"


def list_checkpoints(output_dir) -> list[Path]:
    """Complete checkpoints of output_dir, oldest epoch first."""
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        return []
    found = [(int(m.group(1)), path) for path in output_dir.iterdir() if (m := _NAME.match(path.name)) and (path / TRAINER_STATE).is_file()]
    return [path for _, path in sorted(found)]


def last_checkpoint(output_dir) -> Path | None:
    checkpoints = list_checkpoints(output_dir)
    return checkpoints[-1] if checkpoints else None


def save_checkpoint(path: Path, model, model_state: dict, tokenizer, recipe_info: dict, metrics: dict, trainer_state: dict) -> Path:
    """Write a complete checkpoint folder at `path` (rank 0 only)."""
    path = Path(path)
    staging = path.with_name(f".{path.name}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    model.save_pretrained(staging, state_dict=_without_tied_copy(model, model_state))
    tokenizer.save_pretrained(staging)
    (staging / "recipe.json").write_text(json.dumps(recipe_info, indent=2) + "\n")
    (staging / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    torch.save(trainer_state, staging / TRAINER_STATE)
    shutil.rmtree(path, ignore_errors=True)
    staging.rename(path)
    return path


def _without_tied_copy(model, state: dict) -> dict:
    """A gathered state dict holds a tied output embedding as a separate copy; the tie restores it on load."""
    config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    output = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if not getattr(config, "tie_word_embeddings", False) or output is None:
        return state
    names = [name for name, module in model.named_modules() if module is output]
    return {key: value for key, value in state.items() if not names or key != f"{names[0]}.weight"}


def load_trainer_state(path: Path) -> dict:
    # Our own file, written by save_checkpoint; it holds RNG states (tensors) and plain Python values.
    return torch.load(Path(path) / TRAINER_STATE, map_location="cpu", weights_only=False)


def load_json(path: Path, name: str) -> dict:
    return json.loads((Path(path) / name).read_text())
