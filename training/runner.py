"""Run one TrainingRun on this worker: claim it, write its data, launch the engine, follow it, record the end.

The engine (`python -m training.engine`, or torchrun with one process per GPU) runs as a subprocess in
its own process group, so a crash, an out-of-memory kill or a cancel never takes the worker down.
Progress flows one way: engine JSON lines on stdout -> this loop -> the run's row (at most once per
TRAINING_PROGRESS_SECONDS, with a heartbeat) -> the pages polling it.

The loop never blocks on the engine: two threads read its stdout and stderr into a queue, and the loop
wakes at least every half second to beat, to look at the cancel flag a request may have set, and to
escalate a kill. Whatever the way out, the engine's whole process group is gone when this returns.
"""
import json
import logging
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.processes import die_with_parent, host_name, signal_group
from curation.datasets.exports import iter_version_conversations
from training.conf import setting
from training.models import Checkpoint, TrainingRun
from training.services import output_dir_for

logger = logging.getLogger(__name__)

DATA_FILE = "train.jsonl"
CONFIG_FILE = "run.json"
LOG_FILE = "engine.log"
EVENTS_FILE = "events.jsonl"
TICK = 0.5  # seconds: how often the loop wakes when the engine is quiet
SERIES = ("step", "epoch", "loss", "lr")


def execute_training_run(run_id, worker_name=""):
    """Claim the queued run `run_id` and run it to the end. None when it was not queued (cancelled
    meanwhile, or a redelivered message for a run another worker already has)."""
    now = timezone.now()
    claimed = TrainingRun.objects.filter(pk=run_id, status=TrainingRun.Status.QUEUED).update(
        status=TrainingRun.Status.RUNNING, attempt=F("attempt") + 1, started_at=Coalesce("started_at", Value(now)),
        heartbeat_at=now, finished_at=None, worker_host=host_name(), worker_name=worker_name or "",
        pid=None, pgid=None, error="",
    )
    if not claimed:
        logger.info("training run %s is not queued: nothing to do", run_id)
        return None
    run = TrainingRun.objects.select_related("dataset_version").get(pk=run_id)
    EngineRunner(run).execute()
    run.refresh_from_db()
    return run


def visible_gpus():
    """GPUs a run may use: TRAINING_GPUS, else CUDA_VISIBLE_DEVICES, else those nvidia-smi lists (no torch
    import in the worker just to count)."""
    configured = setting("TRAINING_GPUS")
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


def describe_exit(returncode):
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"The engine was killed by {name} (out of memory, or stopped from outside)."
    return f"The engine exited with code {returncode}."


