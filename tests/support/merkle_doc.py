"""The offline proof checker of docs/merkle.md, run as a reader would run it: the doc's own
Python block, in a fresh interpreter with nothing of Cleanroom on its path. Tests use it on
proofs the platform hands out, so the doc cannot drift from the platform."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "merkle.md"


def doc_checker() -> str:
    """The first ```python block of docs/merkle.md."""
    found = re.search(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert found, "docs/merkle.md has no Python block"
    return found.group(1)


def check_with_doc(proof_path: Path, image_path: Path) -> str:
    """What the doc's checker prints for this proof and image (`included` when it holds)."""
    script = proof_path.parent / "check_proof.py"
    script.write_text(doc_checker(), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-I", str(script), str(proof_path), str(image_path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=proof_path.parent,
    )
    return (done.stdout + done.stderr).strip()
