"""The test suite's own layout: builders live in `tests/<app>/factories.py` and `tests/support/`,
fixtures in conftests that pytest finds by folder. A module that imports a conftest couples two
folders' fixtures by accident (and registers them twice), and one that imports another test
module breaks when that module is tidied, so none may do either."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def _imported_modules(tree: ast.Module) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            found.append((node.lineno, module))
            # `from tests.provenance.api import conftest`, `from . import conftest`
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
    return found


def conftest_imports(root: Path) -> list[str]:
    """`path:line imports module` for every import of a conftest or a test module under `root`."""
    offences = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for line, module in _imported_modules(tree):
            last = module.rsplit(".", 1)[-1]
            if last == "conftest" or last.startswith("test_"):
                offences.append(f"{path.relative_to(root.parent)}:{line} imports {module}")
    return offences


def test_no_test_module_imports_a_conftest():
    offences = conftest_imports(TESTS)

    assert offences == [], "import builders from tests/<app>/factories.py or tests/support/ instead:\n" + "\n".join(offences)


def test_the_check_sees_every_way_of_importing_a_conftest(tmp_path):
    package = tmp_path / "tests"
    package.mkdir()
    (package / "test_a.py").write_text("from tests.provenance.api.conftest import World\n")
    (package / "test_b.py").write_text("import tests.generation.conftest\n")
    (package / "test_c.py").write_text("from . import conftest\n")
    (package / "test_d.py").write_text("def f():\n    from .conftest import png\n")
    (package / "test_e.py").write_text("def f():\n    from tests.generation.test_worker import BROKER\n")
    (package / "test_fine.py").write_text("from tests.provenance.factories import jpeg\n")

    assert [offence.split(":")[0] for offence in conftest_imports(package)] == [
        "tests/test_a.py",
        "tests/test_b.py",
        "tests/test_c.py",
        "tests/test_d.py",
        "tests/test_e.py",
    ]
