"""The runner in this process (no worker): it writes the version's data, runs the engine subprocess and records
its progress, checkpoints and end in the run's row."""
import json
import shutil
from pathlib import Path

import pytest

from core.jobs.context import JobFailed
from core.jobs.runner import execute
from training.models import TrainingRun
from training.runner import engine_environment, launch_command, other_node_commands
from training.services import start_training_run

from .runs_helpers import FAST_RECIPE, frozen_version


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.mark.django_db
def test_a_run_trains_on_the_pinned_train_split_and_records_checkpoints_and_loss(chats, tiny_model_dir, media, alice, monkeypatch):
    # given a version whose dev split must not be trained on, and a worker started with a warning filter the
    # engine cannot resolve (as `make run` once started its workers)
    monkeypatch.setenv("PYTHONWARNINGS", "ignore::celery.platforms.SecurityWarning")
    version = frozen_version(chats[:16], held_out=[["A held-out prompt?", "A held-out answer."]])
    run = start_training_run(version, str(tiny_model_dir), FAST_RECIPE, user=alice, enqueue=False)
    # when the runner runs it here
    run = execute("training.trainingrun", run.pk, worker_name="local")
    # then
    assert run.status == TrainingRun.Status.SUCCEEDED, run.log_tail
    assert Path(run.output_dir) == media.resolve() / "training" / str(run.pk)
    rows = [json.loads(line) for line in Path(run.data_file).read_text().splitlines()]
    assert [row["conversations"] for row in rows] == chats[:16]
    assert run.train_examples == 16
    assert run.step == run.total_steps == 4 and run.progress == 1.0
    assert run.metrics["step"] == [1, 2, 3, 4] and len(run.metrics["lr"]) == 4
    assert run.metrics["lr"][0] == pytest.approx(3e-3)
    losses = run.epoch_losses
    assert len(losses) == 2 and losses[1] < losses[0]
    assert [(c.epoch, c.step) for c in run.checkpoints.all()] == [(1, 2), (2, 4)]
    assert all((Path(c.path) / "model.safetensors").is_file() for c in run.checkpoints.all())
    assert run.checkpoints.get(epoch=2).metrics["mean_loss"] == losses[1]
    assert run.recipe["batch_size"] == 8 and run.recipe["residual_dropout"] == 0.2  # resolved by the engine
    assert run.device == "cpu" and run.world_size == 1 and run.worker_name == "local"
    assert run.pid is None and run.pgid is None and run.finished_at and run.heartbeat_at
    assert run.attempt == 1
    # each checkpoint's disk use and dtype; no resume point left (the engine deletes it when done)
    for checkpoint in run.checkpoints.all():
        on_disk = sum(f.stat().st_size for f in Path(checkpoint.path).rglob("*") if f.is_file())
        assert checkpoint.bytes == on_disk > 0 and checkpoint.dtype == "float32"
    assert run.resume_point == {} and not list(Path(run.output_dir).glob("resume-step-*"))
    assert run.disk_bytes() == sum(c.bytes for c in run.checkpoints.all())
    # what the engine made of the data, per source
    report = run.data_report
    assert report["examples_by_source"] == {"manual": 16} and report["source_token_share"] == {"manual": 1.0}
    assert report["cut"] == report["dropped"] == 0 and report["model_dtype"] == "float32"
    assert 0 <= run.stats["padding_share"] < 1
    # and no warning noise in the log panel: its lines are the runner's and the engine's own
    assert "Invalid -W" not in run.log_tail and "Warning" not in run.log_tail, run.log_tail


@pytest.mark.django_db
def test_an_engine_failure_ends_the_run_failed_with_the_engines_message(chats, tiny_model_dir, media, tmp_path):
    # given a model folder whose weights are broken
    broken = tmp_path / "broken-model"
    shutil.copytree(tiny_model_dir, broken)
    (broken / "model.safetensors").write_bytes(b"not weights")
    run = start_training_run(frozen_version(chats[:4]), str(broken), {"epochs": 1}, enqueue=False)
    # when it runs
    run = execute("training.trainingrun", run.pk)
    # then the run failed with the engine's own message, and nothing of the engine is left
    assert run.status == TrainingRun.Status.FAILED
    error_line = json.loads(Path(run.output_dir, "events.jsonl").read_text().splitlines()[-1])
    assert error_line["event"] == "error" and error_line["message"] in run.error
    assert "exit code 1" in run.error and run.error in run.log_tail
    assert run.pgid is None and run.finished_at is not None
    assert not run.checkpoints.exists()


@pytest.mark.django_db
def test_a_run_that_is_not_queued_is_left_alone(chats, tiny_model_dir, media):
    run = start_training_run(frozen_version(chats[:4]), str(tiny_model_dir), enqueue=False)
    TrainingRun.objects.filter(pk=run.pk).update(status=TrainingRun.Status.CANCELLED)
    assert execute("training.trainingrun", run.pk) is None
    assert TrainingRun.objects.get(pk=run.pk).attempt == 0


