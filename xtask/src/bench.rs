//! `cargo xtask bench [--quick]`: the benchmarks of `crates/hsm-jose-bench` against a SoftHSM
//! token of their own.
//!
//! 1. SoftHSM (installed if missing) and, for josekit's OpenSSL reference row, the OpenSSL
//!    development files (`libssl-dev`, `pkg-config`; installed if missing, as root).
//! 2. A fresh token `bench` with the fixture keys in `target/bench/hsm` (apart from the suites'
//!    tokens in `target/hsm`).
//! 3. The bench binary: built in release for a real run; `--quick` (a smoke test of every cell
//!    with a few operations each, run by `cargo xtask test-hsm`) uses the dev profile, whose
//!    dependencies the test run has already built.
//!
//! A full run writes `target/bench/results.json`, a quick one `target/bench/results-quick.json`
//! (so a test run never overwrites real numbers); a run of some rows only (`--filter`,
//! `--latency`) adds `-partial` to the name.
//!
//! `--token NAME` measures another token implementation instead (`softhsm`, `kryoptic`,
//! `opencryptoki`, `tpm2`, `p11kit`: see `tokens/mod.rs`), on its conformance token, and writes
//! `results[-quick]-NAME.json`. Rows whose key or mechanism that token lacks are skipped, each
//! with its reason. The latency section (7) runs on SoftHSM only, not with `--token`.
//!
//! Section 7 (throughput at network latency) needs a `p11-kit server` exporting the bench
//! token: started here (p11-kit installed if missing, as root) in `target/bench/p11kit`, and
//! stopped by PID when the run ends, fails or is interrupted (the token matrix's guard,
//! `tokens::p11kit_server`). If it cannot be started, the bench skips the p11-kit rows and
//! says why.
//!
//! `--filter WORD,...` runs only the rows whose name contains a word (the bench's own
//! `--filter`); `--latency` is `--filter latency`: section 7 alone (~2 min with its release
//! build done).

use std::process::Command;

use crate::{Result, cargo, root, run, softhsm, tokens};

/// The token label of the bench.
const TOKEN: &str = "bench";

pub(crate) fn run_bench(args: &[String]) -> Result {
    let mut quick = false;
    let mut token = None;
    let mut filter: Vec<String> = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--latency" => filter.push("latency".into()),
            "--filter" => {
                let words = rest
                    .next()
                    .ok_or("--filter takes words (comma-separated)")?;
                filter.extend(words.split(',').map(str::to_owned));
            }
            "--token" => {
                let name = rest.next().ok_or("--token takes a name")?;
                tokens::profile(name)?;
                token = Some(name.clone());
            }
            other => {
                return Err(format!(
                    "bench takes only --quick, --token NAME, --latency and --filter WORD,... \
                     (got `{other}`)"
                ));
            }
        }
    }
    openssl_dev_files()?;
    let root = root();
    let dir = root.join("target").join("bench");
    // The default: SoftHSM with a token of its own. `--token NAME`: that implementation's
    // conformance token (started here, stopped when `running` drops).
    let mut running = None;
    let mut p11kit = None;
    let env = match &token {
        None => {
            let hsm = softhsm::provision_in(&dir.join("hsm"), vec![TOKEN.to_owned()])?;
            let mut env = hsm.env();
            env.push(("HSM_TOKEN", TOKEN.into()));
            if wants(&filter, "latency: p11-kit server") {
                match start_p11kit(&dir.join("p11kit"), &hsm.conf) {
                    Ok(server) => {
                        env.push((P11KIT_MODULE_VAR, server.module.clone().into_os_string()));
                        env.extend(server.module_env.iter().cloned());
                        p11kit = Some(server);
                    }
                    Err(e) => {
                        eprintln!("xtask: no p11-kit server, the bench skips its p11-kit rows: {e}")
                    }
                }
            }
            env
        }
        Some(name) => {
            let r = tokens::start(&root, name)?;
            let env = r.env();
            running = Some(r);
            env
        }
    };
    let mut suffix = token
        .as_deref()
        .map(|t| format!("-{t}"))
        .unwrap_or_default();
    if !filter.is_empty() {
        // Some rows only: never in place of a whole run's numbers.
        suffix.push_str("-partial");
    }
    let out = dir.join(if quick {
        format!("results-quick{suffix}.json")
    } else {
        format!("results{suffix}.json")
    });
    let mut cmd = cargo();
    cmd.arg("run");
    if !quick {
        cmd.arg("--release");
    }
    cmd.args(["--quiet", "--package", "hsm-jose-bench", "--"]);
    if quick {
        cmd.arg("--quick");
    }
    if !filter.is_empty() {
        cmd.arg("--filter").arg(filter.join(","));
    }
    if token.is_some() {
        cmd.arg("--no-latency");
    }
    cmd.arg("--out").arg(&out).envs(env);
    let outcome = run(
        if quick {
            "hsm-jose-bench --quick"
        } else {
            "hsm-jose-bench (release)"
        },
        &mut cmd,
    );
    drop(p11kit);
    drop(running);
    outcome
}

/// The variable that tells the bench where p11-kit's client module is (`latency.rs`).
const P11KIT_MODULE_VAR: &str = "BENCH_P11KIT_MODULE";

/// Whether the bench runs the row `name` with these `--filter` words (as the bench decides).
fn wants(filter: &[String], name: &str) -> bool {
    let name = name.to_lowercase();
    filter.is_empty() || filter.iter().any(|f| name.contains(&f.to_lowercase()))
}

/// A `p11-kit server` exporting the bench token, in a fresh `dir`.
fn start_p11kit(dir: &std::path::Path, conf: &std::path::Path) -> Result<tokens::P11KitServer> {
    tokens::fresh_dir(dir)?;
    tokens::p11kit_server(dir, conf, TOKEN)
}

/// josekit links OpenSSL through openssl-sys, which needs the headers and `pkg-config`.
pub(crate) fn openssl_dev_files() -> Result {
    let present = Command::new("pkg-config")
        .args(["--exists", "openssl"])
        .status()
        .is_ok_and(|s| s.success());
    if present {
        return Ok(());
    }
    const COMMAND: &str = "apt-get update && apt-get install -y libssl-dev pkg-config";
    if !softhsm::is_root() || Command::new("apt-get").arg("--version").output().is_err() {
        return Err(format!(
            "the bench's josekit reference row needs the OpenSSL development files and pkg-config. \
             Install them, then run again (Debian: sudo sh -c '{COMMAND}')"
        ));
    }
    eprintln!("xtask: OpenSSL development files missing; running `{COMMAND}`");
    run("apt-get update", Command::new("apt-get").arg("update"))?;
    run(
        "apt-get install -y libssl-dev pkg-config",
        Command::new("apt-get")
            .args(["install", "-y", "libssl-dev", "pkg-config"])
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}
