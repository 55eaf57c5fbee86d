#!/usr/bin/env bash
# Podman as it works on the CI and development machines: no daemon, vfs storage, cgroupfs,
# the runc runtime and no default ulimits (packaging/containers.conf).
set -euo pipefail
export CONTAINERS_CONF="$(cd "$(dirname "$0")" && pwd)/containers.conf"
exec podman --storage-driver vfs --cgroup-manager cgroupfs --runtime runc "$@"
