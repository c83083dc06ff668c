"""Checkpoints: a weights-only folder per saved epoch, and the latest resume point.

    OUTPUT_DIR/checkpoint-epoch-05/            what people choose among, what generation loads
        config.json, generation_config.json      config "dtype": the base model's
        model-00001-of-0000N.safetensors, model.safetensors.index.json   (or one model.safetensors)
                                                 the weights in the base model's dtype (LoRA: merged), sharded
        tokenizer.json, tokenizer_config.json    with the chat tokens and a chat template that matches training
        recipe.json     the resolved recipe, base model, data file and hash, epoch, step, dropout per layer
        metrics.json    per-step loss / lr series and the mean loss of each epoch so far
    OUTPUT_DIR/resume-step-000123/             only the latest one is kept
        .metadata, __0_0.distcp, __1_0.distcp ...  torch.distributed.checkpoint: fp32 trainable weights and the
                                                 AdamW state, each rank writing its own shards
        trainer_state.json   step, epoch, steps done in it, scheduler, the epoch's loss so far
        recipe.json, metrics.json

An epoch checkpoint is about the model's size (bf16 weights of a bf16 model); only the resume point
carries the optimizer (fp32 weights + two moments, 6x a bf16 model), and there is one at a time. A
resume point is written at each epoch's end and every recipe.save_every_steps steps; the run deletes
it when it is done. Every rank writes its part (on several hosts OUTPUT_DIR must be shared storage);
rank 0 writes the small files. A folder is written as `.NAME.tmp` and renamed when complete, so a
killed run never leaves a half-written checkpoint that resume or the web app would pick up.
"""

import copy
import json
import re
import shutil
import warnings
from pathlib import Path

import torch
import torch.distributed.checkpoint as dcp
from torch.distributed.checkpoint import HuggingFaceStorageWriter

from training.engine.distributed import Context, barrier

_EPOCH = re.compile(r"^checkpoint-epoch-(\d+)$")
_RESUME = re.compile(r"^resume-step-(\d+)$")
TRAINER_STATE = "trainer_state.json"
SHARD_BYTES = 5 * 2**30  # safetensors files of at most 5 GiB (the Hub's usual size)



def _quiet(call, *args, **kwargs):
    """DCP in a single process warns that it assumes a single process: that is the intent."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="torch.distributed is disabled, unavailable or uninitialized")
        return call(*args, **kwargs)


def checkpoint_path(output_dir, epoch: int) -> Path:
    return Path(output_dir) / f"checkpoint-epoch-{epoch:02d}"


def resume_point_path(output_dir, step: int) -> Path:
    return Path(output_dir) / f"resume-step-{step:06d}"


def _complete(output_dir, pattern, marker: str) -> list[Path]:
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        return []
    found = [(int(m.group(1)), path) for path in output_dir.iterdir() if (m := pattern.match(path.name)) and (path / marker).is_file()]
    return [path for _, path in sorted(found)]


def list_checkpoints(output_dir) -> list[Path]:
    """Complete epoch checkpoints of output_dir, oldest epoch first."""
    return _complete(output_dir, _EPOCH, "recipe.json")


def list_resume_points(output_dir) -> list[Path]:
    return _complete(output_dir, _RESUME, TRAINER_STATE)


def last_resume_point(output_dir) -> Path | None:
    points = list_resume_points(output_dir)
    return points[-1] if points else None


def folder_bytes(path) -> int:
    return sum(file.stat().st_size for file in Path(path).rglob("*") if file.is_file())


def model_dtype(config) -> torch.dtype:
    """The dtype a model's weights are published in (config "dtype", once "torch_dtype"); fp32 if it says none."""
    dtype = getattr(config, "dtype", None) or getattr(config, "torch_dtype", None)
    if isinstance(dtype, str):
        dtype = getattr(torch, dtype, None)
    return dtype if isinstance(dtype, torch.dtype) else torch.float32


def _stage(path: Path, context: Context) -> Path:
    staging = path.with_name(f".{path.name}.tmp")
    if context.is_main:
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
    barrier(context)
    return staging


