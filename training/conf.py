"""Training settings: a Django setting when defined, else the environment variable of the same name, else
the default here."""
import os

from django.conf import settings

DEFAULTS = {
    # A running run whose runner has been silent this long is dead (its worker died or lost the database).
    # The runner beats every TRAINING_PROGRESS_SECONDS, so two minutes is many missed beats.
    "TRAINING_HEARTBEAT_TIMEOUT": 120.0,
    # Progress rows are written at most this often (the engine prints a line per optimizer step).
    "TRAINING_PROGRESS_SECONDS": 1.0,
    # After SIGTERM, how long the engine's process group may take to exit before SIGKILL.
    "TRAINING_KILL_GRACE_SECONDS": 10.0,
    # GPUs a run uses; 0 = every GPU torch sees on the worker (torchrun when more than one).
    "TRAINING_GPUS": 0,
    # Lines of the engine's stderr kept on the run.
    "TRAINING_LOG_TAIL_LINES": 60,
}


def setting(name):
    default = DEFAULTS[name]
    value = getattr(settings, name, None)
    if value is None:
        value = os.environ.get(name)
    if value in (None, ""):
        return default
    return type(default)(value)
