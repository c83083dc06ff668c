"""Where the real public samples are: ``shared/data`` beside the checkout (``../shared/data``), or beside
a folder above it (a git worktree such as ``/work/wt/<branch>`` next to ``/work/shared``), or the folder
named by ``LIMA_SHARED_DATA``. Tests that need it skip where it is absent."""
import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# The session's Celery worker (tests/conftest.py's celery_worker) logs here: one file per make test group.
WORKER_LOG = Path(os.environ.get("VAR_DIR") or REPO / "var") / "test-worker.log"


def _find_shared_data() -> Path:
    if os.environ.get("LIMA_SHARED_DATA"):
        return Path(os.environ["LIMA_SHARED_DATA"])
    for folder in REPO.parents:
        if (folder / "shared" / "data").is_dir():
            return folder / "shared" / "data"
    return REPO.parent / "shared" / "data"


SHARED_DATA = _find_shared_data()