def test_several_gpus_go_through_torchrun_with_a_process_per_gpu(tmp_path):
    single = launch_command(tmp_path / "run.json", 1)
    assert single[1:] == ["-m", "training.engine", "--config", str(tmp_path / "run.json")]
    several = launch_command(tmp_path / "run.json", 4)
    assert several[1:4] == ["-m", "torch.distributed.run", "--nproc_per_node=4"] and "--standalone" in several
    assert several[-4:] == single[1:]


def test_several_hosts_meet_at_the_configured_rendezvous(settings, tmp_path):
    settings.TRAINING_NNODES, settings.TRAINING_NODE_RANK = 3, 0
    settings.TRAINING_RDZV_ENDPOINT = "gpu-a:29500"
    command = launch_command(tmp_path / "run.json", 8, "lima-7-1")
    assert "--standalone" not in command
    for option in ("--nproc_per_node=8", "--nnodes=3", "--node_rank=0", "--rdzv_backend=c10d",
                   "--rdzv_endpoint=gpu-a:29500", "--rdzv_id=lima-7-1"):
        assert option in command
    # the other hosts start the same command but for their rank
    others = other_node_commands(tmp_path / "run.json", 8, "lima-7-1")
    assert [c[c.index("--nnodes=3") + 1] for c in others] == ["--node_rank=1", "--node_rank=2"]
    assert [[o for o in c if not o.startswith("--node_rank")] for c in others] == [[o for o in command if not o.startswith("--node_rank")]] * 2


def test_several_hosts_without_a_rendezvous_endpoint_fail_with_the_setting_to_set(settings, tmp_path):
    settings.TRAINING_NNODES, settings.TRAINING_RDZV_ENDPOINT = 2, ""
    with pytest.raises(JobFailed, match="TRAINING_RDZV_ENDPOINT"):
        launch_command(tmp_path / "run.json", 1, "lima-7-1")


def test_the_engine_does_not_inherit_the_workers_warning_filters(monkeypatch):
    monkeypatch.setenv("PYTHONWARNINGS", "ignore::celery.platforms.SecurityWarning")
    environment = engine_environment()
    assert "PYTHONWARNINGS" not in environment and environment["PYTHONUNBUFFERED"] == "1"


@pytest.mark.django_db
def test_runs_write_under_the_training_output_root(settings, chats, tiny_model_dir, tmp_path):
    settings.TRAINING_OUTPUT_ROOT = str(tmp_path / "shared" / "runs")
    run = start_training_run(frozen_version(chats[:4]), str(tiny_model_dir), enqueue=False)
    assert Path(run.output_dir) == (tmp_path / "shared" / "runs" / str(run.pk)).resolve()


@pytest.mark.slow
@pytest.mark.timeout(1200)  # 40 s on a quiet machine; CI runs four other groups beside it on two cores
@pytest.mark.django_db
def test_the_quick_demo_makes_the_tiny_model_visibly_learn_the_demo_dataset(media, tmp_path):
    from training.demo import DEMO_CORPUS, QUICK_DEMO, ensure_tiny_model

    # given the tiny model `make run` builds, and the demo dataset's train split
    model = ensure_tiny_model(tmp_path / "models" / "tiny-demo", DEMO_CORPUS)
    rows = [json.loads(line) for line in DEMO_CORPUS.read_text().splitlines() if line.strip()]
    train = [row["conversations"] for row in rows if row["split"] == "train" and row["status"] == "approved"]
    run = start_training_run(frozen_version(train, name="demo"), str(model), QUICK_DEMO, enqueue=False)
    # when the quick demo's recipe trains it
    run = execute("training.trainingrun", run.pk)
    # then the loss falls by more than a nat, no example was trimmed, and its checkpoints are LIMA's window
    assert run.status == TrainingRun.Status.SUCCEEDED, run.log_tail
    assert run.total_steps == 130 and run.data_report["trimmed"] == 0
    losses = run.metrics["loss"]
    assert losses[0] == pytest.approx(6.24, abs=0.01) and losses[-1] < losses[0] - 1.5
    assert run.epoch_losses[-1] < run.epoch_losses[0] - 1.0
    assert [c.epoch for c in run.checkpoints.all()] == list(range(5, 11)) and all(c.in_window for c in run.checkpoints.all())
    print(f"quick demo: loss {losses[0]:.3f} -> {losses[-1]:.3f}, epochs {run.epoch_losses[0]:.3f} -> "
          f"{run.epoch_losses[-1]:.3f}, {run.duration.total_seconds():.1f} s")
