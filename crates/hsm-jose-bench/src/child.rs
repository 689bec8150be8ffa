//! Measurements that need a process of their own, run by the bench re-executing itself:
//!
//! - `--child keyload SHIM`: loads keys through the p11-fault shim, whose `P11_FAULT_STATS` file
//!   counts every PKCS#11 call (the shim and SoftHSM are loaded only in this process; the
//!   counting costs a file write per call, so the timing of key loads is measured elsewhere).
//! - `--child memory OPS WINDOW`: OPS ES256 signatures through hsm-jose; the resident set size
//!   after each WINDOW of them and the peak (`VmHWM` covers this process's run only).
//! - `--child latency SETUP MODE` and `--child latency-calls STATS`: section 7, one token setup
//!   a process (see `latency.rs`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use hsm_core::{Pin, SessionPool};
use hsm_jose::HsmJwk;
use jose_core::{JwsAlgorithm, jws};
use p11_fault::harness::Stats;
use serde::{Deserialize, Serialize};

use crate::soft::BenchClaims;
use crate::{fail, ok};

/// PKCS#11 calls of one key load, by function.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct LoadCount {
    pub(crate) key: String,
    pub(crate) calls: BTreeMap<String, u64>,
    pub(crate) sessions_opened: u64,
}

impl LoadCount {
    pub(crate) fn total(&self) -> u64 {
        self.calls.values().sum()
    }

    /// `C_FindObjectsInit x1, C_FindObjects x1, ...` in call order of a key load.
    pub(crate) fn breakdown(&self) -> String {
        const ORDER: &[&str] = &[
            "C_FindObjectsInit",
            "C_FindObjects",
            "C_FindObjectsFinal",
            "C_GetAttributeValue",
        ];
        let mut names: Vec<&String> = self.calls.keys().collect();
        names.sort_by_key(|n| ORDER.iter().position(|o| o == n).unwrap_or(ORDER.len()));
        names
            .into_iter()
            .map(|n| format!("{} x{}", n.trim_start_matches("C_"), self.calls[n]))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The resident set over a long signing run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct MemoryRun {
    pub(crate) algorithm: String,
    pub(crate) ops: u64,
    pub(crate) window: u64,
    /// `VmRSS` before the first signature, KiB.
    pub(crate) rss_start_kib: u64,
    /// `VmRSS` after each window of signatures, KiB.
    pub(crate) rss_after_window_kib: Vec<u64>,
    /// `VmHWM` at the end, KiB.
    pub(crate) peak_kib: u64,
    pub(crate) seconds: f64,
}

impl MemoryRun {
    pub(crate) fn growth_kib(&self) -> i64 {
        let first = self.rss_after_window_kib.first().copied().unwrap_or(0) as i64;
        let last = self.rss_after_window_kib.last().copied().unwrap_or(0) as i64;
        last - first
    }

    /// Growth from the middle of the run to its end: what a leak would keep adding once the
    /// allocator has reached its working size.
    pub(crate) fn second_half_growth_kib(&self) -> i64 {
        let samples = &self.rss_after_window_kib;
        let middle = samples.get(samples.len().saturating_sub(1) / 2).copied();
        let last = samples.last().copied();
        match (middle, last) {
            (Some(m), Some(l)) => l as i64 - m as i64,
            _ => 0,
        }
    }
}

/// A `/proc/self/status` field in KiB.
pub(crate) fn status_kib(field: &str) -> u64 {
    status_kib_in(&mut String::new(), field)
}

/// [`status_kib`] reading into `buf`, whose capacity is kept: once it has grown, a sample
/// allocates nothing that could show up in the resident set being measured.
fn status_kib_in(buf: &mut String, field: &str) -> u64 {
    use std::io::Read;
    buf.clear();
    let mut file = ok(
        std::fs::File::open("/proc/self/status"),
        "/proc/self/status",
    );
    ok(file.read_to_string(buf), "/proc/self/status");
    buf.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| fail(&format!("no {field} in /proc/self/status")))
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| fail(&format!("{name} is not set")))
}

