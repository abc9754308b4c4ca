"""Benchmarks of the chunk path; run ``python -m benchmarks.ingest --help``."""
