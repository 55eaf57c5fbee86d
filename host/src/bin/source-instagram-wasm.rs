//! `source-instagram-wasm`: the `source-instagram` command under the name the packages use
//! (the wheel's script, the image's entrypoint; see `packaging/`). Same program, same CLI.

#[path = "../main.rs"]
mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
