"""Process groups of engine subprocesses: start one in its own group, tell whether it lives, kill it whole.

No Django here. The engine runs in a new session (its pid is its process group id), so torchrun and every
rank it spawns share one group, and one killpg stops them all.
"""
import ctypes
import os
import signal
import socket
import time

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def host_name() -> str:
    return socket.gethostname()


def die_with_parent() -> None:
    """preexec_fn of the engine: SIGTERM it when the worker process that started it dies (Linux only),
    so a killed worker leaves no orphan training on the GPU."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass  # not Linux: the heartbeat reaper still kills the group on this host


def group_alive(pgid: int | None) -> bool:
    """Is any process of the group still there? (Zombies count until their parent reaps them.)"""
    if not pgid or pgid <= 1:
        return False
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, it is someone else's
    return True


def signal_group(pgid: int | None, sig: int) -> bool:
    """Send `sig` to the group; False if there was no such group (or not ours to signal)."""
    if not pgid or pgid <= 1:  # never 0 (our own group) or 1 (init)
        return False
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def kill_group(pgid: int | None, process=None, grace: float = 10.0) -> None:
    """SIGTERM the group, wait up to `grace` seconds for it to go, then SIGKILL what is left.

    `process` (a Popen of the group leader) is waited for, so that it does not linger as a zombie.
    """
    if not signal_group(pgid, signal.SIGTERM):
        if process is not None:
            process.wait()
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None and not group_alive(pgid):
            return
        if process is None and not group_alive(pgid):
            return
        time.sleep(0.1)
    signal_group(pgid, signal.SIGKILL)
    if process is not None:
        process.wait()
