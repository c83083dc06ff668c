"""gunicorn's settings for the studio: `gunicorn -c config/gunicorn.py config.wsgi` (compose and the Dockerfile).

Sized for a 2-core host: 3 processes (2 × cores − 1 leaves a core's share for the database and workers on a
small box) × 4 threads each = 12 requests at once; threads, because a page mostly waits on the database and the
playground streams tokens for seconds. Override any of these with gunicorn's own flags or GUNICORN_CMD_ARGS,
e.g. GUNICORN_CMD_ARGS="--workers 5" on a 4-core host (see README: Running in production).
"""
bind = "0.0.0.0:8000"
workers = 3
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
