"""The REST API (/api/v1/): thin views over provenance's selectors and services."""
