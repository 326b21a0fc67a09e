#!/usr/bin/env bash
# The documented example end to end: a local coordinator with two contributors, the
# word-count script from the docs submitted as a consumer would, its result printed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
DEMO_HOME=$(mktemp -d /tmp/runsurge-demo.XXXXXX)
export RUNSURGE_HOME="$DEMO_HOME"
UP_LOG="$DEMO_HOME/up.log"

cleanup() {
  if [ -n "${UP_PID:-}" ] && kill -0 "$UP_PID" 2>/dev/null; then
    kill -TERM "$UP_PID"
    wait "$UP_PID" 2>/dev/null || true
  fi
  rm -rf "$DEMO_HOME"
}
trap cleanup EXIT

echo "starting a local coordinator and 2 contributors (state in $DEMO_HOME)"
"$PY" -m runsurge up --contributors 2 --port 0 >"$UP_LOG" 2>&1 &
UP_PID=$!
for _ in $(seq 1 300); do
  grep -q '^READY ' "$UP_LOG" && break
  if ! kill -0 "$UP_PID" 2>/dev/null; then cat "$UP_LOG"; echo "runsurge up failed"; exit 1; fi
  sleep 0.2
done
grep -q '^READY ' "$UP_LOG" || { cat "$UP_LOG"; echo "runsurge up did not become ready"; exit 1; }

echo
echo "submitting examples/wordcount.py on examples/input.txt:"
"$PY" -m runsurge submit examples/wordcount.py examples/input.txt --wait
echo
echo "the same script over a group of inputs, aggregated (runsurge submit ... -a words=sum):"
"$PY" -m runsurge submit examples/wordcount.py examples/input.txt examples/more.txt \
  -a words=sum -a lines=sum --wait
echo
"$PY" -m runsurge contributors
echo "demo finished; stopping the local cluster"
