# Task runner shortcuts (optional: `cargo install just --locked`). CI does not need just.

export SOURCE_INSTAGRAM_CACHE_DIR := justfile_directory() / "target/component-cache"

# Run a full read against the built-in sandbox.
run:
    rustup target add wasm32-wasip2
    cargo run -p source-instagram -- demo

# The whole test suite (what CI runs).
test:
    bash tests/run-all.sh

# The read benchmark (release build; results go in BENCHMARKS.md).
bench:
    cargo bench -p source-instagram --bench read

# Build the guest component alone.
guest:
    cargo build -p source-instagram-guest --target wasm32-wasip2 --profile guest --target-dir target/guest-build

# Format and lint.
lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings
