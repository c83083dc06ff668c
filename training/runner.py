"""Run one TrainingRun on a gpu worker: write its data, launch the engine, follow it.

The engine (`python -m training.engine`, or torchrun with one process per GPU, on this host or on
TRAINING_NNODES hosts) runs as a subprocess in its own process group (core.jobs.engine), so a crash, an
out-of-memory kill or a cancel never takes the worker down.
Progress flows one way: engine JSON lines on stdout -> this follower -> the run's row with each heartbeat of
the job -> the pages polling it. Claiming, heartbeats, cancel, the end and reaping are core.jobs'.
"""
import json
import logging
import os
import shlex
import shutil
import signal
import subprocess
import threading
from collections import deque
from pathlib import Path

from django.conf import settings

from core.jobs.context import JobFailed
from core.jobs.engine import run_engine
from core.jobs.kinds import job_kind
from core.processes import host_name, signal_group
from curation.datasets.exports import iter_version_conversations
from training.engine.launch import engine_command, torchrun_command
from training.models import Checkpoint, TrainingRun
from training.services import output_dir_for

logger = logging.getLogger(__name__)

DATA_FILE = "train.jsonl"
CONFIG_FILE = "run.json"
LOG_FILE = "engine.log"
EVENTS_FILE = "events.jsonl"
SERIES = ("step", "epoch", "loss", "lr")
STEP_STATS = ("tokens_per_s", "trained_tokens_per_s", "eta_s", "elapsed_s", "memory_mb", "grad_norm", "lr", "loss",
              "padding_share")
# What the start event says of the data and the model, kept on the run (data_report).
DATA_REPORT = ("examples", "examples_by_source", "trimmed", "trimmed_by_source", "cut", "cut_by_source", "dropped",
               "dropped_by_source", "source_token_share", "model_dtype", "fused_loss", "parameters",
               "trainable_parameters")


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
        command = launch_command(follower.config_path, visible_gpus(), rendezvous_id(run))
        outcome = run_engine(
            command, context, on_event=follower.on_event,
            on_line=follower.on_line, on_start=follower.on_launch, env=engine_environment(), cwd=settings.BASE_DIR,
            tail_lines=settings.TRAINING_LOG_TAIL_LINES,
        )
        follower.sync_checkpoints()
        follower.sync_resume_point()
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


def rendezvous_id(run):
    """The same on every host of one attempt, never shared by two: "<TRAINING_RDZV_ID>-<run>-<attempt>"."""
    return f"{settings.TRAINING_RDZV_ID or 'lima'}-{run.pk}-{run.attempt}"


def launch_command(config_path, gpus, rdzv_id="", node_rank=None):
    """One process on CPU or one GPU; PyTorch's own launcher (torchrun) with a process per GPU otherwise, and on
    TRAINING_NNODES hosts meeting at TRAINING_RDZV_ENDPOINT when that is more than one."""
    nnodes = settings.TRAINING_NNODES
    if nnodes > 1:
        try:
            return torchrun_command(
                config_path, max(gpus, 1), nnodes=nnodes,
                node_rank=settings.TRAINING_NODE_RANK if node_rank is None else node_rank,
                rdzv_endpoint=settings.TRAINING_RDZV_ENDPOINT or None, rdzv_id=rdzv_id or None,
            )
        except ValueError as error:
            raise JobFailed(f"TRAINING_NNODES={nnodes}: {error} (set TRAINING_RDZV_ENDPOINT=host:port).") from None
    if gpus > 1:
        return torchrun_command(config_path, gpus)
    return engine_command(config_path)


def other_node_commands(config_path, gpus, rdzv_id):
    """The command each other host of a multi-node run starts (the same but for its --node_rank)."""
    this = settings.TRAINING_NODE_RANK
    return [launch_command(config_path, gpus, rdzv_id, node_rank=rank)
            for rank in range(settings.TRAINING_NNODES) if rank != this]


