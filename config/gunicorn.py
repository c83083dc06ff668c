"""gunicorn's settings for the studio: `gunicorn -c config/gunicorn.py config.wsgi` (compose and the Dockerfile).

Two processes per core (WEB_CONCURRENCY, gunicorn's own variable; 4 on a 2-core host) × 2 threads each = 8 requests
at once per 2 cores. Threads, because a page mostly waits on the database and the playground streams tokens for
seconds; but no more than two a process, since threads of one process take turns on its interpreter lock: with 50
annotators on 2 cores, 4 × 2 gave a p95 of 79–90 ms where 2 × 4 gave 187–257 ms, and 12.5 ms of CPU a request
instead of 15–17 (README: Load). Override any of these with gunicorn's own flags or GUNICORN_CMD_ARGS.
"""
import os

CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)

bind = "0.0.0.0:8000"
workers = int(os.environ.get("WEB_CONCURRENCY", 2 * CORES))
worker_class = "gthread"
threads = 2
# A request longer than this is killed: exports stream in chunks and imports upload once, both far below it.
timeout = 120
graceful_timeout = 30  # a deploy's SIGTERM lets running requests finish
keepalive = 5  # behind a proxy that reuses connections
max_requests = 2000  # recycle processes now and then (memory held by a loaded playground model is returned)
max_requests_jitter = 200
accesslog = "-"
forwarded_allow_ips = "*"  # the proxy in front sets X-Forwarded-Proto (SECURE_PROXY_SSL_HEADER); keep web private
