"""Whole runs of the engine on the tiny model: checkpoints, falling loss, determinism, invariance, resume, LoRA, CLI."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer

from training.engine import __main__ as cli
from training.engine import chat, checkpoint
from training.engine.config import RunConfig
from training.engine.train import TrainingError, train

REPO = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "fixtures" / "engine_chats.jsonl"
# A learning rate LIMA would never use: a randomly initialised tiny model must move visibly in 9 steps.
RECIPE = {"epochs": 3, "batch_size": 8, "micro_batch_size": 4, "learning_rate": 3e-3, "final_learning_rate": 3e-4, "save_from_epoch": 1}


class Crash(Exception):
    pass


class Events(list):
    """The events of a run; `crash_after(event, step)` makes the run die right after that event."""

    def __init__(self, crash_at=None):
        super().__init__()
        self.crash_at = crash_at

    def __call__(self, event, **fields):
        self.append({"event": event, **fields})
        if self.crash_at == (event, fields.get("step")):
            raise Crash(f"killed after {event} of step {fields.get('step')}")

    def of(self, kind):
        return [e for e in self if e["event"] == kind]


def _run(base, out, recipe=RECIPE, resume=False, data=DATA, crash_at=None):
    events = Events(crash_at)
    try:
        train(RunConfig(str(base), str(data), str(out), dict(recipe), resume), emit=events)
    except Crash:
        assert crash_at is not None
    return events


def _weights(checkpoint_dir):
    """All tensors of a checkpoint folder's safetensors files (sharded or not)."""
    weights = {}
    for file in sorted(Path(checkpoint_dir).glob("*.safetensors")):
        weights.update(load_file(file))
    return weights


def assert_same_weights(actual: dict, expected: dict, learning_rate: float) -> None:
    """Equal to fp32 rounding as AdamW amplifies it: a gradient near 0 is divided by its own root mean
    square, so its rounding can move that one weight by a small share of the learning rate. Nearly
    every weight must agree to 1e-6 (all but 0.1 %: two ranks resumed in one process left 38 of 115,008 apart
    on one CPU, under 12 on another), none by more than 1 % of a step."""
    torch.testing.assert_close(actual, expected, rtol=1e-4, atol=learning_rate / 100)
    off = sum(int(((actual[k] - expected[k]).abs() > 1e-6 + 1e-4 * expected[k].abs()).sum()) for k in expected)
    assert off <= 1e-3 * sum(t.numel() for t in expected.values()), f"{off} weights differ by more than 1e-6"


