#!/usr/bin/env bash
# The whole test suite (the README's test command and what CI runs):
#   1. Rust: unit tests, end-to-end tests of the real binary and component against the fake
#      Graph API, property tests (each run's stdout is kept in target/transcripts);
#   2. acceptance, in a venv with pinned requirements: PyAirbyte as a real client, every
#      transcript validated against Airbyte's published protocol models, Airbyte's own standard
#      tests for sources (airbyte-cdk), and the component run outside our host (examples/:
#      wasmtime-py, jco transpile, the composed command under `jco run`) with records equal to
#      the native read.
set -euo pipefail
cd "$(dirname "$0")/.."

rustup target add wasm32-wasip2
export SOURCE_INSTAGRAM_CACHE_DIR="$PWD/target/component-cache"
export SOURCE_INSTAGRAM_TRANSCRIPTS="$PWD/target/transcripts"
rm -rf "$SOURCE_INSTAGRAM_TRANSCRIPTS"

# Also builds target/debug/source-instagram and target/debug/fake-graph for the acceptance suite.
cargo test --workspace --locked

# The release artifacts (one static musl release build: the wheel, the image, the components),
# for tests/acceptance/test_packaging.py; CI sets SOURCE_INSTAGRAM_PACKAGING=1.
if [ "${SOURCE_INSTAGRAM_PACKAGING:-0}" = 1 ]; then
    bash packaging/build.sh
fi

command -v python3 >/dev/null || { echo "tests/run-all.sh: python3 is needed for the acceptance suite (PyAirbyte)" >&2; exit 1; }
venv="$PWD/target/acceptance-venv"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/acceptance/requirements.txt \
    -r examples/python/requirements.txt
# The JavaScript example and `jco run` (tests/acceptance/test_embedding.py) need Node; without
# it those tests are skipped, except in CI (SOURCE_INSTAGRAM_REQUIRE_ALL=1, see .ci/run).
if command -v npm >/dev/null; then
    (cd examples/js && npm ci --silent --no-audit --no-fund)
fi
# `--read-from-streams=all`: Airbyte's standard tests also read every stream through the image
# (their default reads none there; tests/acceptance/standard/).
AIRBYTE_OFFLINE_MODE=1 DO_NOT_TRACK=1 "$venv/bin/python" -m pytest tests/acceptance -q -p no:cacheprovider \
    --read-from-streams=all
