"""Benchmarks that measure the service against baselines and peers in the same run.

`harness` (servers, load, /proc measurement, goals, exit statuses, results) and `uploads` serve the
scenarios: `serving` (service, FastAPI ceiling, tutorial server), `peers` (other serving
frameworks, in `peer_servers/`), `photo_accuracy`, `profile`, `observability`.
"""
