//! Builds the guest component (`wasm32-wasip2`, plus the hostile test component and the three
//! pieces of the composed command, `command/`) so the host can embed them: `cargo build`,
//! `cargo run` and `cargo test` need no separate step and the binary needs no extra file.
//!
//! The nested cargo uses its own target directory; sharing the outer one deadlocks on its lock.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let host_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = host_dir.parent().unwrap().to_path_buf();
    for watched in [
        "guest/src",
        "guest/Cargo.toml",
        "tests/hostile-guest",
        "command",
        "wit",
        "schemas",
        "Cargo.lock",
        "host/src/network",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    println!("cargo:rerun-if-env-changed=SOURCE_INSTAGRAM_GUEST_WASM");

    // A prebuilt component may be supplied instead (e.g. by a packaging pipeline); the pieces
    // of the composed command are still built here.
    let prebuilt = std::env::var("SOURCE_INSTAGRAM_GUEST_WASM").ok();
    let mut packages = vec!["stdout-emitter", "command-runner", "http-policy"];
    if prebuilt.is_none() {
        packages.extend(["source-instagram-guest", "hostile-guest"]);
    }

    let target_dir = root.join("target").join("guest-build");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&root)
        .args(["build", "--locked", "--target", "wasm32-wasip2", "--profile", "guest"])
        .args(packages.iter().flat_map(|p| ["-p", p]))
        .arg("--target-dir")
        .arg(&target_dir);
    // Do not leak the outer build's settings into the wasm build.
    for var in
        ["CARGO_ENCODED_RUSTFLAGS", "RUSTFLAGS", "CARGO_TARGET_DIR", "CARGO_BUILD_TARGET", "RUSTC_WORKSPACE_WRAPPER"]
    {
        cmd.env_remove(var);
    }
    let status = cmd.status().expect("failed to run cargo to build the guest component");
    if !status.success() {
        let installed = Command::new("rustup")
            .args(["target", "list", "--installed"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).contains("wasm32-wasip2"))
            .unwrap_or(true);
        if !installed {
            panic!(
                "building the guest component needs the wasm32-wasip2 target: run `rustup target add wasm32-wasip2`"
            );
        }
        panic!("building the guest component (source-instagram-guest for wasm32-wasip2) failed; see the errors above");
    }
    let out = target_dir.join("wasm32-wasip2").join("guest");
    println!("cargo:rustc-env=STDOUT_EMITTER_WASM={}", out.join("stdout_emitter.wasm").display());
    println!("cargo:rustc-env=COMMAND_RUNNER_WASM={}", out.join("command-runner.wasm").display());
    println!("cargo:rustc-env=HTTP_POLICY_WASM={}", out.join("http_policy.wasm").display());
    if let Some(prebuilt) = prebuilt {
        println!("cargo:rustc-env=GUEST_WASM={prebuilt}");
        digest_env(Path::new(&prebuilt));
        println!("cargo:rustc-env=HOSTILE_GUEST_WASM=");
        return;
    }
    let wasm = out.join("source_instagram_guest.wasm");
    assert!(wasm.exists(), "the guest build did not produce {}", wasm.display());
    println!("cargo:rustc-env=GUEST_WASM={}", wasm.display());
    digest_env(&wasm);
    // The misbehaving test component (for the sandbox tests only; not embedded).
    println!("cargo:rustc-env=HOSTILE_GUEST_WASM={}", out.join("hostile_guest.wasm").display());
}

/// `GUEST_WASM_SHA256`: the embedded component's digest (hex), so a start with a warm cache
/// finds its compiled artifact without reading the component's bytes (which would make them
/// resident memory of every run).
fn digest_env(wasm: &Path) {
    use sha2::Digest;
    let bytes = std::fs::read(wasm).unwrap_or_else(|e| panic!("reading {}: {e}", wasm.display()));
    let hex: String = sha2::Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
    println!("cargo:rustc-env=GUEST_WASM_SHA256={hex}");
}
