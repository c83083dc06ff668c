"""What /healthz/ checks: the database, the broker, a live worker on each queue, free disk under MEDIA_ROOT.

Each check returns a dict with `ok` and a few figures, never a URL, a password or a path outside the studio's
own names. A failed check says what failed in words; the exception's text is not shown (it may quote a DSN).
"""
import shutil
import time

from django.conf import settings
from django.db import connection


def _timed(check):
    started = time.monotonic()
    try:
        found = check()
    except Exception as error:  # a probe reports every failure as "down", never raises
        found = {"ok": False, "error": f"{type(error).__name__}"}
    found["ms"] = round((time.monotonic() - started) * 1000, 1)
    return found


def check_database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"ok": True, "engine": connection.vendor}


def check_broker():
    from config.celery import app
    from core.broker import ensure_broker_folders

    ensure_broker_folders()
    with app.connection_for_write() as conn:
        # One attempt, a short wait: a probe answers within seconds, whatever the broker does.
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=settings.HEALTHZ_TIMEOUT)
        transport = conn.transport.driver_type
    return {"ok": True, "transport": transport}


def live_workers_by_queue(timeout):
    """{queue: number of workers that answered a broadcast within `timeout` seconds while consuming it}.

    A broadcast (Celery's `inspect active_queues`) is answered by each worker's main process, so a worker busy
    with a long task still answers; a stopped, hung or disconnected one does not. Works on Redis and on kombu's
    filesystem transport alike."""
    from config.celery import app

    replies = app.control.inspect(timeout=timeout).active_queues() or {}
    counts = {}
    for queues in replies.values():
        for queue in queues or []:
            counts[queue["name"]] = counts.get(queue["name"], 0) + 1
    return counts


def check_workers(broker_ok):
    if not broker_ok:
        return {queue: {"ok": False, "workers": 0, "error": "broker down"} for queue in settings.HEALTHZ_QUEUES}
    counts = live_workers_by_queue(settings.HEALTHZ_TIMEOUT)
    return {queue: {"ok": counts.get(queue, 0) > 0, "workers": counts.get(queue, 0)}
            for queue in sorted(set(settings.HEALTHZ_QUEUES) | set(counts))}


def check_disk():
    root = settings.MEDIA_ROOT
    root.mkdir(parents=True, exist_ok=True)
    usage = shutil.disk_usage(root)
    minimum = settings.HEALTHZ_MIN_FREE_MB * 1024 * 1024
    return {"ok": usage.free >= minimum, "free_mb": usage.free // (1024 * 1024), "min_free_mb": settings.HEALTHZ_MIN_FREE_MB,
            "used_percent": round(100 * usage.used / usage.total, 1) if usage.total else 0.0}


def liveness():
    """The cheap form for a load balancer: this process answers and reaches the database."""
    checks = {"database": _timed(check_database)}
    return all(check["ok"] for check in checks.values()), checks


def readiness():
    """Everything. Required (503 when down): the database, the broker, a worker on each of HEALTHZ_QUEUES, free disk
    of at least HEALTHZ_MIN_FREE_MB. A worker on a queue not listed is reported and never required."""
    checks = {"database": _timed(check_database), "broker": _timed(check_broker), "disk": _timed(check_disk)}
    started = time.monotonic()
    try:
        workers = check_workers(checks["broker"]["ok"])
    except Exception as error:
        workers = {queue: {"ok": False, "workers": 0, "error": type(error).__name__} for queue in settings.HEALTHZ_QUEUES}
    checks["workers"] = {"ok": all(workers.get(q, {}).get("ok") for q in settings.HEALTHZ_QUEUES), "queues": workers,
                         "ms": round((time.monotonic() - started) * 1000, 1)}
    return all(check["ok"] for check in checks.values()), checks
