//! `cargo xtask fuzz [--seconds N] [TARGET...]`: every cargo-fuzz target in `fuzz/`, one after
//! another, sharing a time budget of N seconds (default 600) equally.
//!
//! 1. Installs cargo-fuzz (`cargo install cargo-fuzz`) if `cargo fuzz` is missing. Runs it
//!    with the `nightly` toolchain when rustup has one, else with stable and
//!    `RUSTC_BOOTSTRAP=1` (cargo-fuzz passes `-Z` flags to rustc).
//! 2. Writes the seed corpora to `fuzz/corpus/<target>/` from the RFC 7520 (and RFC 8037)
//!    vectors in `crates/jose-core/tests/vectors/`: compact and JSON tokens, their protected
//!    headers and payloads, every key and a key set; plus the hand-written seeds committed in
//!    `fuzz/seeds/<target>/` (PKCS#11 URIs from RFC 7512, JWT claims).
//! 3. Runs each target for its share of the budget with `-rss_limit_mb=2048`,
//!    `-malloc_limit_mb=512` (one allocation above that is a crash: no input of a few KiB may
//!    make the library allocate unboundedly), `-timeout=10` and `-max_len=16384`, and reports
//!    executions, corpus growth, peak RSS and crashes. A crash leaves its input in
//!    `fuzz/artifacts/<target>/` and fails the task; the logs are in `target/fuzz-logs/`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use base64ct::{Base64UrlUnpadded, Encoding};
use serde_json::Value;

/// The targets, in the order they run (names of `fuzz/fuzz_targets/*.rs`).
const TARGETS: &[&str] = &[
    "jws_compact",
    "jws_json",
    "jws_signed_header",
    "jwe_compact",
    "jwe_json",
    "jwe_sealed_header",
    "jwk",
    "jwt",
    "pkcs11_uri",
];

const DEFAULT_SECONDS: u64 = 600;

pub(crate) fn run(args: &[String]) -> crate::Result {
    let mut seconds = DEFAULT_SECONDS;
    let mut targets = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => {
                let value = args.next().ok_or("--seconds needs a number")?;
                seconds = value
                    .parse()
                    .map_err(|_| format!("--seconds {value}: not a number of seconds"))?;
            }
            name if TARGETS.contains(&name) => targets.push(name),
            other => {
                return Err(format!(
                    "fuzz: unknown argument `{other}`; usage: cargo xtask fuzz [--seconds N] [TARGET...] \
                     (N: total seconds shared by the targets; targets: {})",
                    TARGETS.join(", ")
                ));
            }
        }
    }
    if targets.is_empty() {
        targets = TARGETS.to_vec();
    }
    let per_target = (seconds / targets.len() as u64).max(1);

    let root = crate::root();
    let toolchain = Toolchain::find();
    ensure_cargo_fuzz(&toolchain)?;
    let corpora = seed_corpora(&root)?;
    crate::run(
        "cargo fuzz build (release, debug assertions, AddressSanitizer)",
        toolchain.cargo_fuzz(&root).arg("build"),
    )?;

    let logs = root.join("target").join("fuzz-logs");
    std::fs::create_dir_all(&logs).map_err(|e| format!("{}: {e}", logs.display()))?;
    let mut results = Vec::new();
    for target in &targets {
        let corpus = root.join("fuzz").join("corpus").join(target);
        let seeds = corpora.get(*target).copied().unwrap_or(0);
        eprintln!("xtask: fuzz {target} for {per_target} s ({seeds} seeds)");
        let log = logs.join(format!("{target}.log"));
        let log_file =
            std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let started = Instant::now();
        let status = toolchain
            .cargo_fuzz(&root)
            .args(["run", target])
            .arg(&corpus)
            .args([
                "--",
                &format!("-max_total_time={per_target}"),
                "-rss_limit_mb=2048",
                "-malloc_limit_mb=512",
                "-timeout=10",
                "-max_len=16384",
                "-print_final_stats=1",
            ])
            .stdout(Stdio::null())
            .stderr(log_file)
            .status()
            .map_err(|e| format!("cargo fuzz run {target}: {e}"))?;
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let result = Outcome::parse(
            target,
            seeds,
            started.elapsed().as_secs(),
            status.success(),
            &text,
        );
        eprintln!("xtask: {}", result.line());
        results.push(result);
    }

    println!(
        "\nfuzz: {} targets, {per_target} s each ({seconds} s in all)",
        results.len()
    );
    println!(
        "| target | seconds | executions | exec/s | seeds | corpus at end | peak RSS MiB | crashes |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for r in &results {
        println!("{}", r.row());
    }
    let crashed: Vec<_> = results.iter().filter(|r| !r.ok).collect();
    if crashed.is_empty() {
        println!("\nno crash, no leak, no timeout, no allocation over the limits");
        Ok(())
    } else {
        for r in &crashed {
            println!("\n{}: {}", r.target, r.failure);
        }
        Err(format!(
            "{} of {} targets crashed: inputs in fuzz/artifacts/, logs in {}",
            crashed.len(),
            results.len(),
            logs.display()
        ))
    }
}

