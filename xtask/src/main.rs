//! `cargo xtask`: developer tasks for the hsm-jose workspace.
//!
//! Run with no arguments to list the tasks. Every task runs from the workspace root and calls
//! cargo through the `CARGO` variable that `cargo run` sets.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

mod bench;
mod demo;
mod fuzz;
mod soak;
mod softhsm;

type Result<T = ()> = std::result::Result<T, String>;

const TASKS: &[(&str, &str)] = &[
    (
        "test-hsm",
        "fmt check, clippy -D warnings, every workspace test against a fresh SoftHSM token, bench --quick",
    ),
    (
        "bench",
        "throughput, key loading and memory on SoftHSM and in software (--quick: smoke test)",
    ),
    (
        "demo",
        "provision a SoftHSM token and sign, verify, encrypt and decrypt with HSM keys",
    ),
    (
        "fuzz",
        "[--seconds N] [TARGET...]: every cargo-fuzz target, sharing N seconds (default 600)",
    ),
    (
        "soak",
        "[--signatures N] [--decryptions M]: 8+8 threads on one pool, 1% faults (release)",
    ),
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(task) = args.first() else {
        usage();
        return ExitCode::SUCCESS;
    };
    let rest = &args[1..];
    let outcome = match task.as_str() {
        "test-hsm" => test_hsm(rest),
        "bench" => bench::run_bench(rest),
        "demo" => demo::run(rest),
        "fuzz" => fuzz::run(rest),
        "soak" => soak::run(rest),
        // Internal: run by `test-hsm` in a child process with SOFTHSM2_CONF set (see softhsm.rs).
        "provision-tokens" => softhsm::provision_tokens(rest),
        "help" | "--help" | "-h" => {
            usage();
            Ok(())
        }
        other => Err(format!(
            "unknown task `{other}`; run `cargo xtask` to list the tasks"
        )),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

fn usage() {
    println!("usage: cargo xtask <task>\n\ntasks:");
    for (name, about) in TASKS {
        println!("  {name:<10} {about}");
    }
}

/// The workspace root (the parent of this crate's manifest directory).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// A `cargo` command run from the workspace root.
fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(root());
    cmd
}

/// Runs a command to completion; a non-zero exit is an error naming the step.
fn run(step: &str, cmd: &mut Command) -> Result {
    eprintln!("xtask: {step}");
    let status = cmd
        .status()
        .map_err(|e| format!("{step}: cannot start: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{step} failed ({status})"))
    }
}

fn test_hsm(args: &[String]) -> Result {
    if let Some(extra) = args.first() {
        return Err(format!("test-hsm takes no arguments (got `{extra}`)"));
    }
    // A fresh SoftHSM (installed if missing) with one token per integration suite.
    let hsm = softhsm::provision_for_suites(&root())?;
    // The bench crate (a workspace member) links OpenSSL through josekit: clippy and the tests
    // build it, so its development files must be there before they run.
    bench::openssl_dev_files()?;
    run(
        "cargo fmt --check",
        cargo().args(["fmt", "--all", "--check"]),
    )?;
    run(
        "cargo clippy",
        cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    run(
        "cargo test",
        cargo().args(["test", "--workspace"]).envs(hsm.env()),
    )?;
    // Every bench cell with a few operations, so the bench never rots.
    bench::run_bench(&["--quick".to_owned()])?;
    Ok(())
}
