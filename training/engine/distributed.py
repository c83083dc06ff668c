"""One process or several under torchrun, on one host or many: process group, loading, wrapping, state dicts.

Under torchrun (RANK set in the environment, even with --nproc_per_node=1) the process group uses
NCCL on GPUs and gloo on CPU; each process drives the GPU of its LOCAL_RANK, so nothing assumes a
single host. Full fine-tuning shards each decoder layer with FSDP2 (fully_shard); LoRA trains a few
million parameters, so its ranks keep a whole model each under DDP.

The model is materialised once: rank 0 reads the weights, the other ranks build the same model on
the meta device (no memory) and receive their shards from rank 0 as it is wrapped (FSDP: a
broadcast of the full state dict, each rank keeping its shard; DDP: its own broadcast at start).
Checkpoints are written by every rank through torch.distributed.checkpoint (checkpoint.py).
"""

import ctypes
import os
import signal
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_state_dict,
    set_model_state_dict,
    set_state_dict,
)

from training.engine import chat


@dataclass(frozen=True)
class Context:
    rank: int
    world_size: int
    device: torch.device
    distributed: bool

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def die_with_launcher() -> None:
    """torchrun starts each rank in a session of its own, so killing torchrun's process group (a cancel)
    would leave the ranks training; on Linux a rank is killed when the process that started it dies."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: torchrun's own SIGTERM handling still stops its ranks


def setup() -> Context:
    if "RANK" not in os.environ:
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return Context(0, 1, device, False)
    if "TORCHELASTIC_RUN_ID" in os.environ:  # started by torchrun
        die_with_launcher()
    local_rank = int(os.environ.get("LOCAL_RANK", 0))  # the GPU on this host; RANK counts across hosts
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank)
        device, backend = torch.device("cuda", local_rank), "nccl"
    else:
        device, backend = torch.device("cpu"), "gloo"
    dist.init_process_group(backend)
    return Context(dist.get_rank(), dist.get_world_size(), device, True)


def teardown(context: Context) -> None:
    if context.distributed and dist.is_initialized():
        dist.destroy_process_group()


def barrier(context: Context) -> None:
    if context.distributed:
        dist.barrier()


def load_model(base_model: str, tokenizer, context: Context, attn_implementation: str | None = None) -> torch.nn.Module:
    """The base model in fp32 with the chat tokens: real on rank 0, on the meta device on the other ranks."""
    from transformers import AutoConfig, AutoModelForCausalLM

    options = {"attn_implementation": attn_implementation} if attn_implementation else {}
    if context.is_main:
        model = AutoModelForCausalLM.from_pretrained(base_model, dtype=torch.float32, **options)
        chat.add_chat_tokens(tokenizer, model)  # new rows initialised here, then broadcast
        return model
    from accelerate import init_empty_weights

    chat.add_chat_tokens(tokenizer)
    config = AutoConfig.from_pretrained(base_model)
    text_config = config.get_text_config()
    text_config.vocab_size = max(text_config.vocab_size, len(tokenizer))  # as rank 0's resize did
    # Buffers stay real (rotary frequencies are computed, not loaded); parameters take no memory.
    with init_empty_weights(include_buffers=False):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32, **options)
    model.tie_weights()  # empty-weight construction unties them
    model.config.pad_token_id = tokenizer.pad_token_id
    return model


def _to_empty(model: torch.nn.Module, device: torch.device) -> None:
    """Real (uninitialised) storage for a meta model's parameters; its computed buffers are kept."""
    buffers = {name: buffer.detach().clone() for name, buffer in model.named_buffers()}
    model.to_empty(device=device)
    for name, buffer in model.named_buffers():
        buffer.copy_(buffers[name])


def materialise(model: torch.nn.Module, context: Context) -> torch.nn.Module:
    """A meta model gets storage (for LoRA, whose adapters need real tensors); DDP fills it from rank 0."""
    if any(p.is_meta for p in model.parameters()):
        _to_empty(model, torch.device("cpu"))
        model.tie_weights()  # to_empty gives each module its own copy of a shared parameter
    return model


def wrap(model: torch.nn.Module, context: Context, layers, lora: bool, bf16: bool) -> torch.nn.Module:
    """The model on its device as the loop drives it: itself on one process, FSDP or DDP under torchrun."""
    if not context.distributed:
        return model.to(context.device)
    if lora:
        from torch.nn.parallel import DistributedDataParallel

        model.to(context.device)
        device_ids = [context.device.index] if context.device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=device_ids)  # broadcasts rank 0's weights and buffers
    from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

    full_state = model.state_dict() if context.is_main else {}  # rank 0's weights, sent to every rank below
    # Parameters stay fp32 (LIMA's 1e-5 steps vanish in bf16 weights); compute runs in bf16.
    policy = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32) if bf16 else MixedPrecisionPolicy()
    for layer in layers:
        fully_shard(layer, mp_policy=policy)
    fully_shard(model, mp_policy=policy)
    if not context.is_main:
        _to_empty(model, context.device)  # this rank's shards only
    set_model_state_dict(model, full_state, options=StateDictOptions(full_state_dict=True, broadcast_from_rank0=True))
    return model


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return model.module if isinstance(model, torch.nn.parallel.DistributedDataParallel) else model


def is_fsdp(model: torch.nn.Module) -> bool:
    from torch.distributed.fsdp import FSDPModule

    return isinstance(model, FSDPModule)


def sharded_model_state(model: torch.nn.Module) -> dict:
    """Each rank's part of the weights (DTensor shards under FSDP; whole tensors otherwise), for DCP to write."""
    return get_model_state_dict(model)


def resume_state(model: torch.nn.Module, optimizer: torch.optim.Optimizer, trainable_only: bool) -> dict:
    """What a resume point holds: the trainable weights and the optimizer state, as each rank holds them."""
    model_state, optimizer_state = get_state_dict(model, optimizer, options=StateDictOptions(ignore_frozen_params=trainable_only))
    return {"model": model_state, "optimizer": optimizer_state}


def load_resume_state(model: torch.nn.Module, optimizer: torch.optim.Optimizer, state: dict, trainable_only: bool) -> None:
    options = StateDictOptions(ignore_frozen_params=trainable_only, strict=not trainable_only)
    set_state_dict(model, optimizer, model_state_dict=state["model"], optim_state_dict=state["optimizer"], options=options)


def sum_across_ranks(values: list[float], context: Context) -> list[float]:
    if not context.distributed:
        return values
    tensor = torch.tensor(values, dtype=torch.float64, device=context.device)
    dist.all_reduce(tensor)
    return tensor.tolist()
