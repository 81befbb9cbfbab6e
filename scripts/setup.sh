#!/usr/bin/env bash
# Prepare this checkout: system packages (apt), the virtualenv `.venv`, and the project with
# its pinned dependencies (`pip install -e '.[ml,trustmark,test]'`).
#
# Idempotent and fast when nothing changed: the Python step is skipped while the stamp file
# `.venv/.cleanroom-setup` matches pyproject.toml (and the interpreter); the apt step asks
# `dpkg -s` and runs `apt-get update` only when something is missing.
#
# Environment: PYTHON (default python3) builds the virtualenv; CLEANROOM_SETUP_FORCE=1
# reinstalls even when the stamp matches.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON="${PYTHON:-python3}"
VENV=".venv"
STAMP="$VENV/.cleanroom-setup"

log() { printf 'setup: %s\n' "$*" >&2; }

# --- System packages (apt) ---------------------------------------------------------------------
# Add Debian packages the platform needs here, one per line, each with the reason. Only the
# missing ones are installed; `apt-get update` runs only when at least one is missing.
# (Later: libimage-exiftool-perl for XMP writing.)
APT_PACKAGES=(
    tesseract-ocr      # OCR for the PII auditor (text in pixels)
    tesseract-ocr-eng  # its English language data
    chromium           # the browser tests (tests/web/) drive Debian's Chromium by path; Playwright downloads nothing
    fonts-dejavu-core  # a font for the pages Chromium renders in those tests (and their screenshots), and the PDF reports' font
    libpango-1.0-0     # WeasyPrint's text layout (the PDF reports)
    libpangoft2-1.0-0  # its FreeType/fontconfig backend
    libharfbuzz-subset0  # WeasyPrint's font subsetting
    poppler-utils      # pdftoppm/pdftotext: render and read the PDF reports when checking them
    docker-compose     # validates docker/compose.yaml offline (`docker-compose config`, tests/ops); no daemon needed
)

ensure_apt_packages() {
    local missing=() pkg
    for pkg in "${APT_PACKAGES[@]}"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 || { log "need root to install: ${missing[*]}"; exit 1; }
        sudo=(sudo -n)
    fi
    log "installing apt packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# --- Python: .venv and the project --------------------------------------------------------------
wanted_stamp() {
    # What the installed environment was built from: the dependency list and the interpreter.
    {
        sha256sum pyproject.toml
        "$VENV/bin/python" -c 'import sys; print(sys.version)'
    } | sha256sum | cut -d' ' -f1
}

ensure_venv() {
    if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
        return 0
    fi
    log "creating $VENV with $PYTHON ($("$PYTHON" --version 2>&1))"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
}

ensure_python_packages() {
    local wanted
    wanted="$(wanted_stamp)"
    if [ "${CLEANROOM_SETUP_FORCE:-0}" != "1" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$wanted" ]; then
        return 0
    fi
    log "installing the project and its pinned dependencies into $VENV"
    rm -f "$STAMP"
    "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input --quiet -e '.[ml,trustmark,test]'
    # The watermark library (rivaGan ONNX models + dwtDctSvd) declares opencv-python, whose 5.x
    # would replace opencv-python-headless 4.x (which keeps the cascades): install it alone.
    "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input --quiet --no-deps invisible-watermark==0.2.0
    printf '%s\n' "$wanted" >"$STAMP"
}

ensure_tools_venv() {
    # checkov (tests/ops/test_checkov.py) pins older boto3/packaging than the project does, so it
    # lives in its own virtualenv; installed only when missing.
    local tools=".venv-tools" checkov_version="3.3.30"
    if [ -x "$tools/bin/checkov" ] && [ "$("$tools/bin/checkov" --version 2>/dev/null)" = "$checkov_version" ]; then
        return 0
    fi
    log "installing checkov $checkov_version into $tools"
    "$PYTHON" -m venv "$tools"
    "$tools/bin/python" -m pip install --disable-pip-version-check --no-input --quiet "checkov==$checkov_version"
}

ensure_js_verifier() {
    # The independent C2PA verifier the suite runs (pure TypeScript, pinned by its lockfile).
    command -v npm >/dev/null 2>&1 || { APT_PACKAGES=(nodejs npm); ensure_apt_packages; }
    bash scripts/js-setup.sh
}

ensure_apt_packages
ensure_venv
ensure_python_packages
ensure_tools_venv
ensure_js_verifier
