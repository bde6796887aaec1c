#!/usr/bin/env bash
# CI: what the container tests (pytest -m container) need on a Debian/Ubuntu machine, as root:
# podman with runc, debootstrap, and the local base images built from Debian's packages. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
if ! command -v podman >/dev/null || ! command -v runc >/dev/null || ! command -v debootstrap >/dev/null; then
  apt-get update -q
  apt-get install -y -q podman runc debootstrap
fi
# podman-compose comes with the dev extra: .venv/bin/pip install -c constraints.txt -e ".[dev]"
deploy/podman/make-base-images.sh