def _publish(staging: Path, path: Path, context: Context) -> Path:
    barrier(context)  # every rank has written its part
    if context.is_main:
        shutil.rmtree(path, ignore_errors=True)
        staging.rename(path)
    barrier(context)
    return path


def _write_json(folder: Path, name: str, value: dict) -> None:
    (folder / name).write_text(json.dumps(value, indent=2) + "\n")


def shard_plan(state: dict, shard_bytes: int = SHARD_BYTES) -> dict[str, int]:
    """Which file (1..N) each tensor goes to, in state-dict order, no file over shard_bytes unless one tensor is."""
    plan, index, size = {}, 1, 0
    for name, tensor in state.items():
        nbytes = tensor.numel() * tensor.element_size()  # a DTensor's numel is the whole tensor's
        if size and size + nbytes > shard_bytes:
            index, size = index + 1, 0
        plan[name] = index
        size += nbytes
    return plan


def save_weights(path, state: dict, config, generation_config, tokenizer, dtype: torch.dtype, recipe_info: dict, metrics: dict, context: Context, shard_bytes: int | None = None) -> Path:
    """Write an epoch checkpoint: `state` (this rank's part of the weights, under the model's own key names) in `dtype`."""
    path = Path(path)
    staging = _stage(path, context)
    state = {name: tensor.detach().to(dtype) for name, tensor in state.items()}
    # Several ranks each write their shards to staging/sharded; rank 0 then joins them into the
    # usual model-0000i-of-0000N.safetensors files with their index.
    writer = HuggingFaceStorageWriter(str(staging), fqn_to_index_mapping=shard_plan(state, shard_bytes or SHARD_BYTES), save_distributed=context.distributed, enable_consolidation=context.distributed)
    _quiet(dcp.save, state, storage_writer=writer)
    if context.is_main:
        shutil.rmtree(staging / "sharded", ignore_errors=True)
        files = sorted(staging.glob("model-*.safetensors"))
        if len(files) == 1:  # one file: save_pretrained's name for it, and no index
            files[0].rename(staging / "model.safetensors")
            (staging / "model.safetensors.index.json").unlink()
        config = copy.deepcopy(config)
        config.dtype = dtype
        config.save_pretrained(staging)
        if generation_config is not None:
            generation_config.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        _write_json(staging, "metrics.json", metrics)
        _write_json(staging, "recipe.json", recipe_info)  # last: a folder with recipe.json is complete
    return _publish(staging, path, context)


def save_resume_point(output_dir, step: int, state: dict, trainer_state: dict, recipe_info: dict, metrics: dict, context: Context) -> Path:
    """Write the resume point of `step` (every rank its shards), then delete the older ones."""
    path = resume_point_path(output_dir, step)
    staging = _stage(path, context)
    _quiet(dcp.save, state, checkpoint_id=str(staging))
    if context.is_main:
        _write_json(staging, "recipe.json", recipe_info)
        _write_json(staging, "metrics.json", metrics)
        _write_json(staging, TRAINER_STATE, trainer_state)
    _publish(staging, path, context)
    if context.is_main:
        for older in list_resume_points(output_dir):
            if older != path:
                shutil.rmtree(older, ignore_errors=True)
    return path


def load_resume_point(path, state: dict) -> dict:
    """Fill `state` (as distributed.resume_state made it) in place from the resume point; returns its trainer state."""
    _quiet(dcp.load, state, checkpoint_id=str(path))
    return load_json(path, TRAINER_STATE)


def remove_resume_points(output_dir, context: Context) -> None:
    """A finished run cannot be resumed: its optimizer state is only disk use."""
    barrier(context)
    if context.is_main:
        for path in list_resume_points(output_dir):
            shutil.rmtree(path, ignore_errors=True)


def without_tied_copy(model, state: dict) -> dict:
    """A state dict holds a tied output embedding as a separate key; the tie restores it on load."""
    config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    output = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if not getattr(config, "tie_word_embeddings", False) or output is None:
        return state
    names = [name for name, module in model.named_modules() if module is output]
    return {key: value for key, value in state.items() if not names or key != f"{names[0]}.weight"}


def load_json(path, name: str) -> dict:
    return json.loads((Path(path) / name).read_text())