/// How to run cargo-fuzz: nightly through rustup, or stable with RUSTC_BOOTSTRAP.
enum Toolchain {
    Nightly,
    StableBootstrap,
}

impl Toolchain {
    fn find() -> Toolchain {
        let listed = Command::new("rustup")
            .args(["toolchain", "list"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).contains("nightly"))
            .unwrap_or(false);
        if listed {
            Toolchain::Nightly
        } else {
            eprintln!("xtask: no nightly toolchain; using stable with RUSTC_BOOTSTRAP=1");
            Toolchain::StableBootstrap
        }
    }

    /// `cargo fuzz` from the workspace root, with this toolchain.
    fn cargo_fuzz(&self, root: &Path) -> Command {
        let mut cmd = match self {
            Toolchain::Nightly => {
                let mut cmd = Command::new("rustup");
                cmd.args(["run", "nightly", "cargo", "fuzz"]);
                cmd
            }
            Toolchain::StableBootstrap => {
                let mut cmd = crate::cargo();
                cmd.arg("fuzz").env("RUSTC_BOOTSTRAP", "1");
                cmd
            }
        };
        // `cargo run` (which runs xtask) pins its own toolchain and tools in these.
        for variable in ["RUSTUP_TOOLCHAIN", "RUSTC", "RUSTDOC", "CARGO", "RUSTFLAGS"] {
            cmd.env_remove(variable);
        }
        cmd.current_dir(root);
        cmd
    }
}

fn ensure_cargo_fuzz(toolchain: &Toolchain) -> crate::Result {
    let present = toolchain
        .cargo_fuzz(&crate::root())
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if present {
        return Ok(());
    }
    crate::run(
        "cargo install cargo-fuzz",
        crate::cargo().args(["install", "cargo-fuzz", "--locked"]),
    )
}

/// Writes `fuzz/corpus/<target>/` (seeds from the vectors and from `fuzz/seeds/`); returns
/// the number of seeds per target.
fn seed_corpora(root: &Path) -> crate::Result<BTreeMap<&'static str, usize>> {
    let mut seeds: BTreeMap<&'static str, Vec<Vec<u8>>> = BTreeMap::new();
    let vectors = root.join("crates/jose-core/tests/vectors");
    let mut files = Vec::new();
    json_files(&vectors, &mut files)?;
    files.sort();
    let mut keys = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
        let doc: Value =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))?;
        walk(&doc, &mut seeds, &mut keys);
    }
    let set = serde_json::json!({ "keys": keys }).to_string().into_bytes();
    seeds.entry("jwk").or_default().push(set);
    // The claims seeds also go in as JWT payloads; the JSON tokens also seed the compact
    // targets (a JSON document is a very malformed compact token, and the reverse).
    let claims: Vec<_> = seeds.get("jwt").cloned().unwrap_or_default();
    seeds.entry("jws_signed_header").or_default().extend(
        claims
            .iter()
            .map(|c| [br#"{"alg":"HS256","typ":"JWT"}"#.as_slice(), b"\n", c].concat()),
    );

    let mut counts = BTreeMap::new();
    for target in TARGETS {
        let dir = root.join("fuzz").join("corpus").join(target);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut all = seeds.remove(*target).unwrap_or_default();
        let committed = root.join("fuzz").join("seeds").join(target);
        if let Ok(entries) = std::fs::read_dir(&committed) {
            for entry in entries.flatten() {
                if let Ok(bytes) = std::fs::read(entry.path()) {
                    all.push(bytes);
                }
            }
        }
        all.sort();
        all.dedup();
        for (i, seed) in all.iter().enumerate() {
            let path = dir.join(format!("seed-{i:03}"));
            std::fs::write(&path, seed).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        counts.insert(*target, all.len());
    }
    Ok(counts)
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) -> crate::Result {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            json_files(&path, out)?;
        } else if path.extension().is_some_and(|x| x == "json") {
            out.push(path);
        }
    }
    Ok(())
}

fn b64(text: &str) -> Option<Vec<u8>> {
    Base64UrlUnpadded::decode_vec(text).ok()
}

