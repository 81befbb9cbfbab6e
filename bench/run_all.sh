#!/usr/bin/env bash
# Run every benchmark in bench/ (on demand; not part of the test suite). `make bench` calls this
# after scripts/setup.sh and scripts/ensure-services.sh. Full output goes to bench/out/.
# A figure that misses its target does not fail the run; a benchmark that breaks does.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PY="${PY:-.venv/bin/python}"
OUT="bench/out"
mkdir -p "$OUT"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
status=0
for bench in bench/ingest.py bench/snapshot.py bench/audit.py bench/near_duplicate.py bench/pii.py bench/nsfw.py bench/embeddings.py bench/output_provenance.py bench/soft_binding.py bench/review_ui.py bench/auditlog_csv.py bench/export.py bench/memory.py bench/accuracy.py bench/fuzz_ingest.py bench/load.py; do
    name="$(basename "$bench" .py)"
    echo "== $bench" >&2
    if ! "$PY" "$bench" 2>&1 | tee "$OUT/$name-$stamp.txt"; then
        echo "== $bench failed" >&2
        status=1
    fi
done
echo
echo "== summary (full output in $OUT/*-$stamp.txt)"
grep -h '^BENCH ' "$OUT"/*-"$stamp".txt || true
exit "$status"
