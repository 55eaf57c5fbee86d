#!/usr/bin/env bash
# The release artifacts, from ONE static (musl) release build of the host:
#   target/wheels/airbyte_source_instagram_wasm-*.whl   the PyAirbyte wheel (maturin, bindings = "bin")
#   image airbyte/source-instagram-wasm:0.1.0       the Airbyte connector image (podman)
#   target/artifacts/source-instagram.wasm          the bare component
#   target/artifacts/source-instagram-command.wasm  the composed wasi:cli/run command
# Needs Debian's musl-tools, podman, buildah, runc and busybox-static (packaging/install-tools.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
rustup target add x86_64-unknown-linux-musl
venv="$PWD/target/packaging-venv"
if [ ! -x "$venv/bin/maturin" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r packaging/requirements.txt
(cd packaging/python && "$venv/bin/maturin" build --release --locked --target x86_64-unknown-linux-musl \
    --compatibility manylinux2014 musllinux_1_2 --out "$OLDPWD/target/wheels")
# The wheel's build: the binary `source-instagram-wasm` (host/Cargo.toml's `wheel` feature).
bin=target/x86_64-unknown-linux-musl/release/source-instagram-wasm
mkdir -p target/artifacts
"$bin" component --out target/artifacts/source-instagram.wasm
"$bin" component --command --out target/artifacts/source-instagram-command.wasm
bash packaging/image.sh "$bin"
