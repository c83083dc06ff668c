"""One process or several under torchrun: process group, model wrapping, full state dicts.

Under torchrun (RANK set in the environment, even with --nproc_per_node=1) the process group uses
NCCL on GPUs and gloo on CPU. Full fine-tuning shards each decoder layer with FSDP (fully_shard);
LoRA trains a few million parameters, so its ranks keep a whole model each under DDP. Rank 0 prints
progress and writes checkpoints; every rank takes part in gathering the state dicts.
"""

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_optimizer_state_dict,
    set_optimizer_state_dict,
)

FULL = StateDictOptions(full_state_dict=True, cpu_offload=True)


@dataclass(frozen=True)
class Context:
    rank: int
    world_size: int
    device: torch.device
    distributed: bool

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup() -> Context:
    if "RANK" not in os.environ:
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return Context(0, 1, device, False)
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
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


def wrap(model: torch.nn.Module, context: Context, layers, lora: bool, bf16: bool) -> torch.nn.Module:
    """The model on its device as the loop drives it: itself on one process, FSDP or DDP under torchrun."""
    if not context.distributed:
        return model.to(context.device)
    if lora:
        from torch.nn.parallel import DistributedDataParallel

        model.to(context.device)
        device_ids = [context.device.index] if context.device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=device_ids)
    from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

    # Parameters stay fp32 (LIMA's 1e-5 steps vanish in bf16 weights); compute runs in bf16.
    policy = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32) if bf16 else MixedPrecisionPolicy()
    # Sharding moves each layer to the GPU in turn, so the whole model never sits on one device.
    for layer in layers:
        fully_shard(layer, mp_policy=policy)
    fully_shard(model, mp_policy=policy)
    return model


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return model.module if hasattr(model, "module") and isinstance(model, torch.nn.parallel.DistributedDataParallel) else model


def is_fsdp(model: torch.nn.Module) -> bool:
    from torch.distributed.fsdp import FSDPModule

    return isinstance(model, FSDPModule)


def full_model_state(model: torch.nn.Module) -> dict:
    """Every parameter and buffer, gathered whole on CPU (a collective under FSDP: all ranks call it)."""
    if is_fsdp(model):
        return get_model_state_dict(model, options=FULL)
    return {name: tensor.detach().cpu() for name, tensor in unwrap(model).state_dict().items()}


def full_optimizer_state(model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> dict:
    if is_fsdp(model):
        return get_optimizer_state_dict(model, optimizer, options=FULL)
    return optimizer.state_dict()


def load_optimizer_state(model: torch.nn.Module, optimizer: torch.optim.Optimizer, state: dict) -> None:
    if is_fsdp(model):
        set_optimizer_state_dict(model, optimizer, state, options=FULL)
    else:
        optimizer.load_state_dict(state)


def sum_across_ranks(values: list[float], context: Context) -> list[float]:
    if not context.distributed:
        return values
    tensor = torch.tensor(values, dtype=torch.float64, device=context.device)
    dist.all_reduce(tensor)
    return tensor.tolist()
