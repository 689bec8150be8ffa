//! `hsm-jose-bench`: the benchmarks of issue #7, run by `cargo xtask bench` against a SoftHSM
//! token it provisions (token `bench`, the fixture keys).
//!
//! ```text
//! hsm-jose-bench [--quick] [--no-latency] [--out PATH] [--filter WORD,...]
//! ```
//!
//! Environment: `HSM_MODULE`, `HSM_TOKEN`, `HSM_PIN` (as `SessionPool::from_env`) and what the
//! module needs (`SOFTHSM2_CONF`; `cargo xtask bench --token NAME` sets it for each token
//! implementation). A row whose key or mechanism the token lacks, or whose operation hsm-jose
//! does not offer there, is skipped with the reason (on stderr and after the tables) instead of
//! stopping the bench. Prints the tables on stdout, progress on stderr, and writes every number
//! (each repetition included) as JSON to `PATH` (default `target/bench/results.json`).
//! `--filter` runs only the rows whose name contains one of the words (case-insensitive; the
//! names are shown on stderr: `HSM ES256 sign (ec-p256)`, `software HS256 verify`,
//! `HSM key loading`, `memory`...), to profile one of them.
//!
//! 1. HSM signing, one thread: raw `cryptoki` sign beside a compact JWS from hsm-jose, same key.
//! 2. The same on 2 threads (and one per core when there are more): one shared `HsmJwk` and its
//!    pool; the raw cell gives each thread its own session.
//! 3. JWE decryption in the HSM beside raw `C_Decrypt` / `C_DeriveKey`.
//! 4. jose-core under each provider (RustCrypto, aws-lc-rs) beside jsonwebtoken (`rust_crypto`,
//!    `aws_lc_rs`), josekit (OpenSSL) and the providers' bare primitives, in software.
//! 5. Key loading: time of `HsmJwk::from_label`, PKCS#11 calls counted by the p11-fault shim.
//! 6. Memory: peak RSS and RSS growth over 100,000 signatures.
//! 7. Throughput at network latency: ES256 and RS256 signing by 1 to 256 concurrent callers
//!    (sync threads, and async tasks through `AsyncHsm`) with every token crypto call delayed
//!    by the p11-fault shim (1 ms, 5 ms) and through a `p11-kit server` (when `cargo xtask
//!    bench` started one: `BENCH_P11KIT_MODULE`, `P11_KIT_SERVER_ADDRESS`), beside the ceiling
//!    `min(sessions / latency, raw 2-thread throughput)`. Rows `latency: p11-fault 1 ms`,
//!    `latency: p11-fault 5 ms`, `latency: p11-kit server` (`--filter latency`: this section
//!    alone; `--no-latency`: without it, as `cargo xtask bench --token NAME` runs).

mod child;
mod der;
mod harness;
mod hsm;
mod latency;
mod report;
mod soft;

use std::path::PathBuf;

use cryptoki::mechanism::MechanismType;
use hsm_jose::{HsmJwk, SessionPool};
use jose_core::{Algorithm, JwsAlgorithm};

use crate::harness::{Ctx, Plan};

/// Stops the bench with a message: a benchmark of a failing operation measures nothing.
pub(crate) fn fail(message: &str) -> ! {
    eprintln!("hsm-jose-bench: {message}");
    std::process::exit(1)
}

/// The value, or stop with `what` and the error.
pub(crate) fn ok<T, E: std::fmt::Display>(result: Result<T, E>, what: &str) -> T {
    result.unwrap_or_else(|e| fail(&format!("{what}: {e}")))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // jsonwebtoken is built with both of its providers, so it needs one installed; this process
    // uses rust_crypto (the aws_lc_rs column is measured by a child that installs that one).
    if args.first().map(String::as_str) != Some("--child")
        && jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER
            .install_default()
            .is_err()
    {
        fail("jsonwebtoken's provider was already installed");
    }
    if args.first().map(String::as_str) == Some("--child") {
        child::main(&args[1..]);
        return;
    }
    let mut quick = false;
    let mut no_latency = false;
    let mut filter = Vec::new();
    let mut out = PathBuf::from("target/bench/results.json");
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--no-latency" => no_latency = true,
            "--out" => {
                out = it
                    .next()
                    .map(PathBuf::from)
                    .unwrap_or_else(|| fail("--out needs a path"))
            }
            "--filter" => {
                let words = it.next().unwrap_or_else(|| fail("--filter needs words"));
                filter.extend(words.split(',').map(str::to_owned));
            }
            "-h" | "--help" => {
                println!(
                    "usage: hsm-jose-bench [--quick] [--no-latency] [--out PATH] [--filter WORD,...]"
                );
                return;
            }
            other => fail(&format!("unknown argument `{other}`")),
        }
    }
    let plan = if quick { Plan::quick() } else { Plan::full() };
    let ctx = Ctx::new(plan, filter);
    let machine_before = report::Machine::now();

    let pool = ok(SessionPool::from_env(), "the bench token (HSM_* variables)");
    let sign = hsm::sign(&ctx, &pool);
    let jwe = hsm::decrypt(&ctx, &pool);
    let mut software = soft::run(&ctx);
    if ctx.start("software jsonwebtoken[aws_lc_rs] (child process)") {
        for (operation, jose, jwt) in child::jsonwebtoken_aws_lc(quick) {
            if let Some(row) = software.iter_mut().find(|r| r.operation == operation) {
                row.jsonwebtoken_aws_lc = Some(jwt);
                row.jose_core_aws_lc_in_child = Some(jose);
            }
        }
    }
    let load = hsm::load(&ctx, &pool);
    let scratch = out
        .parent()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    ok(std::fs::create_dir_all(&scratch), "the output directory");
    let counts_row = "HSM key load, PKCS#11 calls (p11-fault shim, child process)";
    let all_load = hsm::LOAD_KEYS
        .iter()
        .all(|label| HsmJwk::from_label(&pool, label).is_ok());
    let counts = if !ctx.start(counts_row) {
        None
    } else if !all_load {
        ctx.skip(counts_row, "not every key it loads is on this token");
        None
    } else {
        child::count_loads(&scratch)
    };
    let (ops, window) = if quick {
        (2_000, 200)
    } else {
        (100_000, 10_000)
    };
    let memory_row = format!("memory: {ops} ES256 signatures through hsm-jose (child process)");
    let memory = if !ctx.start(&memory_row) {
        None
    } else {
        match hsm::usable(
            &pool,
            "ec-p256",
            Algorithm::Jws(JwsAlgorithm::ES256),
            MechanismType::ECDSA,
        ) {
            Ok(_) => Some(child::memory(ops, window)),
            Err(reason) => {
                ctx.skip(&memory_row, &reason);
                None
            }
        }
    };
    let latency = if no_latency {
        None
    } else {
        latency::run(&ctx, &pool, &scratch)
    };
    ctx.progress("done");

    let results = report::Results::new(
        &plan,
        machine_before,
        ctx.seconds(),
        sign,
        jwe,
        software,
        load,
        counts,
        memory,
    )
    .with_latency(latency);
    print!("{}", results.table());
    let skipped = ctx.skipped();
    if !skipped.is_empty() {
        println!("\nRows skipped on this token ({}):", skipped.len());
        for row in &skipped {
            println!("  {row}");
        }
    }
    let json = ok(serde_json::to_string_pretty(&results), "results as JSON");
    ok(std::fs::write(&out, json + "\n"), "write the results");
    eprintln!("bench: results written to {}", out.display());
}
