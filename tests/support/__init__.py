"""Test support shared by every app's tests (no tests here).

- `tiny_models`: the tiny Stable Diffusion pipeline (root conftest: `tiny_model_dir`, `tiny_copy`).
- `pki`: signing identities, by `pki init` (root conftest: `pki`) or issued directly (`identity`).
- `worlds`: the governed worlds (root conftest: `world`; training: `governed`; generation: `world`).

Per-app builders live in `tests/<app>/factories.py`; fixtures in conftests; no module imports a
conftest (tests/test_test_layout.py).
"""
