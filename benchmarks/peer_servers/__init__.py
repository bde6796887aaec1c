"""Minimal idiomatic servers of the same job in other serving frameworks (`python -m benchmarks.peers`).

Each runs in its own virtual environment (build/peers/<name>/, pinned by requirements/<name>.txt)
with the checkout on PYTHONPATH, and imports only `classify` from here and `app.imaging` /
`app.preprocessing` from the service: numpy, Pillow and LiteRT, nothing of FastAPI.
"""
