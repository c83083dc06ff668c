"""Progress as JSON lines on stdout, one object a line with an "event" key (see README.md)."""

import json
import math
import resource
import sys
import time

import torch


def emit_json_line(event: str, stream=None, **fields) -> dict:
    record = {"event": event, **fields}
    stream = stream or sys.stdout
    stream.write(json.dumps(record, allow_nan=False, default=str) + "\n")
    stream.flush()
    return record


def memory_mb(device: torch.device) -> float:
    """Peak memory so far: allocated CUDA memory on a GPU, the process's resident set on CPU."""
    if device.type == "cuda":
        return round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # Linux reports KiB


class Throughput:
    """Tokens per second and the time left, from the steps run in this process."""

    def __init__(self, total_steps: int, done_steps: int):
        self.total_steps = total_steps
        self.first_step = done_steps
        self.started = time.perf_counter()
        self.tokens = 0
        self.trained_tokens = 0

    def step(self, step: int, tokens: int, trained_tokens: int) -> dict:
        self.tokens += tokens
        self.trained_tokens += trained_tokens
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        per_step = elapsed / (step - self.first_step)
        return {
            "tokens_per_s": round(self.tokens / elapsed, 1),
            "trained_tokens_per_s": round(self.trained_tokens / elapsed, 1),
            "eta_s": round(per_step * (self.total_steps - step), 1),
            "elapsed_s": round(elapsed, 2),
        }


def finite(value: float) -> float | None:
    """JSON has no NaN: a diverged loss is reported as null."""
    return value if math.isfinite(value) else None
