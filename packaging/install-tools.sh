#!/usr/bin/env bash
# Debian packages the packaging build and its tests need (run as root, e.g. by .ci/run):
# musl-tools (C parts of the static build), podman/buildah/runc (images without a daemon),
# busybox-static (the image's shell), file (static-binary checks).
set -euo pipefail
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    musl-tools podman buildah runc busybox-static file ca-certificates > /dev/null
