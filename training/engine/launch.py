"""The command line that starts the engine: one process, or torchrun on one host or several.

    torchrun_command("run.json", nproc_per_node=8)                        # one host, 8 GPUs
    torchrun_command("run.json", 8, nnodes=2, node_rank=0, rdzv_endpoint="gpu-a:29500", rdzv_id="run-7")
    torchrun_command("run.json", 8, nnodes=2, node_rank=1, rdzv_endpoint="gpu-a:29500", rdzv_id="run-7")

On several hosts, each host runs the same command but for its node_rank; they meet at
rdzv_endpoint (host:port of any one of them, reachable from all) under rdzv_id (the same on all
hosts, distinct per run). The run.json, its data file, the base model and output_dir must be at the
same paths on every host, and output_dir on storage they share: every rank writes its part of each
checkpoint there, and rank 0 joins the parts (checkpoint.py). Ranks use LOCAL_RANK for their GPU.
"""

import sys


def engine_command(config_path) -> list[str]:
    """One process (CPU or one GPU)."""
    return [sys.executable, "-m", "training.engine", "--config", str(config_path)]


def torchrun_command(config_path, nproc_per_node: int, nnodes: int = 1, node_rank: int = 0, rdzv_endpoint: str | None = None, rdzv_id: str | None = None) -> list[str]:
    """PyTorch's launcher with nproc_per_node processes on this host: --standalone on one host, a
    c10d rendezvous at rdzv_endpoint on several."""
    if nproc_per_node < 1:
        raise ValueError(f"nproc_per_node must be >= 1, got {nproc_per_node}")
    if nnodes < 1 or not 0 <= node_rank < nnodes:
        raise ValueError(f"node_rank must be in [0, nnodes); got node_rank {node_rank} of {nnodes} node(s)")
    launcher = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc_per_node}"]
    if nnodes == 1:
        hosts = ["--standalone"]  # a local rendezvous on a free port
    else:
        if not rdzv_endpoint or not rdzv_id:
            raise ValueError("several nodes need rdzv_endpoint (host:port reachable from every node) and rdzv_id (the same on every node)")
        hosts = [f"--nnodes={nnodes}", f"--node_rank={node_rank}", "--rdzv_backend=c10d", f"--rdzv_endpoint={rdzv_endpoint}", f"--rdzv_id={rdzv_id}"]
    # No restarts: a failed rank fails the run, which the web app then offers to resume.
    return [*launcher, *hosts, "--max_restarts=0", "-m", "training.engine", "--config", str(config_path)]
