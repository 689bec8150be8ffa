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
mod tokens;

type Result<T = ()> = std::result::Result<T, String>;

const TASKS: &[(&str, &str)] = &[
    (
        "test-hsm",
        "[--token NAME]: fmt, clippy, every workspace test on SoftHSM, demo --service --once, \
         the conformance suite on each token implementation, bench --quick (--token: the conformance suite on one of \
         softhsm, kryoptic, opencryptoki, tpm2, p11kit)",
    ),
    (
        "bench",
        "[--quick] [--token NAME] [--latency] [--filter WORD,...]: throughput, key loading, \
         memory and throughput at network latency on SoftHSM (or another token implementation) \
         and in software (--quick: smoke test; --latency: only the network-latency section)",
    ),
    (
        "tokens-doc",
        "the compatibility tables of docs/tokens.md from the last conformance runs",
    ),
    (
        "demo",
        "[--service [--once]]: provision a SoftHSM token and sign, verify, encrypt and decrypt \
         with HSM keys (--service: run the issuer example on it, until Ctrl-C; --once: fetch \
         the JWKS and a token, then stop)",
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
        "tokens-doc" => tokens::doc::run(&root()),
        "fuzz" => fuzz::run(rest),
        "soak" => soak::run(rest),
        // Internal: run by `test-hsm` in a child process with SOFTHSM2_CONF set (see softhsm.rs).
        "provision-tokens" => softhsm::provision_tokens(rest),
        // Internal: run by `test-hsm --token` with the token's environment (see tokens/mod.rs).
        "provision-conformance" => tokens::provision_conformance(rest),
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

/// The wall-clock time of each step of a run, printed at the end (also after a failure).
#[derive(Default)]
struct Timings(Vec<(String, f64, bool)>);

impl Timings {
    /// Runs `step`, recording its time and outcome.
    fn time<T>(&mut self, name: &str, step: impl FnOnce() -> Result<T>) -> Result<T> {
        let started = std::time::Instant::now();
        let outcome = step();
        self.0.push((
            name.to_owned(),
            started.elapsed().as_secs_f64(),
            outcome.is_ok(),
        ));
        outcome
    }

    fn print(&self) {
        let total: f64 = self.0.iter().map(|(_, s, _)| s).sum();
        eprintln!("xtask: step times");
        for (name, secs, ok) in &self.0 {
            let mark = if *ok { "ok    " } else { "FAILED" };
            eprintln!("xtask:   {mark} {secs:>7.1} s  {name}");
        }
        eprintln!("xtask:          {total:>7.1} s  total");
    }
}

fn test_hsm(args: &[String]) -> Result {
    let mut token = None;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--token" => {
                let name = rest.next().ok_or("--token takes a name")?;
                tokens::profile(name)?;
                token = Some(name.clone());
            }
            other => return Err(format!("test-hsm takes only --token NAME (got `{other}`)")),
        }
    }
    let mut timings = Timings::default();
    let outcome = match token {
        Some(name) => conformance(&name, &mut timings),
        None => test_everything(&mut timings),
    };
    timings.print();
    outcome
}

/// The conformance suite on one token implementation (provisioned, run, stopped).
fn conformance(name: &str, timings: &mut Timings) -> Result {
    let running = timings.time(&format!("{name}: install, start, provision"), || {
        tokens::start(&root(), name)
    })?;
    let outcome = timings.time(&format!("{name}: conformance suite"), || {
        run(
            &format!("conformance suite on {name}"),
            cargo()
                // `--workspace`: the feature resolution of `cargo test --workspace`, so the run
                // after the workspace tests rebuilds nothing.
                .args(["test", "--workspace", "--test", "conformance"])
                // One test at a time: tpm2-pkcs11 once answered a key load's
                // `C_FindObjectsInit` with `CKR_OPERATION_ACTIVE` while the suite's other test
                // ran beside it (1 run in 6); the suite checks each token's answers, not its
                // threading, which the SoftHSM suites and the soak cover.
                .args(["--", "--test-threads=1"])
                .envs(running.env()),
        )
    });
    timings.time(&format!("{name}: stop"), || {
        drop(running);
        Ok(())
    })?;
    outcome
}

fn test_everything(timings: &mut Timings) -> Result {
    // A fresh SoftHSM (installed if missing) with one token per integration suite.
    let hsm = timings.time("provision SoftHSM suite tokens", || {
        softhsm::provision_for_suites(&root())
    })?;
    // The bench crate (a workspace member) links OpenSSL through josekit: clippy and the tests
    // build it, so its development files must be there before they run.
    bench::openssl_dev_files()?;
    timings.time("cargo fmt --check", || {
        run(
            "cargo fmt --check",
            cargo().args(["fmt", "--all", "--check"]),
        )
    })?;
    timings.time("cargo clippy", || {
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
        )
    })?;
    // From here every step runs, and the failures are reported together at the end.
    let mut failed = Vec::new();
    if let Err(e) = timings.time("cargo test (SoftHSM)", || {
        run(
            "cargo test",
            // Every suite runs even when one fails, so a run shows every failure.
            cargo()
                .args(["test", "--workspace", "--no-fail-fast"])
                .envs(hsm.env()),
        )
    }) {
        failed.push(e);
    }
    // The issuer example as `cargo xtask demo --service` runs it, once: started, JWKS and a
    // token fetched over HTTP, stopped.
    if let Err(e) = timings.time("demo --service --once", || {
        demo::run(&["--service".to_owned(), "--once".to_owned()])
    }) {
        failed.push(e);
    }
    // The workspace build unifies features: the bench turns on jose-core's `aws-lc-rs`, so the
    // run above tested jose-core with aws-lc-rs as its default provider. jose-core alone, with its
    // default features, is the RustCrypto provider: the whole jose-core suite runs again under it.
    if let Err(e) = timings.time("cargo test -p jose-core (RustCrypto)", || {
        run(
            "cargo test -p jose-core (RustCrypto provider)",
            cargo().args(["test", "-p", "jose-core", "--no-fail-fast"]),
        )
    }) {
        failed.push(e);
    }
    // The conformance suite on every implementation.
    for name in tokens::NAMES {
        if let Err(e) = conformance(name, timings) {
            eprintln!("xtask: {name}: {e}");
            failed.push(format!("{name}: {e}"));
        }
    }
    // Every bench cell with a few operations, so the bench never rots.
    if let Err(e) = timings.time("bench --quick", || {
        bench::run_bench(&["--quick".to_owned()])
    }) {
        failed.push(e);
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} steps failed (conformance tables in target/conformance/):\n  {}",
            failed.len(),
            failed.join("\n  ")
        ))
    }
}