/// Runs a child and parses the JSON it prints last.
fn run_child<T: for<'de> Deserialize<'de>>(args: &[String], extra_env: &[(&str, &Path)]) -> T {
    let exe = ok(std::env::current_exe(), "the bench executable");
    let mut cmd = Command::new(exe);
    cmd.arg("--child").args(args);
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let out = ok(cmd.output(), "run a child bench");
    if !out.status.success() {
        fail(&format!(
            "child {args:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text.lines().last().unwrap_or_default();
    ok(serde_json::from_str(last), "child output")
}

/// Section 5, counting: the PKCS#11 calls of each key load, or `None` without the shim.
pub(crate) fn count_loads(scratch: &Path) -> Option<Vec<LoadCount>> {
    let shim = shim_path()?;
    let stats = scratch.join("p11-fault-stats.txt");
    let target = env("HSM_MODULE");
    let counts: Vec<LoadCount> = run_child(
        &["keyload".into(), shim.display().to_string()],
        &[
            ("P11_FAULT_STATS", &stats),
            ("P11_FAULT_TARGET", Path::new(&target)),
        ],
    );
    Some(counts)
}

/// The shim's cdylib: cargo builds it into `deps/` beside this binary (a dependency's cdylib);
/// [`p11_fault::harness::shim_path`] looks there for test executables, which live in `deps/`.
pub(crate) fn shim_path() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?;
    [dir.join("deps"), dir.to_path_buf()]
        .into_iter()
        .map(|d| d.join(p11_fault::harness::SHIM_FILE_NAME))
        .find(|p| p.is_file())
        .or_else(p11_fault::harness::shim_path)
}

fn keyload_child(shim: &str) {
    let stats_path = PathBuf::from(env("P11_FAULT_STATS"));
    let pool = ok(
        SessionPool::builder()
            .module(shim)
            .token_label(env("HSM_TOKEN"))
            .pin(Pin::new(env("HSM_PIN")))
            .build(),
        "a pool through the shim",
    );
    let read = || ok(Stats::read(&stats_path), "shim stats");
    let mut out = Vec::new();
    for label in crate::hsm::LOAD_KEYS {
        let before = read();
        let key = ok(HsmJwk::from_label(&pool, label), "load through the shim");
        let after = read();
        drop(key);
        let mut calls = BTreeMap::new();
        for (name, counts) in &after.functions {
            let n = counts.calls - before.function(name).calls;
            if n > 0 {
                calls.insert(name.clone(), n);
            }
        }
        out.push(LoadCount {
            key: (*label).into(),
            calls,
            sessions_opened: after.sessions_opened - before.sessions_opened,
        });
    }
    println!("{}", ok(serde_json::to_string(&out), "JSON"));
}

/// Section 4's jsonwebtoken[aws_lc_rs] column, measured in a child process (jsonwebtoken's
/// provider is process-wide; this process uses `rust_crypto`) round by round with jose-core's
/// aws-lc-rs provider: (operation, jose-core, jsonwebtoken).
pub(crate) fn jsonwebtoken_aws_lc(
    quick: bool,
) -> Vec<(String, crate::harness::Rate, crate::harness::Rate)> {
    let mode = if quick { "quick" } else { "full" };
    run_child(&["jsonwebtoken-aws-lc".into(), mode.into()], &[])
}

/// Section 6: runs the long signing run in a child process.
pub(crate) fn memory(ops: u64, window: u64) -> MemoryRun {
    run_child(&["memory".into(), ops.to_string(), window.to_string()], &[])
}

fn memory_child(ops: u64, window: u64) {
    let pool = ok(SessionPool::from_env(), "pool");
    let key = ok(HsmJwk::from_label(&pool, "ec-p256"), "ec-p256");
    let payload = BenchClaims::new().json();
    let mut buf = String::with_capacity(16 << 10);
    let rss_start_kib = status_kib_in(&mut buf, "VmRSS");
    let start = std::time::Instant::now();
    let mut rss_after_window_kib = Vec::with_capacity((ops / window + 1) as usize);
    for i in 1..=ops {
        let token = ok(
            jws::sign_compact(&key, JwsAlgorithm::ES256, &payload, None),
            "sign",
        );
        std::hint::black_box(token);
        if i % window == 0 {
            rss_after_window_kib.push(status_kib_in(&mut buf, "VmRSS"));
        }
    }
    let run = MemoryRun {
        algorithm: "ES256 (ec-p256) through hsm-jose".into(),
        ops,
        window,
        rss_start_kib,
        rss_after_window_kib,
        peak_kib: status_kib("VmHWM"),
        seconds: start.elapsed().as_secs_f64(),
    };
    println!("{}", ok(serde_json::to_string(&run), "JSON"));
}

/// `--child ...`: the child side.
pub(crate) fn main(args: &[String]) {
    match args {
        [kind, shim] if kind == "keyload" => keyload_child(shim),
        [kind, quick] if kind == "jsonwebtoken-aws-lc" => {
            let plan = if quick == "quick" {
                crate::harness::Plan::quick()
            } else {
                crate::harness::Plan::full()
            };
            let rates = crate::soft::jsonwebtoken_only(&plan);
            println!("{}", ok(serde_json::to_string(&rates), "JSON"));
        }
        [kind, stats] if kind == "latency-calls" => crate::latency::calls_child(stats),
        [kind, setup, mode, sessions] if kind == "latency" => {
            crate::latency::child(setup, mode, sessions)
        }
        [kind, ops, window] if kind == "memory" => {
            let parse = |s: &String| -> u64 { ok(s.parse(), "a count") };
            memory_child(parse(ops), parse(window).max(1));
        }
        _ => fail(&format!("unknown child {args:?}")),
    }
}