class EngineRunner:
    def __init__(self, run):
        self.run = run
        self.attempt = run.attempt
        self.process = None
        self.pgid = None
        self.done = None
        self.engine_error = ""
        self.stop_reason = ""  # "cancel" or "lost" once we decided to stop the engine
        self.term_sent_at = None
        self.lost = False
        self.last_flush = 0.0
        self.dirty = False
        self.metrics = {name: list(values) for name, values in (run.metrics or {}).items()}
        lines = setting("TRAINING_LOG_TAIL_LINES")
        self.log_tail = deque((run.log_tail or "").splitlines()[-lines:], maxlen=lines)
        self.fields = {}  # progress fields to write at the next flush

    # --- the whole run -------------------------------------------------------------------------------------
    def execute(self):
        try:
            self.prepare()
            if self.cancel_requested():
                self.finish_without_engine(TrainingRun.Status.CANCELLED, "")
                return
            self.launch()
            self.follow()
            self.finish()
        except Exception as error:  # the run must end failed with the reason, never stay "running"
            logger.exception("training run %s failed in the runner", self.run.pk)
            if self.pgid:
                signal_group(self.pgid, signal.SIGKILL)
                if self.process is not None:
                    self.process.wait()
            self.finish_without_engine(TrainingRun.Status.FAILED, f"{type(error).__name__}: {error}")

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
            raise ValueError(f"dataset version #{run.dataset_version_id} has no train conversation to learn from")
        run.data_file = str(data)
        config = {
            "base_model": run.base_model, "data": str(data), "output_dir": str(self.out),
            "recipe": run.overrides or {}, "resume": bool(run.resume_requested),
        }
        (self.out / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        self.config_path = self.out / CONFIG_FILE
        if self.attempt > 1:
            self.log(f"--- attempt {self.attempt} on {host_name()}" + (" (resume)" if run.resume_requested else "") + " ---")
        self.save(output_dir=str(self.out), data_file=run.data_file, train_examples=run.train_examples,
                  log_tail=self.tail_text())

    def launch(self):
        gpus = visible_gpus()
        command = engine_command(self.config_path, gpus)
        self.log("$ " + " ".join(command))
        self.log_file = open(self.out / LOG_FILE, "a", encoding="utf-8")
        self.events_file = open(self.out / EVENTS_FILE, "a", encoding="utf-8")
        self.process = subprocess.Popen(
            command, cwd=settings.BASE_DIR, env=engine_environment(), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8", errors="replace",
            bufsize=1, start_new_session=True, preexec_fn=die_with_parent,
        )
        self.pgid = self.process.pid  # a new session: the leader's pid is the group id
        self.save(pid=self.process.pid, pgid=self.pgid, heartbeat_at=timezone.now())

    # --- following the engine --------------------------------------------------------------------------------
    def follow(self):
        lines = queue.Queue()
        readers = [
            threading.Thread(target=_read_lines, args=(stream, name, lines), daemon=True)
            for stream, name in ((self.process.stdout, "stdout"), (self.process.stderr, "stderr"))
        ]
        for reader in readers:
            reader.start()
        open_streams, exited_at = 2, None
        while open_streams:
            try:
                name, line = lines.get(timeout=TICK)
            except queue.Empty:
                name, line = None, None
            if name is not None and line is None:
                open_streams -= 1
            elif line is not None:
                self.on_line(name, line)
            self.flush()
            self.police()
            if self.process.poll() is not None:
                exited_at = exited_at or time.monotonic()
                if time.monotonic() - exited_at > 5:
                    # The leader is gone but something of its group still holds the pipes open.
                    signal_group(self.pgid, signal.SIGKILL)
        for reader in readers:
            reader.join(timeout=5)
        self.process.wait()
        signal_group(self.pgid, signal.SIGKILL)  # nothing of the group outlives the run
        self.log_file.close()
        self.events_file.close()

    def on_line(self, stream, line):
        line = line.rstrip("\n").split("\r")[-1]  # a progress bar redraws its line with \r: keep the last
        if stream == "stdout" and line.startswith("{"):
            try:
                event = json.loads(line)
            except ValueError:
                event = None
            if isinstance(event, dict) and "event" in event:
                self.events_file.write(line + "\n")
                self.events_file.flush()
                self.on_event(event)
                return
        if line.strip():
            self.log(line)
            self.log_file.write(line + "\n")
            self.log_file.flush()

    def on_event(self, event):
        kind = event["event"]
        if kind == "start":
            self.on_start(event)
        elif kind == "step":
            for name in SERIES:
                self.metrics.setdefault(name, []).append(event.get(name))
            self.set(
                step=event["step"], epoch=event["epoch"], total_steps=event["total_steps"],
                progress=min(1.0, event["step"] / event["total_steps"]) if event["total_steps"] else 0.0,
                stats={key: event.get(key) for key in
                       ("tokens_per_s", "trained_tokens_per_s", "eta_s", "elapsed_s", "memory_mb", "grad_norm", "lr", "loss")},
            )
        elif kind == "epoch_end":
            losses = self.metrics.setdefault("epoch_loss", [])
            self.metrics["epoch_loss"] = losses[: event["epoch"] - 1] + [event["mean_loss"]]
            self.set(epoch=event["epoch"])
            self.log(f"epoch {event['epoch']}: mean loss {event['mean_loss']:.4f}")
            self.flush(force=True)
        elif kind == "checkpoint":
            self.record_checkpoint(event["epoch"], event["step"], event["path"])
            self.log(f"checkpoint of epoch {event['epoch']} (step {event['step']}): {event['path']}")
            self.flush(force=True)
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
        self.set(
            recipe=event.get("recipe") or self.run.recipe, device=str(event.get("device", "")),
            world_size=event.get("world_size") or 1, total_steps=event.get("total_steps", 0),
            epochs=event.get("epochs", 0), step=event.get("start_step", 0), resumed_from=resumed_from,
            progress=event.get("start_step", 0) / event["total_steps"] if event.get("total_steps") else 0.0,
        )
        self.flush(force=True)

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

    # --- the database ------------------------------------------------------------------------------------------
    def set(self, **fields):
        self.fields.update(fields)
        self.dirty = True

    def flush(self, force=False):
        """Write pending progress and beat; at most once per TRAINING_PROGRESS_SECONDS unless forced."""
        now = time.monotonic()
        if not force and now - self.last_flush < setting("TRAINING_PROGRESS_SECONDS"):
            return
        self.last_flush = now
        fields = dict(self.fields, heartbeat_at=timezone.now())
        if self.dirty:
            fields.update(metrics=self.metrics, log_tail=self.tail_text())
        try:
            written = self.save(**fields)
        except DatabaseError:
            logger.warning("training run %s: progress not written, will retry", self.run.pk, exc_info=True)
            return
        self.fields, self.dirty = {}, False
        if not written and not self.lost:
            # Reaped meanwhile, or taken over: someone else decides about this run now; stop the engine.
            self.lost = True
            self.stop("lost")
        elif self.process is not None and not self.stop_reason and self.cancel_requested():
            self.stop("cancel")

    def police(self):
        """SIGKILL a group that ignored SIGTERM for TRAINING_KILL_GRACE_SECONDS."""
        if self.term_sent_at and time.monotonic() - self.term_sent_at > setting("TRAINING_KILL_GRACE_SECONDS"):
            signal_group(self.pgid, signal.SIGKILL)
            self.term_sent_at = None

    def stop(self, reason):
        if self.stop_reason:
            return
        self.stop_reason = reason
        self.log("cancel requested: stopping the engine" if reason == "cancel" else "this worker lost the run: stopping the engine")
        signal_group(self.pgid, signal.SIGTERM)
        self.term_sent_at = time.monotonic()

    def cancel_requested(self):
        try:
            return bool(TrainingRun.objects.filter(pk=self.run.pk).values_list("cancel_requested", flat=True).first())
        except DatabaseError:
            return False

    def save(self, **fields):
        """Update this attempt's row; 0 when the run is no longer ours (reaped, or a new attempt)."""
        return TrainingRun.objects.filter(pk=self.run.pk, status=TrainingRun.Status.RUNNING, attempt=self.attempt).update(**fields)

    def finish(self):
        returncode = self.process.returncode
        self.sync_checkpoints()
        if self.lost:
            logger.warning("training run %s: finished after it was taken from this worker; not recorded", self.run.pk)
            return
        if self.stop_reason == "cancel" or self.cancel_requested():
            status, error = TrainingRun.Status.CANCELLED, ""
        elif returncode == 0 and self.done is not None:
            status, error = TrainingRun.Status.SUCCEEDED, ""
            self.set(progress=1.0)
        else:
            status = TrainingRun.Status.FAILED
            error = self.engine_error or describe_exit(returncode)
            if self.engine_error and returncode:
                error = f"{self.engine_error} (exit code {returncode})"
        self.log(f"--- {status}" + (f": {error}" if error else "") + " ---")
        self.dirty = True
        self.flush(force=True)
        self.save(status=status, error=error, finished_at=timezone.now(), pid=None, pgid=None, resume_requested=False)

    def finish_without_engine(self, status, error):
        if error:
            self.log(f"error: {error}")
        self.save(status=status, error=error, finished_at=timezone.now(), pid=None, pgid=None,
                  resume_requested=False, log_tail=self.tail_text(), heartbeat_at=timezone.now())

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

    # --- the log tail ----------------------------------------------------------------------------------------
    def log(self, line):
        self.log_tail.append(line[:2000])
        self.dirty = True

    def tail_text(self):
        return "\n".join(self.log_tail)


def _read_lines(stream, name, lines):
    try:
        for line in stream:
            lines.put((name, line))
    finally:
        lines.put((name, None))
