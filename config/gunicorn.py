"""gunicorn's settings for the studio: `gunicorn -c config/gunicorn.py config.wsgi` (compose and the Dockerfile).

Sized for a 2-core host: one process per core (WEB_CONCURRENCY, gunicorn's own variable, default 2) × 4 threads
each = 8 requests at once; threads, because a page mostly waits on the database and the playground streams tokens
for seconds, and more processes only add memory and context switches (README: Load). Override any of these with
gunicorn's own flags or GUNICORN_CMD_ARGS, e.g. WEB_CONCURRENCY=4 on a 4-core host (README: Running in production).
"""
import os

bind = "0.0.0.0:8000"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = 4
# A request longer than this is killed: exports stream in chunks and imports upload once, both far below it.
timeout = 120
graceful_timeout = 30  # a deploy's SIGTERM lets running requests finish
keepalive = 5  # behind a proxy that reuses connections
max_requests = 2000  # recycle processes now and then (memory held by a loaded playground model is returned)
max_requests_jitter = 200
accesslog = "-"
forwarded_allow_ips = "*"  # the proxy in front sets X-Forwarded-Proto (SECURE_PROXY_SSL_HEADER); keep web private
