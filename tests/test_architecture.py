"""Which way the arrows point (STYLE.md): core imports no app; provenance imports core;
auditing and training import provenance and core; generation imports those; the demo, above
them all, may import any. Every `import` statement counts, function-level ones too."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APPS = ("core", "provenance", "auditing", "training", "generation", "demo")
MAY_IMPORT = {
    "core": set(),
    "provenance": {"core"},
    "auditing": {"core", "provenance"},
    "training": {"core", "provenance"},
    "generation": {"core", "provenance", "auditing", "training"},
    "demo": {"core", "provenance", "auditing", "training", "generation"},
}


def _imported_apps(path: Path) -> set[tuple[str, int]]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found.update((name.split(".")[0], node.lineno) for name in names if name.split(".")[0] in APPS)
    return found


def test_no_app_imports_an_app_above_it():
    wrong = []
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            for imported, line in sorted(_imported_apps(path)):
                if imported != app and imported not in MAY_IMPORT[app]:
                    wrong.append(f"{path.relative_to(ROOT)}:{line} imports {imported}")
    assert not wrong, "imports pointing up (see STYLE.md, 'Which way the arrows point'):\n" + "\n".join(wrong)


def test_no_benchmark_script_shadows_a_package_of_the_project():
    # `python bench/x.py` puts bench/ first on sys.path: a bench/provenance.py made every
    # benchmark that imports the provenance app fail with "'provenance' is not a package".
    packages = {path.parent.name for path in ROOT.glob("*/__init__.py")}
    scripts = {path.stem for path in (ROOT / "bench").glob("*.py")}
    assert not scripts & packages, f"rename bench/{sorted(scripts & packages)}.py"