def engine_environment():
    environment = dict(os.environ)
    # A worker started with PYTHONWARNINGS naming a category of a module the engine never imports (Celery's
    # "ignore::celery.platforms.SecurityWarning") makes every engine process print "Invalid -W option
    # ignored" at start: the engine needs none of the worker's warning filters.
    environment.pop("PYTHONWARNINGS", None)
    return {
        **environment,
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
        self.log("$ " + shlex.join(process.args))
        if settings.TRAINING_NNODES > 1:
            self.log(f"--- a run on {settings.TRAINING_NNODES} hosts: start on each other host, with {self.out} "
                     "on the same shared storage ---")
            for command in other_node_commands(self.config_path, visible_gpus(), rendezvous_id(self.run)):
                self.log("$ " + shlex.join(command))
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
                stats={key: event.get(key) for key in STEP_STATS},
            )
        elif kind == "epoch_end":
            losses = self.metrics.setdefault("epoch_loss", [])
            self.metrics["epoch_loss"] = losses[: event["epoch"] - 1] + [event["mean_loss"]]
            self.context.progress(epoch=event["epoch"])
            self.log(f"epoch {event['epoch']}: mean loss {event['mean_loss']:.4f}")
            self.context.flush()
        elif kind == "checkpoint":
            self.record_checkpoint(event["epoch"], event["step"], event["path"], event.get("bytes") or 0, event.get("dtype") or "")
            self.log(f"checkpoint of epoch {event['epoch']} (step {event['step']}, {megabytes(event.get('bytes'))}): {event['path']}")
            self.context.flush()
        elif kind == "resume_point":
            # Not a checkpoint to choose: the one place a resume continues from (the engine keeps only the latest).
            point = {key: event.get(key) for key in ("epoch", "step", "path", "bytes")}
            self.context.progress(resume_point=point)
            self.log(f"resume point at step {point['step']} (epoch {point['epoch']}, {megabytes(point['bytes'])})")
        elif kind == "done":
            self.done = event
            self.context.progress(resume_point={})  # the engine deletes it: a finished run has nothing to resume
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
            f"start: {event.get('examples')} conversations ({event.get('trimmed', 0)} trimmed to max_length, "
            f"{event.get('cut', 0)} with a cut response, {event.get('dropped', 0)} dropped), "
            f"{event.get('total_steps')} steps over {event.get('epochs')} epochs on {event.get('device')}"
            + (f" × {event['world_size']}" if (event.get("world_size") or 1) > 1 else "")
            + (f"; resumed from {resumed_from} at step {event.get('start_step')}" if resumed_from else "")
        )
        self.context.progress(
            recipe=event.get("recipe") or self.run.recipe, device=str(event.get("device", "")),
            world_size=event.get("world_size") or 1, total=event.get("total_steps", 0),
            epochs=event.get("epochs", 0), done=event.get("start_step", 0), resumed_from=resumed_from,
            data_report={key: event[key] for key in DATA_REPORT if key in event},
        )
        self.context.flush()

    def metrics_until(self, step):
        keep = sum(1 for s in self.metrics.get("step", []) if s is not None and s <= step)
        trimmed = {name: list(self.metrics.get(name, []))[:keep] for name in SERIES}
        epochs = [e for e in trimmed["epoch"]]
        trimmed["epoch_loss"] = list(self.metrics.get("epoch_loss", []))[: (max(epochs) if epochs else 0)]
        return trimmed

    def record_checkpoint(self, epoch, step, path, size=0, dtype=""):
        losses = self.metrics.get("epoch_loss", [])
        index = [i for i, s in enumerate(self.metrics.get("step", [])) if s == step]
        metrics = {"mean_loss": losses[epoch - 1] if len(losses) >= epoch else None}
        if index:
            metrics.update(loss=self.metrics["loss"][index[-1]], lr=self.metrics["lr"][index[-1]])
        Checkpoint.objects.update_or_create(
            run=self.run, epoch=epoch,
            defaults={"step": step, "path": path, "metrics": metrics, "bytes": size, "dtype": dtype},
        )

    def sync_checkpoints(self):
        """A checkpoint written just before a kill may never have been announced: take them from the disk."""
        from training.engine.checkpoint import folder_bytes, list_checkpoints

        known = set(self.run.checkpoints.values_list("epoch", flat=True))
        for path in list_checkpoints(self.out):
            epoch = int(path.name.rsplit("-", 1)[-1])
            if epoch in known:
                continue
            try:
                step = json.loads((path / "recipe.json").read_text())["step"]
                dtype = json.loads((path / "config.json").read_text()).get("dtype") or ""
            except (OSError, ValueError, KeyError):
                continue
            self.record_checkpoint(epoch, step, str(path), folder_bytes(path), str(dtype))

    def sync_resume_point(self):
        """Whatever the engine said, the resume point is the one on disk (one written just before a kill may not
        have been announced; a finished run's was deleted)."""
        from training.engine.checkpoint import TRAINER_STATE, folder_bytes, last_resume_point

        path = last_resume_point(self.out)
        if path is None:
            self.context.progress(resume_point={})
            return
        try:
            state = json.loads((path / TRAINER_STATE).read_text())
        except (OSError, ValueError):
            state = {}
        step = state.get("step", int(path.name.rsplit("-", 1)[-1]))
        self.context.progress(resume_point={"epoch": state.get("epoch"), "step": step, "path": str(path),
                                            "bytes": folder_bytes(path)})

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


def megabytes(size):
    return f"{(size or 0) / 1e6:,.1f} MB"