@pytest.fixture(scope="module")
def reference(tiny_model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("reference") / "out"
    return out, _run(tiny_model_dir, out)


def test_a_short_run_writes_a_checkpoint_per_epoch_and_the_loss_falls(reference, tiny_model_dir):
    out, events = reference
    kinds = [e["event"] for e in events if e["event"] != "step"]
    assert kinds == ["start"] + ["epoch_end", "resume_point", "checkpoint"] * 2 + ["epoch_end", "checkpoint", "done"]
    start, done = events.of("start")[0], events.of("done")[0]
    assert start["total_steps"] == 9 and start["examples"] == 24
    assert start["residual_dropout_by_layer"] == [0.0, 0.2]  # LIMA's 0.2 for smaller models
    assert start["source_token_share"] == {"unknown": 1.0} and start["dropped"] == 0 and start["model_dtype"] == "float32"
    losses = [e["mean_loss"] for e in events.of("epoch_end")]
    assert losses[0] > losses[1] > losses[2]
    assert done["loss"] == losses
    assert done["checkpoints"] == [str(out / f"checkpoint-epoch-0{epoch}") for epoch in (1, 2, 3)]
    for step in events.of("step"):
        assert step["tokens_per_s"] > 0 and step["eta_s"] >= 0 and step["memory_mb"] > 0 and 0 <= step["padding_share"] < 1
    # the checkpoint is a normal model folder, weights only, with the recipe and metrics beside it
    last = Path(done["checkpoints"][-1])
    names = {p.name for p in last.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "recipe.json", "metrics.json"} <= names
    assert not any(name.endswith((".pt", ".distcp")) for name in names)  # no optimizer state in an epoch checkpoint
    for event in events.of("checkpoint"):
        assert event["bytes"] == checkpoint.folder_bytes(event["path"]) and event["dtype"] == "float32"
    model = AutoModelForCausalLM.from_pretrained(last)
    tokenizer = AutoTokenizer.from_pretrained(last)
    assert chat.eot_id(tokenizer) in model.generation_config.eos_token_id
    recipe = json.loads((last / "recipe.json").read_text())
    assert (recipe["epoch"], recipe["step"], recipe["base_model"]) == (3, 9, str(tiny_model_dir))
    assert recipe["recipe"]["batch_size"] == 8 and recipe["recipe"]["adam_beta2"] == 0.95
    assert json.loads((last / "metrics.json").read_text())["epoch_loss"] == losses
    # a finished run keeps no resume point (nothing can resume it) and no staging folder
    assert not any(p.name.startswith((".", "resume-")) for p in out.iterdir())


def test_the_first_step_runs_at_the_initial_rate_and_the_last_at_the_final_one(reference):
    steps = reference[1].of("step")
    assert steps[0]["lr"] == pytest.approx(3e-3)
    assert steps[-1]["lr"] == pytest.approx(3e-4)


def test_two_runs_with_the_same_seed_give_the_same_losses_and_weights(reference, tiny_model_dir, tmp_path):
    out, events = reference
    again = _run(tiny_model_dir, tmp_path / "again")
    torch.testing.assert_close([e["loss"] for e in again.of("step")], [e["loss"] for e in events.of("step")])
    torch.testing.assert_close(_weights(tmp_path / "again" / "checkpoint-epoch-03"), _weights(out / "checkpoint-epoch-03"))


def test_resume_from_an_epochs_resume_point_continues_exactly_like_an_uninterrupted_run(reference, tiny_model_dir, tmp_path):
    # given a run that died right after the checkpoint of epoch 2
    out, events = reference
    crashed = _run(tiny_model_dir, tmp_path / "out", crash_at=("checkpoint", 6))
    assert [p.name for p in checkpoint.list_resume_points(tmp_path / "out")] == ["resume-step-000006"]  # the latest only
    assert crashed.of("resume_point")[-1]["bytes"] > 2 * crashed.of("checkpoint")[-1]["bytes"]  # weights + AdamW moments
    # when it resumes
    resumed = _run(tiny_model_dir, tmp_path / "out", resume=True)
    # then it trains only epoch 3, exactly as the uninterrupted run did
    start = resumed.of("start")[0]
    assert start["resumed_from"] == str(tmp_path / "out" / "resume-step-000006") and start["start_step"] == 6
    assert [e["step"] for e in resumed.of("step")] == [7, 8, 9]
    assert [e["loss"] for e in resumed.of("step")] == [e["loss"] for e in events.of("step")][6:]
    torch.testing.assert_close(_weights(tmp_path / "out" / "checkpoint-epoch-03"), _weights(out / "checkpoint-epoch-03"), rtol=0, atol=0)
    assert resumed.of("done")[0]["loss"] == events.of("done")[0]["loss"]
    assert resumed.of("done")[0]["checkpoints"] == [str(tmp_path / "out" / f"checkpoint-epoch-0{e}") for e in (1, 2, 3)]


def test_resume_from_a_mid_epoch_step_point_is_bit_exact(reference, tiny_model_dir, tmp_path):
    # given a run with a resume point every 2 steps (3 steps an epoch), killed after the one of step 4
    out, events = reference
    recipe = {**RECIPE, "save_every_steps": 2}
    crashed = _run(tiny_model_dir, tmp_path / "out", recipe, crash_at=("resume_point", 4))
    assert [e["step"] for e in crashed.of("resume_point")] == [2, 3, 4]  # every 2 steps, and each epoch's end
    assert [e["step"] for e in crashed.of("step")] == [1, 2, 3, 4]  # step 4 is the first of epoch 2
    # when it resumes (dropout is on: its masks must replay too)
    resumed = _run(tiny_model_dir, tmp_path / "out", recipe, resume=True)
    # then steps 5..9, their losses, the epoch means and the final weights are the uninterrupted run's, to the bit
    assert resumed.of("start")[0]["start_step"] == 4
    assert [e["loss"] for e in resumed.of("step")] == [e["loss"] for e in events.of("step")][4:]
    assert [e["mean_loss"] for e in resumed.of("epoch_end")] == [e["mean_loss"] for e in events.of("epoch_end")][1:]
    torch.testing.assert_close(_weights(tmp_path / "out" / "checkpoint-epoch-03"), _weights(out / "checkpoint-epoch-03"), rtol=0, atol=0)


def test_a_new_run_refuses_an_output_folder_that_holds_checkpoints(reference, tiny_model_dir):
    with pytest.raises(TrainingError, match="already holds checkpoints"):
        _run(tiny_model_dir, reference[0])
    with pytest.raises(TrainingError, match="holds a finished run"):
        _run(tiny_model_dir, reference[0], resume=True)


def test_resume_refuses_other_data_or_another_schedule(tiny_model_dir, tmp_path):
    _run(tiny_model_dir, tmp_path / "out", crash_at=("resume_point", 3))
    with pytest.raises(TrainingError, match="the recipe differs in epochs, learning_rate"):
        _run(tiny_model_dir, tmp_path / "out", {**RECIPE, "epochs": 4, "learning_rate": 1e-3}, resume=True)
    other = tmp_path / "other.jsonl"
    other.write_text(DATA.read_text().replace("Seven.", "Eleven."))
    with pytest.raises(TrainingError, match="is not the data it was trained on"):
        _run(tiny_model_dir, tmp_path / "out", resume=True, data=other)


@pytest.mark.parametrize(
    "layout",
    [{"micro_batch_size": 3}, {"micro_batch_size": 3, "length_grouping": False}, {"micro_batch_size": 1, "length_grouping": False}, {"packing": True}, {"packing": True, "micro_batch_size": 1}],
    ids=["micro-3-grouped", "micro-3-ungrouped", "micro-1", "packed", "packed-in-256-token-passes"],
)
def test_the_weights_do_not_depend_on_how_a_step_is_split_into_passes(tiny_model_dir, tmp_path, layout):
    # no dropout: its masks depend on the shapes of the passes
    recipe = {**RECIPE, "epochs": 1, "residual_dropout": 0.0, "max_length": 256}
    whole = _run(tiny_model_dir, tmp_path / "whole", {**recipe, "micro_batch_size": 8, "length_grouping": False})
    split = _run(tiny_model_dir, tmp_path / "split", {**recipe, **layout})
    torch.testing.assert_close([e["loss"] for e in split.of("step")], [e["loss"] for e in whole.of("step")], rtol=1e-5, atol=1e-6)
    assert_same_weights(_weights(tmp_path / "split" / "checkpoint-epoch-01"), _weights(tmp_path / "whole" / "checkpoint-epoch-01"), RECIPE["learning_rate"])
    if layout.get("packing"):
        assert {e["padding_share"] for e in split.of("step")} == {0.0}
        assert min(e["padding_share"] for e in whole.of("step")) > 0.1


def test_a_lora_run_trains_adapters_and_saves_a_merged_model(tiny_model_dir, tmp_path):
    events = _run(tiny_model_dir, tmp_path / "lora", {**RECIPE, "epochs": 2, "lora": True, "lora_r": 4, "lora_learning_rate": 3e-3})
    start = events.of("start")[0]
    assert 0 < start["trainable_parameters"] < start["parameters"] / 2
    assert events.of("step")[0]["lr"] == pytest.approx(3e-3)  # LoRA's own rate, not learning_rate
    assert events.of("step")[-1]["lr"] == pytest.approx(3e-4)  # ... decaying by LIMA's ratio
    losses = [e["mean_loss"] for e in events.of("epoch_end")]
    assert losses[1] < losses[0]
    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "lora" / "checkpoint-epoch-02")
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    assert merged.config.model_type == "llama" and set(merged.state_dict()) == set(base.state_dict())
    q = "model.layers.1.self_attn.q_proj.weight"
    assert not torch.allclose(merged.state_dict()[q], base.state_dict()[q])
    # only the chat tokens' embedding rows were trained
    changed_rows = (merged.state_dict()["model.embed_tokens.weight"] != base.state_dict()["model.embed_tokens.weight"]).any(dim=1)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    assert set(changed_rows.nonzero().flatten().tolist()) <= {tokenizer.convert_tokens_to_ids(t) for t in chat.SPECIAL_TOKENS}


