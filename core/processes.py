"""Processes of long work: engine subprocesses in their own process group (tell whether one lives, kill it
whole), and a forked child that streams what it makes back through a pipe.

No Django here. The engine runs in a new session (its pid is its process group id), so torchrun and every
rank it spawns share one group, and one killpg stops them all.
"""
import ctypes
import fcntl
import gc
import os
import pickle
import signal
import socket
import time
from collections.abc import Iterator

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def host_name() -> str:
    return socket.gethostname()


def die_with_parent(sig: int = signal.SIGTERM, parent: int | None = None) -> None:
    """Have the kernel send `sig` to this process when the process that started it dies (Linux's
    PR_SET_PDEATHSIG), so a killed worker leaves no orphan training on a GPU or parsing a dump for an hour.

    Used as the engine's preexec_fn, and first thing in a forked child. Given `parent`, a child whose
    parent died before the call exits at once."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, sig)
    except (OSError, AttributeError):  # pragma: no cover - not Linux: the job reaper still ends the job
        return
    if parent is not None and os.getppid() != parent:
        os._exit(1)


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


# --- A forked child streaming its results ------------------------------------------------------

_END_OF_RESULTS = "end of results"


class ChildFailed(Exception):
    """A child process died, or could not send what it made."""


class ForkedChild:
    """``produce()`` run in a forked copy of this process, the items it yields (picklable)
    streamed back through a pipe: iterate over the object to read them.

    The child touches nothing of the parent's but what ``produce`` reads: it never returns into
    the caller's code, leaves with ``os._exit`` (no clean-up of the parent's database connections or
    temporary files runs twice) and collects no garbage (no finaliser of the parent's objects runs
    there)."""

    def __init__(self, produce):
        read_fd, write_fd = os.pipe()
        try:  # a bigger pipe lets the child run further ahead of a reader that is busy
            fcntl.fcntl(read_fd, fcntl.F_SETPIPE_SZ, 1 << 20)
        except (AttributeError, OSError):  # pragma: no cover - not Linux, or a lower system limit
            pass
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child, whose coverage is not collected
            status = 1
            try:
                gc.disable()
                die_with_parent(signal.SIGKILL, parent)
                os.close(read_fd)
                with open(write_fd, "wb", buffering=1 << 16) as out:
                    for item in produce():
                        pickle.dump(item, out, protocol=pickle.HIGHEST_PROTOCOL)
                    pickle.dump(_END_OF_RESULTS, out)
                status = 0
            finally:
                os._exit(status)
        os.close(write_fd)
        self.pid = pid
        self._results = open(read_fd, "rb", buffering=1 << 16)

    def __iter__(self) -> Iterator:
        while True:
            try:
                item = pickle.load(self._results)
            except EOFError:
                raise ChildFailed(f"a helper process (pid {self.pid}) stopped before sending all it made") from None
            if isinstance(item, str) and item == _END_OF_RESULTS:
                return
            yield item

    def close(self) -> None:
        if self.pid is None:
            return
        try:
            finished, _ = os.waitpid(self.pid, os.WNOHANG)
            if not finished:  # stopped early (an error, a failed part): it has nothing more to do
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
        except ChildProcessError:  # pragma: no cover - someone else reaped it
            pass
        self.pid = None
        self._results.close()
