"""Benchmarks of the invariants library (scripts, run with ``python -m benchmarks.<name>``)."""
