"""Run one TrainingRun on a gpu worker: write its data, launch the engine, follow it.

The engine (`python -m training.engine`, or torchrun with one process per GPU) runs as a subprocess in its own
process group (core.jobs.engine), so a crash, an out-of-memory kill or a cancel never takes the worker down.
Progress flows one way: engine JSON lines on stdout -> this follower -> the run's row with each heartbeat of
the job -> the pages polling it. Claiming, heartbeats, cancel, the end and reaping are core.jobs'.
"""
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections import deque
from pathlib import Path

from django.conf import settings

from core.jobs.context import JobFailed
from core.jobs.engine import run_engine
from core.jobs.kinds import job_kind
from core.processes import host_name, signal_group
from curation.datasets.exports import iter_version_conversations
from training.models import Checkpoint, TrainingRun
from training.services import output_dir_for

logger = logging.getLogger(__name__)

DATA_FILE = "train.jsonl"
CONFIG_FILE = "run.json"
LOG_FILE = "engine.log"
EVENTS_FILE = "events.jsonl"
SERIES = ("step", "epoch", "loss", "lr")


def discard_engine(run):
    """What a dead attempt leaves is its engine, if it still runs on this host: it must not keep a GPU busy.
    Checkpoints stay (resume continues from the last one)."""
    if run.pgid and run.worker_host == host_name():
        signal_group(run.pgid, signal.SIGKILL)
    TrainingRun.objects.filter(pk=run.pk).update(pid=None, pgid=None)


@job_kind(TrainingRun, queue="gpu", discard=discard_engine)
def run_training(run, context):
    run = TrainingRun.objects.select_related("dataset_version").get(pk=run.pk)
    follower = EngineFollower(run, context)
    context.report = follower.fields
    try:
        follower.prepare()
        outcome = run_engine(
            engine_command(follower.config_path, visible_gpus()), context, on_event=follower.on_event,
            on_line=follower.on_line, on_start=follower.on_launch, env=engine_environment(), cwd=settings.BASE_DIR,
            tail_lines=settings.TRAINING_LOG_TAIL_LINES,
        )
        follower.sync_checkpoints()
        if outcome.stopped == "cancel":
            follower.log("--- cancelled; the checkpoints written stay ---")
        context.check()  # a cancel or a lost run ends here, the engine stopped
        if outcome.returncode != 0 or follower.done is None:
            raise JobFailed(outcome.failure())
        follower.log("--- succeeded ---")
        context.progress(follower.done.get("steps") or run.total)
    except JobFailed as error:
        follower.log(f"--- failed: {error} ---")
        raise
    finally:
        follower.close()
        context.progress(pid=None, pgid=None, resume_requested=False)


def visible_gpus():
    """GPUs a run may use: TRAINING_GPUS, else CUDA_VISIBLE_DEVICES, else those nvidia-smi lists (no torch
    import in the worker just to count)."""
    configured = settings.TRAINING_GPUS
    if configured:
        return configured
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([d for d in visible.split(",") if d.strip() and d.strip() != "-1"])
    if shutil.which("nvidia-smi"):
        try:
            listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20).stdout
        except (OSError, subprocess.SubprocessError):
            return 0
        return sum(1 for line in listed.splitlines() if line.startswith("GPU "))
    return 0


def engine_command(config_path, gpus):
    """One process on CPU or one GPU; PyTorch's own launcher (torchrun) with a process per GPU otherwise."""
    engine = ["-m", "training.engine", "--config", str(config_path)]
    if gpus > 1:
        return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={gpus}", *engine]
    return [sys.executable, *engine]


