"""Whole runs of the engine on the tiny model: checkpoints, falling loss, determinism, resume, LoRA, CLI."""

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer

from training.engine import __main__ as cli
from training.engine import chat
from training.engine.config import RunConfig
from training.engine.train import TrainingError, train

REPO = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "fixtures" / "engine_chats.jsonl"
# A learning rate LIMA would never use: a randomly initialised tiny model must move visibly in 9 steps.
RECIPE = {"epochs": 3, "batch_size": 8, "micro_batch_size": 4, "learning_rate": 3e-3, "final_learning_rate": 3e-4, "save_from_epoch": 1}


class Events(list):
    def __call__(self, event, **fields):
        self.append({"event": event, **fields})

    def of(self, kind):
        return [e for e in self if e["event"] == kind]


def _run(base, out, recipe=RECIPE, resume=False, data=DATA):
    events = Events()
    train(RunConfig(str(base), str(data), str(out), dict(recipe), resume), emit=events)
    return events


def _weights(checkpoint_dir):
    return load_file(Path(checkpoint_dir) / "model.safetensors")


@pytest.fixture(scope="module")
def reference(tiny_model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("reference") / "out"
    return out, _run(tiny_model_dir, out)


def test_a_short_run_writes_a_checkpoint_per_epoch_and_the_loss_falls(reference, tiny_model_dir):
    out, events = reference
    assert [e["event"] for e in events if e["event"] != "step"] == ["start"] + ["epoch_end", "checkpoint"] * 3 + ["done"]
    start, done = events.of("start")[0], events.of("done")[0]
    assert start["total_steps"] == 9 and start["examples"] == 24
    assert start["residual_dropout_by_layer"] == [0.0, 0.2]  # LIMA's 0.2 for smaller models
    losses = [e["mean_loss"] for e in events.of("epoch_end")]
    assert losses[0] > losses[1] > losses[2]
    assert done["loss"] == losses
    assert done["checkpoints"] == [str(out / f"checkpoint-epoch-0{epoch}") for epoch in (1, 2, 3)]
    for step in events.of("step"):
        assert step["tokens_per_s"] > 0 and step["eta_s"] >= 0 and step["memory_mb"] > 0
    # the checkpoint is a normal model folder with the recipe, metrics and resume state beside it
    last = Path(done["checkpoints"][-1])
    assert {"config.json", "model.safetensors", "tokenizer.json", "recipe.json", "metrics.json", "trainer_state.pt"} <= {p.name for p in last.iterdir()}
    model = AutoModelForCausalLM.from_pretrained(last)
    tokenizer = AutoTokenizer.from_pretrained(last)
    assert chat.eot_id(tokenizer) in model.generation_config.eos_token_id
    recipe = json.loads((last / "recipe.json").read_text())
    assert (recipe["epoch"], recipe["step"], recipe["base_model"]) == (3, 9, str(tiny_model_dir))
    assert recipe["recipe"]["batch_size"] == 8 and recipe["recipe"]["adam_beta2"] == 0.95
    assert json.loads((last / "metrics.json").read_text())["epoch_loss"] == losses
    assert not any(p.name.startswith(".") for p in out.iterdir())  # no staging folder left behind


def test_the_first_step_runs_at_the_initial_rate_and_the_last_at_the_final_one(reference):
    steps = reference[1].of("step")
    assert steps[0]["lr"] == pytest.approx(3e-3)
    assert steps[-1]["lr"] == pytest.approx(3e-4)


def test_two_runs_with_the_same_seed_give_the_same_losses_and_weights(reference, tiny_model_dir, tmp_path):
    out, events = reference
    again = _run(tiny_model_dir, tmp_path / "again")
    torch.testing.assert_close([e["loss"] for e in again.of("step")], [e["loss"] for e in events.of("step")])
    torch.testing.assert_close(_weights(tmp_path / "again" / "checkpoint-epoch-03"), _weights(out / "checkpoint-epoch-03"))


def test_resume_continues_exactly_like_an_uninterrupted_run(reference, tiny_model_dir, tmp_path):
    # given a run that stopped after writing its epoch-2 checkpoint
    out, events = reference
    interrupted = tmp_path / "out"
    shutil.copytree(out, interrupted)
    shutil.rmtree(interrupted / "checkpoint-epoch-03")
    # when it resumes
    resumed = _run(tiny_model_dir, interrupted, resume=True)
    # then it trains only epoch 3, exactly as the uninterrupted run did
    start = resumed.of("start")[0]
    assert start["resumed_from"] == str(interrupted / "checkpoint-epoch-02") and start["start_step"] == 6
    assert [e["step"] for e in resumed.of("step")] == [7, 8, 9]
    torch.testing.assert_close([e["loss"] for e in resumed.of("step")], [e["loss"] for e in events.of("step")][6:])
    torch.testing.assert_close(_weights(interrupted / "checkpoint-epoch-03"), _weights(out / "checkpoint-epoch-03"))
    assert resumed.of("done")[0]["loss"] == pytest.approx(events.of("done")[0]["loss"])


def test_a_new_run_refuses_an_output_folder_that_holds_checkpoints(reference, tiny_model_dir):
    with pytest.raises(TrainingError, match="already holds checkpoints"):
        _run(tiny_model_dir, reference[0])


def test_resume_refuses_other_data_or_another_schedule(reference, tiny_model_dir, tmp_path):
    shutil.copytree(reference[0], tmp_path / "out")
    with pytest.raises(TrainingError, match="the recipe differs in epochs, learning_rate"):
        _run(tiny_model_dir, tmp_path / "out", {**RECIPE, "epochs": 4, "learning_rate": 1e-3}, resume=True)
    other = tmp_path / "other.jsonl"
    other.write_text(DATA.read_text().replace("Seven.", "Eleven."))
    with pytest.raises(TrainingError, match="is not the data it was trained on"):
        _run(tiny_model_dir, tmp_path / "out", resume=True, data=other)


def test_micro_batches_and_accumulation_give_the_gradient_of_the_whole_batch(tiny_model_dir, tmp_path):
    recipe = {**RECIPE, "epochs": 1, "residual_dropout": 0.0}  # no dropout: masks depend on micro-batch shapes
    whole = _run(tiny_model_dir, tmp_path / "whole", {**recipe, "micro_batch_size": 8})
    split = _run(tiny_model_dir, tmp_path / "split", {**recipe, "micro_batch_size": 3})
    torch.testing.assert_close([e["loss"] for e in split.of("step")], [e["loss"] for e in whole.of("step")], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(_weights(tmp_path / "split" / "checkpoint-epoch-01"), _weights(tmp_path / "whole" / "checkpoint-epoch-01"), rtol=1e-4, atol=1e-6)


def test_a_lora_run_trains_adapters_and_saves_a_merged_model(tiny_model_dir, tmp_path):
    events = _run(tiny_model_dir, tmp_path / "lora", {**RECIPE, "epochs": 2, "lora": True, "lora_r": 4})
    start = events.of("start")[0]
    assert 0 < start["trainable_parameters"] < start["parameters"] / 2
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


def test_the_gpu_settings_bf16_and_gradient_checkpointing_also_run_on_cpu(tiny_model_dir, tmp_path):
    events = _run(tiny_model_dir, tmp_path / "gpu", {**RECIPE, "epochs": 2, "bf16": True, "gradient_checkpointing": True})
    recipe = events.of("start")[0]["recipe"]
    assert recipe["bf16"] is True and recipe["gradient_checkpointing"] is True
    losses = [e["mean_loss"] for e in events.of("epoch_end")]
    assert losses[1] < losses[0]
    weights = _weights(tmp_path / "gpu" / "checkpoint-epoch-02")
    assert {tensor.dtype for tensor in weights.values()} == {torch.float32}  # master weights stay fp32


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
    assert events[0]["start_step"] == 3 and events[-1]["event"] == "done"
    torch.testing.assert_close(events[-1]["loss"], reference[1].of("done")[0]["loss"])


@pytest.mark.slow
def test_torchrun_with_two_processes_trains_like_one_process_with_fsdp_on_cpu(tiny_model_dir, tmp_path):
    # no dropout: each rank draws its own masks; micro-batches of 3 leave one rank a weightless pass
    recipe = {**RECIPE, "epochs": 2, "residual_dropout": 0.0, "micro_batch_size": 3}
    single = _run(tiny_model_dir, tmp_path / "single", recipe)
    config = tmp_path / "run.json"
    config.write_text(json.dumps({"base_model": str(tiny_model_dir), "data": str(DATA), "output_dir": str(tmp_path / "out"), "recipe": recipe}))
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    finished = subprocess.run(torchrun + ["-m", "training.engine", "--config", str(config)], cwd=REPO, env=_environment(), capture_output=True, text=True, timeout=180)
    assert finished.returncode == 0, finished.stderr[-2000:]
    events = _json_lines(finished.stdout)
    assert events[0]["world_size"] == 2 and events[-1]["event"] == "done"
    assert len([e for e in events if e["event"] == "step"]) == 6  # rank 0 alone reports
    torch.testing.assert_close([e["loss"] for e in events if e["event"] == "step"], [e["loss"] for e in single.of("step")], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(_weights(tmp_path / "out" / "checkpoint-epoch-02"), _weights(tmp_path / "single" / "checkpoint-epoch-02"), rtol=1e-4, atol=1e-6)
