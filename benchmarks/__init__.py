"""Benchmarks that measure the service against baselines in the same run (`python -m benchmarks.serving`)."""
