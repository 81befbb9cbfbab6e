#!/usr/bin/env bash
# Install the independent C2PA verifier the test suite runs (tests/js: @trustnxt/c2pa-ts, a pure
# TypeScript implementation, pinned by package-lock.json). Idempotent: does nothing when
# tests/js/node_modules already holds it. Needs Node.js >= 18 and npm.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../tests/js"

if [ -f node_modules/@trustnxt/c2pa-ts/package.json ]; then
    exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
    printf 'js-setup: npm is not installed; install Node.js >= 18 and npm (apt-get install nodejs npm)\n' >&2
    exit 1
fi
printf 'js-setup: npm ci in tests/js\n' >&2
npm ci --no-audit --no-fund >&2
