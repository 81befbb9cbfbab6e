"""Audit report exports: what an export says about a snapshot (records), the formats that write
it (formats), and the service that writes one file atomically (service)."""
