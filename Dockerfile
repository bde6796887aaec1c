# The serving image: FastAPI + LiteRT and the shipped models; no TensorFlow, no Keras, no training code.
#   docker build -t fashion-mnist-service .
#   docker run --rm --read-only --tmpfs /tmp -p 8000:8000 fashion-mnist-service
# Without a registry (podman and a local Debian base image), see docs/deployment.md.
ARG BASE_IMAGE=python:3.11-slim

# ---- build: a virtual environment holding the serving dependencies -------------------------------
FROM ${BASE_IMAGE} AS build
RUN python3 -m venv /opt/venv
WORKDIR /build
COPY pyproject.toml constraints.txt ./
# Exactly the project's base dependencies ([project] dependencies of pyproject.toml, never the `train`
# or `dev` extras), pinned by constraints.txt. They are read from pyproject.toml instead of installing
# the project itself so that this layer is rebuilt only when the dependencies change.
RUN python3 -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > requirements.txt \
    && /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check -c constraints.txt -r requirements.txt \
    && /opt/venv/bin/pip uninstall --yes --disable-pip-version-check pip setuptools

# ---- runtime: the environment, the service and the models; nothing that builds ------------------
FROM ${BASE_IMAGE}
RUN useradd --system --user-group --uid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin app
COPY --from=build /opt/venv /opt/venv
WORKDIR /srv
# Owned by root and only readable by the service's user; the root filesystem may be mounted read-only.
COPY app/ app/
COPY models/ models/
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PORT=8000 \
    MODEL_REPOSITORY=/srv/models
# Bytecode is compiled now: at run time nothing is written outside /tmp.
RUN python3 -m compileall -q app
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '8000') + '/health', timeout=2)"]
# SIGTERM (also the default): uvicorn stops accepting, finishes in-flight requests, then exits.
STOPSIGNAL SIGTERM
# The one run command: uvicorn with the guarded protocol (app/server.py) and every server limit from the
# environment (defaults: MAX_HEADER_BYTES=32768 MAX_HEADER_FIELDS=100 HEADER_TIMEOUT=10 BODY_TIMEOUT=10
# KEEP_ALIVE_TIMEOUT=5 GRACEFUL_SHUTDOWN_TIMEOUT=20); every line it writes is JSON.
CMD ["python3", "-m", "app"]
