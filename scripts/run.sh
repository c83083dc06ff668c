#!/usr/bin/env bash
# Starts the Celery workers and the web server; Ctrl-C stops all of them.
set -euo pipefail
PY=${PY:-.venv/bin/python}
CELERY="$(dirname "$PY")/celery"
ADDR=${RUN_ADDR:-127.0.0.1:8000}

pids=()
stop() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop INT TERM EXIT

# Imports and exports on `default`; training and generation one at a time on `gpu`.
"$CELERY" -A config worker -Q default -c 2 -n "default@%h" --loglevel=warning &
pids+=($!)
"$CELERY" -A config worker -Q gpu -c 1 -n "gpu@%h" --loglevel=warning &
pids+=($!)

echo
echo "LIMA Studio is starting on http://$ADDR/  (Ctrl-C stops the web server and the workers)"
"$PY" manage.py runserver "$ADDR" --noreload &
pids+=($!)
wait -n "${pids[@]}"