def test_a_lora_run_resumes_from_a_mid_epoch_point_exactly(tiny_model_dir, tmp_path):
    recipe = {**RECIPE, "epochs": 2, "lora": True, "lora_r": 4, "lora_learning_rate": 3e-3, "save_every_steps": 2}
    whole = _run(tiny_model_dir, tmp_path / "whole", recipe)
    _run(tiny_model_dir, tmp_path / "out", recipe, crash_at=("resume_point", 2))
    resumed = _run(tiny_model_dir, tmp_path / "out", recipe, resume=True)
    assert [e["loss"] for e in resumed.of("step")] == [e["loss"] for e in whole.of("step")][2:]
    torch.testing.assert_close(_weights(tmp_path / "out" / "checkpoint-epoch-02"), _weights(tmp_path / "whole" / "checkpoint-epoch-02"), rtol=0, atol=0)


def test_the_gpu_settings_bf16_and_gradient_checkpointing_also_run_on_cpu(tiny_model_dir, tmp_path):
    events = _run(tiny_model_dir, tmp_path / "gpu", {**RECIPE, "epochs": 2, "bf16": True, "gradient_checkpointing": True})
    recipe = events.of("start")[0]["recipe"]
    assert recipe["bf16"] is True and recipe["gradient_checkpointing"] is True
    losses = [e["mean_loss"] for e in events.of("epoch_end")]
    assert losses[1] < losses[0]
    weights = _weights(tmp_path / "gpu" / "checkpoint-epoch-02")
    assert {tensor.dtype for tensor in weights.values()} == {torch.float32}  # the model's own dtype: fp32


