#!/usr/bin/env bash
# The platform on one machine: a Celery worker (queues default, audit and gpu, with the periodic
# reconciler embedded) in the background, and the web server in the foreground. Ctrl-C stops both.
set -euo pipefail
umask 077  # the data folder and everything in it are the platform's user's alone (config/files.py)
cd "$(dirname "${BASH_SOURCE[0]}")/.."

HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8000}"
DATA_DIR="${CLEANROOM_DATA_DIR:-var}"
mkdir -p "$DATA_DIR"

# This checkout's code, even where the virtual environment has another copy installed.
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

# One process for every queue on one machine (the gpu queue makes it one task at a time).
.venv/bin/cleanroom worker --queues default,audit,gpu --beat --logfile "$DATA_DIR/worker.log" &
worker=$!
trap 'kill "$worker" 2>/dev/null; wait "$worker" 2>/dev/null' EXIT INT TERM
echo "run: worker started (pid $worker, log $DATA_DIR/worker.log)" >&2

.venv/bin/cleanroom web --dev --bind "$HOST:$PORT"
