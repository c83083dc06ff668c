"""An engine subprocess of a job (training, generation, later scoring), followed to its end.

The engine runs in its own session, so its pid is its process group and every process it starts (torchrun's
ranks) is in it; it dies with the worker process that started it (PR_SET_PDEATHSIG); it speaks JSON lines
(`{"event": ...}`, on stdout or stderr; any other line is log). A cancel, or a job the worker lost, stops it:
SIGTERM to the group, SIGKILL after JOB_KILL_GRACE_SECONDS. Whatever the way out, nothing of the group
outlives `run_engine`.
"""
from __future__ import annotations

import json
import queue
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings

from core.processes import die_with_parent, signal_group

TICK = 0.5  # seconds: how often the loop wakes when the engine is quiet
EXITED_GRACE = 5.0  # the leader is gone but something of its group still holds the pipes open


@dataclass
class EngineOutcome:
    returncode: int
    stopped: str = ""  # "cancel" or "lost" when the job asked the engine to stop
    error: str = ""  # the message of the engine's last "error" event
    tail: list[str] = field(default_factory=list)  # its last lines that were no event

    def failure(self) -> str:
        """Why the engine failed, for a person."""
        if self.error:
            return self.error + (f" (exit code {self.returncode})" if self.returncode > 0 else "")
        if self.returncode < 0:
            try:
                name = signal.Signals(-self.returncode).name
            except ValueError:
                name = f"signal {-self.returncode}"
            return f"The engine was killed by {name} (out of memory, or stopped from outside)."
        last = "\n".join(self.tail[-20:])
        return f"The engine exited with code {self.returncode}." + (f"\n{last}" if last else "")


def parse_event(line: str) -> dict | None:
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        event = json.loads(line)
    except ValueError:
        return None
    return event if isinstance(event, dict) and "event" in event else None


def run_engine(
    command: list[str],
    context,
    *,
    on_event: Callable[[dict], None],
    on_line: Callable[[str, str], None] | None = None,
    on_start: Callable[[subprocess.Popen], None] | None = None,
    env=None,
    cwd=None,
    tail_lines: int = 60,
) -> EngineOutcome:
    """Run `command` to its end, passing each event to `on_event` and each other line to `on_line(stream,
    line)`; stop it when `context` (a JobContext) is cancelled or lost."""
    process = subprocess.Popen(
        command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, encoding="utf-8", errors="replace", bufsize=1, start_new_session=True,
        preexec_fn=die_with_parent,
    )
    group = process.pid  # a new session: the leader's pid is the group id
    lines: queue.Queue = queue.Queue()
    readers = [
        threading.Thread(target=_read_lines, args=(stream, name, lines), daemon=True)
        for stream, name in ((process.stdout, "stdout"), (process.stderr, "stderr"))
    ]
    for reader in readers:
        reader.start()
    outcome = EngineOutcome(returncode=0)
    tail: deque[str] = deque(maxlen=tail_lines)
    term_sent_at = exited_at = None
    open_streams = 2
    try:
        if on_start is not None:
            on_start(process)
        while open_streams:
            try:
                name, line = lines.get(timeout=TICK)
            except queue.Empty:
                name, line = None, None
            if name is not None and line is None:
                open_streams -= 1
            elif line is not None:
                line = line.rstrip("\n").split("\r")[-1]  # a progress bar redraws its line with \r: keep the last
                event = parse_event(line)
                if event is not None:
                    if event.get("event") == "error":
                        outcome.error = str(event.get("message") or event.get("type") or "error")
                    on_event(event)
                elif line.strip():
                    tail.append(line)
                    if on_line is not None:
                        on_line(name, line)
            context.tick()
            if not outcome.stopped and (context.cancelled or context.lost):
                outcome.stopped = "cancel" if context.cancelled and not context.lost else "lost"
                signal_group(group, signal.SIGTERM)
                term_sent_at = time.monotonic()
            if term_sent_at and time.monotonic() - term_sent_at > settings.JOB_KILL_GRACE_SECONDS:
                signal_group(group, signal.SIGKILL)
                term_sent_at = None
            if process.poll() is not None:
                exited_at = exited_at or time.monotonic()
                if time.monotonic() - exited_at > EXITED_GRACE:
                    signal_group(group, signal.SIGKILL)
    finally:
        if open_streams:  # the loop was left by an exception: stop the engine before anything else
            signal_group(group, signal.SIGKILL)
        for reader in readers:
            reader.join(timeout=5)
        outcome.returncode = process.wait()
        signal_group(group, signal.SIGKILL)  # nothing of the group outlives the job
    outcome.tail = list(tail)
    return outcome


def _read_lines(stream, name, lines):
    try:
        for line in stream:
            lines.put((name, line))
    finally:
        lines.put((name, None))