@pytest.mark.parametrize("mode", [True, "selective"])
def test_activation_checkpointing_full_or_selective_changes_no_number(reference, tiny_model_dir, tmp_path, mode):
    # dropout on: recomputed activations must replay the same masks
    events = _run(tiny_model_dir, tmp_path / "ckpt", {**RECIPE, "gradient_checkpointing": mode})
    torch.testing.assert_close([e["loss"] for e in events.of("step")], [e["loss"] for e in reference[1].of("step")], rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(_weights(tmp_path / "ckpt" / "checkpoint-epoch-03"), _weights(reference[0] / "checkpoint-epoch-03"), rtol=1e-5, atol=1e-6)


def test_epoch_checkpoints_keep_a_bf16_models_dtype_and_size_and_shard_big_weights(tiny_model_dir, tmp_path, monkeypatch):
    # given a base model published in bf16
    base = tmp_path / "bf16-model"
    AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.bfloat16).save_pretrained(base)
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(base)
    model_bytes = sum(f.stat().st_size for f in base.glob("*.safetensors"))
    monkeypatch.setattr(checkpoint, "SHARD_BYTES", model_bytes // 3)
    # when it is fine-tuned (fp32 master weights)
    events = _run(base, tmp_path / "out", {**RECIPE, "epochs": 2})
    # then each epoch checkpoint is bf16 weights only, in several files, about the model's size
    folder = tmp_path / "out" / "checkpoint-epoch-02"
    files = sorted(p.name for p in folder.glob("*.safetensors"))
    assert len(files) >= 3 and files[0] == f"model-00001-of-{len(files):05d}.safetensors"
    assert {t.dtype for t in _weights(folder).values()} == {torch.bfloat16}
    weights_bytes = sum((folder / f).stat().st_size for f in files)
    assert weights_bytes <= 1.05 * model_bytes
    assert events.of("checkpoint")[-1]["dtype"] == "bfloat16"
    reloaded = AutoModelForCausalLM.from_pretrained(folder)
    assert reloaded.dtype == torch.bfloat16
    # the resume point keeps fp32 weights and the optimizer's moments, far more than the model
    assert events.of("resume_point")[0]["bytes"] > 5 * model_bytes


def test_the_cli_reports_a_bad_config_as_one_error_line(tmp_path, capsys):
    config = tmp_path / "run.json"
    config.write_text(json.dumps({"base_model": "m", "data": "d.jsonl", "output_dir": "o", "recipe": {"epochz": 3}}))
    assert cli.main(["--config", str(config)]) == 1
    error = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert error["event"] == "error" and "unknown recipe key(s): 'epochz'" in error["message"] and str(config) in error["message"]


def _json_lines(text: str) -> list[dict]:
    """The protocol: consumers skip lines that are not JSON objects (warnings, progress bars)."""
    events = []
    for line in text.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and "event" in event:
            events.append(event)
    return events


def _environment():
    return {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


@pytest.mark.slow
def test_a_killed_cli_run_resumes_from_its_last_checkpoint(reference, tiny_model_dir, tmp_path):
    # given the CLI running a job, killed (process group and all) once its first checkpoint is written
    config = tmp_path / "run.json"
    config.write_text(json.dumps({"base_model": str(tiny_model_dir), "data": str(DATA), "output_dir": str(tmp_path / "out"), "recipe": RECIPE}))
    command = [sys.executable, "-m", "training.engine", "--config", str(config)]
    process = subprocess.Popen(command, cwd=REPO, env=_environment(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    seen = []
    for line in process.stdout:
        seen += _json_lines(line)
        if seen and seen[-1]["event"] == "checkpoint":
            os.killpg(process.pid, signal.SIGKILL)
            break
    process.wait(timeout=60)
    assert seen[0]["event"] == "start" and seen[-1]["path"].endswith("checkpoint-epoch-01")
    # when it is started again with --resume
    finished = subprocess.run(command + ["--resume"], cwd=REPO, env=_environment(), capture_output=True, text=True, timeout=120)
    # then it finishes from step 4 with the uninterrupted run's losses
    assert finished.returncode == 0, finished.stderr[-2000:]
    events = _json_lines(finished.stdout)
    assert events[0]["start_step"] >= 3 and events[-1]["event"] == "done"
    assert "Invalid -W option" not in finished.stderr and "Traceback" not in finished.stderr
    torch.testing.assert_close(events[-1]["loss"], reference[1].of("done")[0]["loss"])


@pytest.mark.slow
def test_two_ranks_train_like_one_write_their_own_shards_and_resume_anywhere(tiny_model_dir, tmp_path):
    # given one process with micro-batches of 8 and no grouping, and a 2-rank gloo run (FSDP, the
    # model loaded by rank 0 only) with grouped micro-batches of 3 (one rank gets a weightless pass)
    recipe = {**RECIPE, "epochs": 2, "residual_dropout": 0.0, "save_every_steps": 4}  # dropout 0: each rank draws its own masks
    data = tmp_path / "train.jsonl"
    data.write_text(DATA.read_text() * 5)  # 15 steps an epoch: the run is still going when the kill lands
    single = _run(tiny_model_dir, tmp_path / "single", {**recipe, "micro_batch_size": 8, "length_grouping": False}, data=data)
    config = tmp_path / "run.json"
    config.write_text(json.dumps({"base_model": str(tiny_model_dir), "data": str(data), "output_dir": str(tmp_path / "out"), "recipe": {**recipe, "micro_batch_size": 3}}))
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    process = subprocess.Popen(torchrun + ["-m", "training.engine", "--config", str(config)], cwd=REPO, env=_environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    events = []
    for line in process.stdout:  # when it is killed after its resume point of step 4
        events += _json_lines(line)
        if events and events[-1]["event"] == "resume_point" and events[-1]["step"] == 4:
            os.killpg(process.pid, signal.SIGKILL)
            break
    process.wait(timeout=60)
    stderr = process.stderr.read()
    assert events and events[-1]["event"] == "resume_point", stderr[-3000:]
    # then rank 0 alone reported, with the single process's losses
    assert events[0]["world_size"] == 2
    steps = [e for e in events if e["event"] == "step"]
    assert [e["step"] for e in steps] == [1, 2, 3, 4]
    torch.testing.assert_close([e["loss"] for e in steps], [e["loss"] for e in single.of("step")][:4], rtol=1e-5, atol=1e-6)
    assert not (tmp_path / "out" / "checkpoint-epoch-02").exists()
    # each rank wrote its own part of the resume point (the latest: the run may have gone on a step or
    # two before the kill landed)
    point = checkpoint.last_resume_point(tmp_path / "out")
    assert {p.name for p in point.glob("*.distcp")} == {"__0_0.distcp", "__1_0.distcp"}
    # when one process resumes the 2-rank run from its mid-epoch point
    resumed = _run(tiny_model_dir, tmp_path / "out", {**recipe, "micro_batch_size": 3}, resume=True, data=data)
    # then it finishes like the single process did
    start = resumed.of("start")[0]["start_step"]
    assert start >= 4 and resumed.of("start")[0]["resumed_from"] == str(point)
    torch.testing.assert_close([e["loss"] for e in resumed.of("step")], [e["loss"] for e in single.of("step")][start:], rtol=1e-5, atol=1e-6)
    assert_same_weights(_weights(tmp_path / "out" / "checkpoint-epoch-02"), _weights(tmp_path / "single" / "checkpoint-epoch-02"), RECIPE["learning_rate"])


@pytest.mark.slow
def test_two_ranks_write_an_epoch_checkpoint_together_that_loads_as_one_model(tiny_model_dir, tmp_path):
    recipe = {**RECIPE, "epochs": 1, "residual_dropout": 0.0}
    _run(tiny_model_dir, tmp_path / "single", recipe)  # the one-process reference
    config = tmp_path / "run.json"
    config.write_text(json.dumps({"base_model": str(tiny_model_dir), "data": str(DATA), "output_dir": str(tmp_path / "out"), "recipe": recipe}))
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    finished = subprocess.run(torchrun + ["-m", "training.engine", "--config", str(config)], cwd=REPO, env=_environment(), capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr[-3000:]
    events = _json_lines(finished.stdout)
    assert events[-1]["event"] == "done" and len([e for e in events if e["event"] == "step"]) == 3  # rank 0 alone reports
    folder = tmp_path / "out" / "checkpoint-epoch-01"
    assert {p.name for p in folder.glob("*.safetensors")} == {"model.safetensors"} and not (folder / "sharded").exists()  # the ranks' shards, joined
    assert_same_weights(_weights(folder), _weights(tmp_path / "single" / "checkpoint-epoch-01"), RECIPE["learning_rate"])
    assert AutoModelForCausalLM.from_pretrained(folder).config.model_type == "llama"
    assert "Invalid -W option" not in finished.stderr and "Traceback" not in finished.stderr


@pytest.mark.slow
def test_compiled_layers_train_like_eager_ones(tiny_model_dir, tmp_path):
    # one step (one compiled shape: compiling on CPU takes ~40 s a shape); no dropout, whose RNG differs compiled
    data = tmp_path / "train.jsonl"
    data.write_text("".join(DATA.read_text().splitlines(keepends=True)[:8]))
    recipe = {**RECIPE, "epochs": 1, "micro_batch_size": 8, "residual_dropout": 0.0}
    eager = _run(tiny_model_dir, tmp_path / "eager", recipe, data=data)
    compiled = _run(tiny_model_dir, tmp_path / "compiled", {**recipe, "compile": True}, data=data)
    assert compiled.of("start")[0]["recipe"]["compile"] is True
    torch.testing.assert_close([e["loss"] for e in compiled.of("step")], [e["loss"] for e in eager.of("step")], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close([e["grad_norm"] for e in compiled.of("step")], [e["grad_norm"] for e in eager.of("step")], rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_two_ranks_train_lora_like_one_with_the_model_loaded_by_rank_0_only(tiny_model_dir, tmp_path):
    # rank 1 builds its model on the meta device; DDP's start-up broadcast must give it rank 0's weights
    recipe = {**RECIPE, "epochs": 1, "residual_dropout": 0.0, "lora": True, "lora_r": 4, "lora_learning_rate": 3e-3}
    single = _run(tiny_model_dir, tmp_path / "single", recipe)
    config = tmp_path / "run.json"
    config.write_text(json.dumps({"base_model": str(tiny_model_dir), "data": str(DATA), "output_dir": str(tmp_path / "out"), "recipe": {**recipe, "micro_batch_size": 3}}))
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    finished = subprocess.run(torchrun + ["-m", "training.engine", "--config", str(config)], cwd=REPO, env=_environment(), capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr[-3000:]
    steps = [e for e in _json_lines(finished.stdout) if e["event"] == "step"]
    torch.testing.assert_close([e["loss"] for e in steps], [e["loss"] for e in single.of("step")], rtol=1e-5, atol=1e-6)
    assert_same_weights(_weights(tmp_path / "out" / "checkpoint-epoch-01"), _weights(tmp_path / "single" / "checkpoint-epoch-01"), recipe["lora_learning_rate"])
