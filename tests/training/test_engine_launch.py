"""The engine's command lines: one process, torchrun on one host (--standalone), torchrun across hosts."""

import sys

import pytest

from training.engine.launch import engine_command, torchrun_command

ENGINE = ["-m", "training.engine", "--config", "runs/7/run.json"]


def test_one_process_runs_the_engine_module():
    assert engine_command("runs/7/run.json") == [sys.executable, *ENGINE]


def test_one_host_is_standalone():
    assert torchrun_command("runs/7/run.json", nproc_per_node=4) == [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=4", "--standalone", "--max_restarts=0", *ENGINE,
    ]


def test_several_hosts_meet_at_a_rendezvous_and_are_never_standalone():
    command = torchrun_command("runs/7/run.json", 8, nnodes=2, node_rank=1, rdzv_endpoint="gpu-a:29500", rdzv_id="lima-run-7")
    assert "--standalone" not in command
    assert command == [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=8", "--nnodes=2", "--node_rank=1",
        "--rdzv_backend=c10d", "--rdzv_endpoint=gpu-a:29500", "--rdzv_id=lima-run-7", "--max_restarts=0", *ENGINE,
    ]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"nproc_per_node": 0}, "nproc_per_node must be >= 1"),
        ({"nproc_per_node": 2, "nnodes": 2, "node_rank": 2, "rdzv_endpoint": "h:1", "rdzv_id": "x"}, "node_rank must be in"),
        ({"nproc_per_node": 2, "nnodes": 2, "node_rank": 0}, "rdzv_endpoint"),
        ({"nproc_per_node": 2, "nnodes": 2, "node_rank": 0, "rdzv_endpoint": "h:1"}, "rdzv_id"),
    ],
)
def test_a_bad_layout_is_refused_with_its_reason(arguments, message):
    with pytest.raises(ValueError, match=message):
        torchrun_command("run.json", **arguments)


def test_torchrun_accepts_the_multi_node_flags():
    # torchrun's own parser, without starting anything
    from torch.distributed.run import get_args_parser

    command = torchrun_command("run.json", 2, nnodes=3, node_rank=2, rdzv_endpoint="10.0.0.1:29400", rdzv_id="r")
    arguments = get_args_parser().parse_args(command[3:])
    assert (arguments.nnodes, arguments.node_rank, arguments.rdzv_endpoint, arguments.rdzv_id, arguments.max_restarts) == ("3", 2, "10.0.0.1:29400", "r", 0)
    assert arguments.module and arguments.training_script == "training.engine" and arguments.training_script_args == ["--config", "run.json"]