def engine_environment():
    return {
        **os.environ,
        "PYTHONUNBUFFERED": "1",  # a line as soon as it is printed
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "TQDM_DISABLE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }


def write_training_data(version, path):
    """The version's train split, from its pinned revisions, as LIMA JSONL; written whole or not at all.
    Returns the number of conversations (a lone prompt trains nothing and is left out)."""
    path = Path(path)
    partial = path.with_name(f".{path.name}.partial")
    count = 0
    with open(partial, "w", encoding="utf-8") as out:
        for _item, turns, source in iter_version_conversations(version, split="train"):
            if len(turns) < 2:
                continue
            out.write(json.dumps({"conversations": list(turns), "source": source}, ensure_ascii=False) + "\n")
            count += 1
    os.replace(partial, path)
    return count


class EngineFollower:
    """The run's side of the engine: its data and config written before, its events turned into fields of the
    row (metric series, log tail, checkpoints) while it runs."""

    def __init__(self, run, context):
        self.run = run
        self.context = context
        self.done = None
        self.files = []
        self.lock = threading.RLock()  # the heartbeat thread reads the series while events extend them
        self.dirty = False
        self.metrics = {name: list(values) for name, values in (run.metrics or {}).items()}
        lines = settings.TRAINING_LOG_TAIL_LINES
        self.log_tail = deque((run.log_tail or "").splitlines()[-lines:], maxlen=lines)

    def prepare(self):
        run = self.run
        if not run.output_dir:
            run.output_dir = output_dir_for(run)
        self.out = Path(run.output_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        data = self.out / DATA_FILE
        if not (run.resume_requested and data.is_file()):  # a resumed run keeps the very bytes it trained on
            run.train_examples = write_training_data(run.dataset_version, data)
        if not run.train_examples:
            raise JobFailed(f"Dataset version #{run.dataset_version_id} has no train conversation to learn from.")
        run.data_file = str(data)
        config = {
            "base_model": run.base_model, "data": str(data), "output_dir": str(self.out),
            "recipe": run.overrides or {}, "resume": bool(run.resume_requested),
        }
        self.config_path = self.out / CONFIG_FILE
        self.config_path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        if run.attempt > 1:
            self.log(f"--- attempt {run.attempt} on {host_name()}" + (" (resume)" if run.resume_requested else "") + " ---")
        self.log_file = open(self.out / LOG_FILE, "a", encoding="utf-8")
        self.events_file = open(self.out / EVENTS_FILE, "a", encoding="utf-8")
        self.files = [self.log_file, self.events_file]
        self.context.progress(output_dir=str(self.out), data_file=run.data_file, train_examples=run.train_examples)

    def on_launch(self, process):
        self.log("$ " + " ".join(process.args))
        self.context.progress(pid=process.pid, pgid=process.pid)
        self.context.flush()

    def on_line(self, stream, line):
        self.log(line)
        self.log_file.write(line + "\n")
        self.log_file.flush()

    def on_event(self, event):
        self.events_file.write(json.dumps(event) + "\n")
        self.events_file.flush()
        with self.lock:
            self._on_event(event)

    def _on_event(self, event):
        kind = event["event"]
        if kind == "start":
            self.on_start(event)
        elif kind == "step":
            for name in SERIES:
                self.metrics.setdefault(name, []).append(event.get(name))
            self.changed()
            self.context.progress(
                done=event["step"], epoch=event["epoch"], total=event["total_steps"],
                stats={key: event.get(key) for key in
                       ("tokens_per_s", "trained_tokens_per_s", "eta_s", "elapsed_s", "memory_mb", "grad_norm", "lr", "loss")},
            )
        elif kind == "epoch_end":
            losses = self.metrics.setdefault("epoch_loss", [])
            self.metrics["epoch_loss"] = losses[: event["epoch"] - 1] + [event["mean_loss"]]
            self.context.progress(epoch=event["epoch"])
            self.log(f"epoch {event['epoch']}: mean loss {event['mean_loss']:.4f}")
            self.context.flush()
        elif kind == "checkpoint":
            self.record_checkpoint(event["epoch"], event["step"], event["path"])
            self.log(f"checkpoint of epoch {event['epoch']} (step {event['step']}): {event['path']}")
            self.context.flush()
        elif kind == "done":
            self.done = event
            self.log(f"done: {event.get('steps')} steps in {event.get('elapsed_s')} s")
        elif kind == "error":
            self.engine_error = event.get("message") or event.get("type") or "error"
            self.log(f"error: {self.engine_error}")
        elif kind == "warning":
            self.log(f"warning: {event.get('message', '')}")

    def on_start(self, event):
        resumed_from = event.get("resumed_from") or ""
        if resumed_from:
            # The checkpoint's own series: steps after it are trained again and must not be counted twice.
            try:
                saved = json.loads((Path(resumed_from) / "metrics.json").read_text())
                self.metrics = {name: list(saved.get(name, [])) for name in (*SERIES, "epoch_loss")}
            except (OSError, ValueError):
                self.metrics = self.metrics_until(event.get("start_step", 0))
        else:
            self.metrics = {name: [] for name in (*SERIES, "epoch_loss")}
        self.log(
            f"start: {event.get('examples')} conversations ({event.get('trimmed', 0)} trimmed to max_length), "
            f"{event.get('total_steps')} steps over {event.get('epochs')} epochs on {event.get('device')}"
            + (f" × {event['world_size']}" if (event.get("world_size") or 1) > 1 else "")
            + (f"; resumed from {resumed_from} at step {event.get('start_step')}" if resumed_from else "")
        )
        self.context.progress(
            recipe=event.get("recipe") or self.run.recipe, device=str(event.get("device", "")),
            world_size=event.get("world_size") or 1, total=event.get("total_steps", 0),
            epochs=event.get("epochs", 0), done=event.get("start_step", 0), resumed_from=resumed_from,
        )
        self.context.flush()

    def metrics_until(self, step):
        keep = sum(1 for s in self.metrics.get("step", []) if s is not None and s <= step)
        trimmed = {name: list(self.metrics.get(name, []))[:keep] for name in SERIES}
        epochs = [e for e in trimmed["epoch"]]
        trimmed["epoch_loss"] = list(self.metrics.get("epoch_loss", []))[: (max(epochs) if epochs else 0)]
        return trimmed

    def record_checkpoint(self, epoch, step, path):
        losses = self.metrics.get("epoch_loss", [])
        index = [i for i, s in enumerate(self.metrics.get("step", [])) if s == step]
        metrics = {"mean_loss": losses[epoch - 1] if len(losses) >= epoch else None}
        if index:
            metrics.update(loss=self.metrics["loss"][index[-1]], lr=self.metrics["lr"][index[-1]])
        Checkpoint.objects.update_or_create(run=self.run, epoch=epoch, defaults={"step": step, "path": path, "metrics": metrics})

    def sync_checkpoints(self):
        """A checkpoint written just before a kill may never have been announced: take them from the disk."""
        from training.engine.checkpoint import list_checkpoints

        known = set(self.run.checkpoints.values_list("epoch", flat=True))
        for path in list_checkpoints(self.out):
            epoch = int(path.name.rsplit("-", 1)[-1])
            if epoch in known:
                continue
            try:
                step = json.loads((path / "recipe.json").read_text())["step"]
            except (OSError, ValueError, KeyError):
                continue
            self.record_checkpoint(epoch, step, str(path))

    # --- the log tail and the series, written with each heartbeat ------------------------------------------
    def log(self, line):
        with self.lock:
            self.log_tail.append(line[:2000])
            self.dirty = True

    def changed(self):
        with self.lock:
            self.dirty = True

    def tail_text(self):
        return "\n".join(self.log_tail)

    def fields(self):
        """What the heartbeat writes of the series and the log (only when they changed)."""
        with self.lock:
            if not self.dirty:
                return {}
            self.dirty = False
            return {"metrics": {name: list(values) for name, values in self.metrics.items()},
                    "log_tail": self.tail_text()}

    def close(self):
        for file in self.files:
            file.close()
        self.files = []
