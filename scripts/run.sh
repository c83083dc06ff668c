#!/usr/bin/env bash
# Starts the Celery workers and the web server; Ctrl-C stops all of them.
set -euo pipefail
PY=${PY:-.venv/bin/python}
CELERY="$(dirname "$PY")/celery"
ADDR=${RUN_ADDR:-127.0.0.1:8000}
LOGS=${VAR_DIR:-var}/log
mkdir -p "$LOGS"

pids=()
stop() {
  trap - INT TERM EXIT
  echo
  echo "Stopping the web server and the workers…"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop INT TERM EXIT

# Imports and exports on `default`; training and generation one at a time on `gpu`. Their logs go to files
# so that the terminal keeps the logins and the server's requests.
PYTHONWARNINGS="ignore::celery.platforms.SecurityWarning" \
  "$CELERY" -A config -q worker -Q default -c 2 -n "default@%h" --loglevel=info >"$LOGS/worker-default.log" 2>&1 &
pids+=($!)
PYTHONWARNINGS="ignore::celery.platforms.SecurityWarning" \
  "$CELERY" -A config -q worker -Q gpu -c 1 -n "gpu@%h" --loglevel=info >"$LOGS/worker-gpu.log" 2>&1 &
pids+=($!)

echo
echo "LIMA Studio: http://$ADDR/   (Ctrl-C stops the web server and both workers)"
echo "Worker logs: $LOGS/worker-default.log, $LOGS/worker-gpu.log"
echo
"$PY" manage.py runserver "$ADDR" --noreload &
pids+=($!)
wait -n "${pids[@]}"
