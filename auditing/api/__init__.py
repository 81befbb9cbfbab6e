"""The REST API for audit findings (`/api/v1/findings/` and the per-asset, per-dataset views)."""