/// Sorts what a vector file holds into seeds: compact tokens by their number of parts, JSON
/// serializations by kind, keys, the protected headers with their payload or plaintext (for
/// the targets that sign or seal any header), and JSON payloads as JWT claims.
fn walk(value: &Value, seeds: &mut BTreeMap<&'static str, Vec<Vec<u8>>>, keys: &mut Vec<Value>) {
    match value {
        Value::Object(map) => {
            if map.contains_key("kty") {
                seeds
                    .entry("jwk")
                    .or_default()
                    .push(value.to_string().into_bytes());
                keys.push(value.clone());
            }
            let serialized = map.contains_key("signatures")
                || map.contains_key("signature")
                || map.contains_key("ciphertext");
            if serialized {
                let target = if map.contains_key("ciphertext") {
                    "jwe_json"
                } else {
                    "jws_json"
                };
                seeds
                    .entry(target)
                    .or_default()
                    .push(value.to_string().into_bytes());
            }
            let text_of = |name: &str| map.get(name).and_then(Value::as_str);
            if let Some(payload) = text_of("payload") {
                if payload.trim_start().starts_with('{') {
                    seeds
                        .entry("jwt")
                        .or_default()
                        .push(payload.as_bytes().to_vec());
                }
            }
            for item in map.values() {
                walk(item, seeds, keys);
            }
        }
        Value::Array(items) => {
            for item in items {
                walk(item, seeds, keys);
            }
        }
        Value::String(text) if text.starts_with("ey") => {
            let parts: Vec<&str> = text.split('.').collect();
            let (target, sealed) = match parts.len() {
                3 => ("jws_compact", "jws_signed_header"),
                5 => ("jwe_compact", "jwe_sealed_header"),
                _ => return,
            };
            seeds
                .entry(target)
                .or_default()
                .push(text.as_bytes().to_vec());
            seeds
                .entry("jwt")
                .or_default()
                .push(text.as_bytes().to_vec());
            // Header, newline, then the payload (JWS) or a short plaintext (JWE).
            if let Some(header) = b64(parts[0]) {
                let body = match parts.len() {
                    3 => b64(parts[1]).unwrap_or_else(|| parts[1].as_bytes().to_vec()),
                    _ => b"You can trust us to stick with you through thick and thin".to_vec(),
                };
                seeds
                    .entry(sealed)
                    .or_default()
                    .push([header.as_slice(), b"\n", &body].concat());
            }
        }
        _ => {}
    }
}

/// What one target's run came to, from libFuzzer's final statistics.
struct Outcome {
    target: String,
    ok: bool,
    seconds: u64,
    executions: u64,
    exec_per_sec: u64,
    seeds: usize,
    corpus: u64,
    peak_rss_mb: u64,
    failure: String,
}

impl Outcome {
    fn parse(target: &str, seeds: usize, seconds: u64, ok: bool, log: &str) -> Outcome {
        let stat = |name: &str| {
            log.lines()
                .filter_map(|l| l.strip_prefix(&format!("stat::{name}:")))
                .filter_map(|v| v.trim().parse::<u64>().ok())
                .next_back()
                .unwrap_or(0)
        };
        // "#12345  DONE   cov: 1234 ft: 5678 corp: 321/45Kb ..." (or the last status line).
        let corpus = log
            .lines()
            .rev()
            .find_map(|l| {
                let rest = &l[l.find("corp: ")? + 6..];
                rest.split('/').next()?.trim().parse().ok()
            })
            .unwrap_or(0);
        let failure = if ok {
            String::new()
        } else {
            log.lines()
                .filter(|l| {
                    l.contains("ERROR: libFuzzer")
                        || l.contains("ERROR: AddressSanitizer")
                        || l.contains("panicked at")
                        || l.contains("Test unit written to")
                        || l.contains("out-of-memory")
                })
                .collect::<Vec<_>>()
                .join("\n")
        };
        Outcome {
            target: target.to_owned(),
            ok,
            seconds,
            executions: stat("number_of_executed_units"),
            exec_per_sec: stat("average_exec_per_sec"),
            seeds,
            corpus,
            peak_rss_mb: stat("peak_rss_mb"),
            failure,
        }
    }

    fn line(&self) -> String {
        format!(
            "{}: {} executions in {} s, corpus {} (from {} seeds), peak RSS {} MiB, {}",
            self.target,
            self.executions,
            self.seconds,
            self.corpus,
            self.seeds,
            self.peak_rss_mb,
            if self.ok { "no crash" } else { "CRASHED" }
        )
    }

    fn row(&self) -> String {
        format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            self.target,
            self.seconds,
            self.executions,
            self.exec_per_sec,
            self.seeds,
            self.corpus,
            self.peak_rss_mb,
            if self.ok { "0" } else { "1 (see below)" }
        )
    }
}
