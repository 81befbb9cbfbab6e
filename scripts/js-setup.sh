#!/usr/bin/env bash
# Install the JavaScript the test suite runs (tests/js, pinned by package-lock.json): the
# independent C2PA verifier @trustnxt/c2pa-ts (pure TypeScript) and axe-core, the accessibility
# checker the browser tests inject into each page. Idempotent: does nothing when
# tests/js/node_modules already holds both. Needs Node.js >= 18 and npm.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../tests/js"

if [ -f node_modules/@trustnxt/c2pa-ts/package.json ] && [ -f node_modules/axe-core/axe.min.js ]; then
    exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
    printf 'js-setup: npm is not installed; install Node.js >= 18 and npm (apt-get install nodejs npm)\n' >&2
    exit 1
fi
printf 'js-setup: npm ci in tests/js\n' >&2
npm ci --no-audit --no-fund >&2
