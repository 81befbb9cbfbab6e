#!/usr/bin/env bash
# Run every benchmark in bench/ (on demand; not part of the test suite). `make bench` calls this
# after scripts/setup.sh and scripts/ensure-services.sh. Full output goes to bench/out/.
# A figure that misses its target does not fail the run; a benchmark that breaks does.
# bench/scale.py and bench/scale_embeddings.py work at 1,000,000 rows/vectors: ~10 minutes each
# on two cores (SCALE_QUICK=1 runs them at 20,000 / 100,000); bench/verify_volume.py registers
# 1,000,000 outputs (see docs/scale.md for its duration; SCALE_QUICK=1: 50,000).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PY="${PY:-.venv/bin/python}"
OUT="bench/out"
mkdir -p "$OUT"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
status=0
for bench in bench/ingest.py bench/snapshot.py bench/audit.py bench/near_duplicate.py bench/pii.py bench/nsfw.py bench/embeddings.py bench/output_provenance.py bench/release.py bench/generation_throughput.py bench/review_ui.py bench/auditlog_csv.py bench/export.py bench/memory.py bench/accuracy.py bench/fuzz_ingest.py bench/load.py bench/reliability.py bench/scale.py bench/scale_embeddings.py bench/verify_volume.py; do
    name="$(basename "$bench" .py)"
    echo "== $bench" >&2
    args=()
    if [[ "${SCALE_QUICK:-}" == 1 && ( "$name" == scale* || "$name" == verify_volume ) ]]; then args=(--quick); fi
    if ! "$PY" "$bench" "${args[@]}" 2>&1 | tee "$OUT/$name-$stamp.txt"; then
        echo "== $bench failed" >&2
        status=1
    fi
done
echo
echo "== summary (full output in $OUT/*-$stamp.txt)"
grep -h '^BENCH ' "$OUT"/*-"$stamp".txt || true
exit "$status"
