#!/usr/bin/env bash
# Build the local Debian base images that stand in for registry images where no registry is reachable:
#   localhost/debian-python:bookworm  python3 + venv (Debian 12's Python is 3.11, like python:3.11-slim)
#   localhost/debian-nginx:bookworm   nginx-light, the load balancer of the compose stack
# Idempotent: an image that already exists is kept. Needs root, debootstrap and podman.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$here/containers.conf}"
suite=bookworm
mirror="${DEBIAN_MIRROR:-$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)}"
mirror="${mirror:-http://deb.debian.org/debian}"

make_image() {  # make_image NAME PACKAGES [CMD]
  local name="$1" packages="$2" cmd="${3:-}"
  if podman image exists "$name"; then
    echo "$name: present"
    return
  fi
  root="$(mktemp -d)"  # global, so that the EXIT trap can remove it after a failure
  echo "$name: debootstrap $suite ($packages) from $mirror"
  debootstrap --variant=minbase --include="$packages" "$suite" "$root" "$mirror" >/dev/null
  # Slim it the way the official slim images are: no apt lists, docs or caches.
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/usr/share/doc/* \
    "$root"/usr/share/man/* "$root"/usr/share/info/*
  local changes=(--change "ENV LANG=C.UTF-8")
  if [[ -n "$cmd" ]]; then
    changes+=(--change "CMD $cmd")
  fi
  tar -C "$root" -c . | podman import "${changes[@]}" - "$name" >/dev/null
  rm -rf "$root"
  echo "$name: built"
}

root=""
trap 'if [[ -n "$root" ]]; then rm -rf "$root"; fi' EXIT

make_image localhost/debian-python:"$suite" python3,python3-venv,ca-certificates
make_image localhost/debian-nginx:"$suite" nginx-light,ca-certificates '["nginx", "-g", "daemon off;"]'
