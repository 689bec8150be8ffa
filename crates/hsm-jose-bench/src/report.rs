//! The printed table, the JSON document, and the targets of issue #7 (reported, not asserted).

use std::fmt::Write as _;

use serde::Serialize;

use crate::child::{LoadCount, MemoryRun};
use crate::harness::{Plan, Rate};
use crate::hsm::{JweRow, LoadRow, SignRow};
use crate::soft::SoftRow;

/// Target: hsm-jose at least this fraction of the raw token operation.
const RATIO_TARGET: f64 = 0.97;
/// Target: speed-up on 2 threads.
const SCALING_TARGET: f64 = 1.8;
/// Target: jose-core at least as fast as jsonwebtoken.
const PEER_TARGET: f64 = 1.0;
/// jose-core over its provider's bare primitive, asymmetric operations (overhead <= 10%).
const OVERHEAD_TARGET: f64 = 0.9;
/// Target: PKCS#11 calls of a key load, the session aside.
const LOAD_CALLS_TARGET: u64 = 3;
/// Target: no RSS growth over the long run. One page of slack for the measurement itself.
const GROWTH_TARGET_KIB: i64 = 4;

/// What the machine is, and how busy it was.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Machine {
    pub(crate) cores: usize,
    pub(crate) cpu: String,
    pub(crate) memory_total: String,
    pub(crate) kernel: String,
    /// `/proc/loadavg` when the run started (1, 5, 15 minutes): other work on the machine.
    pub(crate) load_average_start: String,
    pub(crate) load_average_end: String,
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn loadavg() -> String {
    read("/proc/loadavg")
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

impl Machine {
    pub(crate) fn now() -> Self {
        let cpuinfo = read("/proc/cpuinfo");
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name")?.split_once(':'))
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_else(|| "unknown".into());
        let memory_total = read("/proc/meminfo")
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kib| format!("{:.1} GiB", kib as f64 / (1024.0 * 1024.0)))
            .unwrap_or_else(|| "unknown".into());
        Machine {
            cores: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(0),
            cpu,
            memory_total,
            kernel: read("/proc/sys/kernel/osrelease").trim().to_owned(),
            load_average_start: loadavg(),
            load_average_end: String::new(),
        }
    }
}

/// One target of the issue, checked against the run.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Target {
    pub(crate) what: String,
    pub(crate) target: String,
    pub(crate) value: String,
    pub(crate) met: bool,
}

/// Key loading: time and PKCS#11 calls.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct LoadEntry {
    pub(crate) key: String,
    pub(crate) micros: f64,
    pub(crate) rate: Rate,
    /// Counted through the p11-fault shim; `None` when the shim was not built.
    pub(crate) pkcs11_calls: Option<LoadCount>,
}

#[derive(Debug, Clone, Serialize)]
struct PlanInfo {
    mode: &'static str,
    repetitions: usize,
    repetition_ms: u128,
    warmup_ms: u128,
    quick_ops_per_cell: Option<u64>,
}

/// Everything the run measured (written as `results.json`).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Results {
    plan: PlanInfo,
    machine: Machine,
    seconds: f64,
    hsm_sign: Vec<SignRow>,
    hsm_decrypt: Vec<JweRow>,
    software: Vec<SoftRow>,
    key_load: Vec<LoadEntry>,
    memory: Option<MemoryRun>,
    latency: Option<crate::latency::Section>,
    targets: Vec<Target>,
}

impl Results {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        plan: &Plan,
        mut machine: Machine,
        seconds: f64,
        hsm_sign: Vec<SignRow>,
        hsm_decrypt: Vec<JweRow>,
        software: Vec<SoftRow>,
        load: Vec<LoadRow>,
        counts: Option<Vec<LoadCount>>,
        memory: Option<MemoryRun>,
    ) -> Self {
        machine.load_average_end = loadavg();
        let key_load = load
            .into_iter()
            .map(|row| LoadEntry {
                micros: row.rate.micros(),
                pkcs11_calls: counts
                    .as_ref()
                    .and_then(|c| c.iter().find(|c| c.key == row.key).cloned()),
                key: row.key,
                rate: row.rate,
            })
            .collect();
        let mut results = Results {
            plan: PlanInfo {
                mode: if plan.is_quick() { "quick" } else { "full" },
                repetitions: plan.reps,
                repetition_ms: plan.rep_time.as_millis(),
                warmup_ms: plan.warmup.as_millis(),
                quick_ops_per_cell: plan.quick_ops,
            },
            machine,
            seconds,
            hsm_sign,
            hsm_decrypt,
            software,
            key_load,
            memory,
            latency: None,
            targets: Vec::new(),
        };
        // A quick run is a smoke test of every cell: its numbers are not measurements.
        if !plan.is_quick() {
            results.targets = results.check();
        }
        results
    }

    /// Adds section 7 and, in a full run, its targets.
    pub(crate) fn with_latency(mut self, latency: Option<crate::latency::Section>) -> Self {
        if let Some(section) = &latency {
            if !section.quick {
                self.targets.extend(latency_targets(section));
            }
        }
        self.latency = latency;
        self
    }

    fn check(&self) -> Vec<Target> {
        let mut t = Vec::new();
        for row in &self.hsm_sign {
            let r = row.one().ratio();
            t.push(Target {
                what: format!("{} hsm-jose/raw, 1 thread", row.algorithm),
                target: format!(">= {RATIO_TARGET:.2}"),
                value: format!("{r:.3}"),
                met: r >= RATIO_TARGET,
            });
        }
        for row in &self.hsm_decrypt {
            let r = row.pair.ratio();
            t.push(Target {
                what: format!("{} hsm-jose/raw", row.case),
                target: format!(">= {RATIO_TARGET:.2}"),
                value: format!("{r:.3}"),
                met: r >= RATIO_TARGET,
            });
        }
        for row in &self.hsm_sign {
            if let Some(two) = row.by_threads.iter().find(|p| p.threads == 2) {
                let (raw, jose) = row.speedups(two);
                t.push(Target {
                    what: format!("{} hsm-jose speed-up, 2 threads", row.algorithm),
                    target: format!(">= {SCALING_TARGET:.1}x"),
                    value: format!("{jose:.2}x (raw {raw:.2}x)"),
                    met: jose >= SCALING_TARGET,
                });
            }
        }
        for row in &self.software {
            let peers = [
                ("jose-core/jsonwebtoken (rust_crypto)", row.ratio()),
                ("jose-core/jsonwebtoken (aws-lc-rs)", row.ratio_aws_lc()),
                ("jose-core[aws-lc-rs]/josekit", row.ratio_aws_lc_josekit()),
            ];
            for (what, r) in peers {
                if let Some(r) = r {
                    t.push(Target {
                        what: format!("{} {what}", row.operation),
                        target: format!(">= {PEER_TARGET:.1}x"),
                        value: format!("{r:.2}x"),
                        met: r >= PEER_TARGET,
                    });
                }
            }
            let [rc, aws] = row.overhead();
            let asymmetric = !row.operation.starts_with("HS");
            for (what, r) in [("RustCrypto", rc), ("aws-lc-rs", aws)] {
                if let (true, Some(r)) = (asymmetric, r) {
                    t.push(Target {
                        what: format!("{} jose-core/bare primitive ({what})", row.operation),
                        target: format!(">= {OVERHEAD_TARGET:.2}"),
                        value: format!("{r:.2}"),
                        met: r >= OVERHEAD_TARGET,
                    });
                }
            }
        }
        for entry in &self.key_load {
            if let Some(c) = &entry.pkcs11_calls {
                t.push(Target {
                    what: format!("{} key load, PKCS#11 calls", entry.key),
                    target: format!("<= {LOAD_CALLS_TARGET}"),
                    value: c.total().to_string(),
                    met: c.total() <= LOAD_CALLS_TARGET,
                });
            }
        }
        if let Some(memory) = &self.memory {
            let growth = memory.growth_kib();
            t.push(Target {
                what: "RSS growth, first to last window of the long run".into(),
                target: format!("none (<= {GROWTH_TARGET_KIB} KiB)"),
                value: format!("{growth} KiB"),
                met: growth <= GROWTH_TARGET_KIB,
            });
        }
        t
    }

    /// The tables, as printed.
    pub(crate) fn table(&self) -> String {
        let mut out = String::new();
        let m = &self.machine;
        let _ = writeln!(
            out,
            "\nhsm-jose bench ({} mode): {} cores, {}, {} RAM, Linux {}; load average {} at start, {} at end; {:.0} s",
            self.plan.mode,
            m.cores,
            m.cpu,
            m.memory_total,
            m.kernel,
            m.load_average_start,
            m.load_average_end,
            self.seconds
        );
        let _ = writeln!(
            out,
            "each cell: median of {} repetitions{}; the variants of a row run interleaved, round by round; \
             a ratio is the median of the per-round ratios",
            self.plan.repetitions,
            match self.plan.quick_ops_per_cell {
                Some(n) =>
                    format!(" of {n} operations (quick mode: a smoke test, not a measurement)"),
                None => format!(
                    " of {} ms after {} ms of warm-up",
                    self.plan.repetition_ms, self.plan.warmup_ms
                ),
            }
        );

        // Sections 1 and 2.
        let threads: Vec<usize> = self
            .hsm_sign
            .first()
            .map(|r| r.by_threads.iter().skip(1).map(|p| p.threads).collect())
            .unwrap_or_default();
        let mut headers = vec![
            "algorithm".to_string(),
            "key".into(),
            "raw ops/s".into(),
            "hsm-jose ops/s".into(),
            "ratio".into(),
        ];
        for n in &threads {
            headers.push(format!("raw {n}T ops/s"));
            headers.push(format!("raw {n}T x"));
            headers.push(format!("hsm-jose {n}T ops/s"));
            headers.push(format!("hsm-jose {n}T x"));
            headers.push(format!("ratio {n}T"));
        }
        let rows = self
            .hsm_sign
            .iter()
            .map(|r| {
                let one = r.one();
                let mut cells = vec![
                    r.algorithm.clone(),
                    r.key.clone(),
                    ops(&one.raw),
                    ops(&one.hsm_jose),
                    mark(one.ratio(), RATIO_TARGET),
                ];
                for p in r.by_threads.iter().skip(1) {
                    let (raw_x, jose_x) = r.speedups(p);
                    cells.push(ops(&p.raw));
                    cells.push(format!("{raw_x:.2}"));
                    cells.push(ops(&p.hsm_jose));
                    cells.push(if p.threads == 2 {
                        mark(jose_x, SCALING_TARGET)
                    } else {
                        format!("{jose_x:.2}")
                    });
                    cells.push(format!("{:.2}", p.ratio()));
                }
                cells
            })
            .collect();
        section(
            &mut out,
            "1-2. HSM signing: raw cryptoki sign vs compact JWS from hsm-jose (same key); \
             ratio = hsm-jose/raw, target >= 0.97; x = speed-up over 1 thread, target >= 1.8 \
             (raw: a session per thread; hsm-jose: one shared HsmJwk and its pool)",
            &headers,
            rows,
        );

        // Section 3.
        let rows = self
            .hsm_decrypt
            .iter()
            .map(|r| {
                vec![
                    r.case.clone(),
                    r.key.clone(),
                    ops(&r.pair.raw),
                    ops(&r.pair.hsm_jose),
                    mark(r.pair.ratio(), RATIO_TARGET),
                    r.raw_call.clone(),
                ]
            })
            .collect();
        section(
            &mut out,
            "3. JWE decryption in the HSM: raw token operation vs complete JWE decryption; target >= 0.97",
            &strings(&[
                "case",
                "key",
                "raw ops/s",
                "hsm-jose ops/s",
                "ratio",
                "raw cell",
            ]),
            rows,
        );

        // Section 4.
        let cell = |r: Option<&Rate>| r.map(ops).unwrap_or_else(|| "-".into());
        let ratio = |x: Option<f64>, target: Option<f64>| match (x, target) {
            (Some(x), Some(t)) => mark(x, t),
            (Some(x), None) => format!("{x:.2}"),
            (None, _) => "-".into(),
        };
        let rows = self
            .software
            .iter()
            .map(|r| {
                let [over_rc, over_aws] = r.overhead();
                vec![
                    r.operation.clone(),
                    ops(&r.jose_core),
                    cell(r.jsonwebtoken.as_ref()),
                    ratio(r.ratio(), Some(PEER_TARGET)),
                    cell(r.jose_core_aws_lc.as_ref()),
                    cell(r.jsonwebtoken_aws_lc.as_ref()),
                    ratio(r.ratio_aws_lc(), Some(PEER_TARGET)),
                    cell(r.josekit.as_ref()),
                    ratio(r.ratio_aws_lc_josekit(), Some(PEER_TARGET)),
                    cell(r.bare_rust_crypto.as_ref()),
                    ratio(over_rc, None),
                    cell(r.bare_aws_lc.as_ref()),
                    ratio(over_aws, None),
                ]
            })
            .collect();
        section(
            &mut out,
            "4. Software: jose-core under each provider vs jsonwebtoken 11 (rust_crypto; aws_lc_rs \
             measured in a child process, its ratio against jose-core[aws-lc-rs] measured round \
             by round in that child), josekit 0.10 (OpenSSL) and the providers' bare \
             primitives; RC = RustCrypto, aws = aws-lc-rs; ratios >= 1.0 wanted, JOSE/bare >= 0.90 \
             for asymmetric operations",
            &strings(&[
                "operation",
                "jose-core RC",
                "jwt RC",
                "ratio",
                "jose-core aws",
                "jwt aws",
                "ratio",
                "josekit",
                "aws/josekit",
                "bare RC",
                "JOSE/bare",
                "bare aws",
                "JOSE/bare",
            ]),
            rows,
        );

        // Section 5.
        let rows = self
            .key_load
            .iter()
            .map(|e| {
                let (total, detail) = match &e.pkcs11_calls {
                    Some(c) => (
                        format!(
                            "{}{}",
                            c.total(),
                            if c.total() <= LOAD_CALLS_TARGET {
                                ""
                            } else {
                                " MISS"
                            }
                        ),
                        c.breakdown(),
                    ),
                    None => ("?".into(), "p11-fault shim not built".into()),
                };
                vec![e.key.clone(), format!("{:.0}", e.micros), total, detail]
            })
            .collect();
        section(
            &mut out,
            "5. Key loading: HsmJwk::from_label on a pool with an idle session; \
             PKCS#11 calls counted by the p11-fault shim, target <= 3",
            &strings(&["key", "time us", "PKCS#11 calls", "calls"]),
            rows,
        );

        // Section 6.
        if let Some(mem) = &self.memory {
            let growth = mem.growth_kib();
            let rows = vec![vec![
                mem.algorithm.clone(),
                mem.ops.to_string(),
                format!("{:.1}", mem.seconds),
                mib(mem.peak_kib),
                mib(mem.rss_after_window_kib.first().copied().unwrap_or(0)),
                mib(mem.rss_after_window_kib.last().copied().unwrap_or(0)),
                format!(
                    "{growth} KiB{}",
                    if growth <= GROWTH_TARGET_KIB {
                        ""
                    } else {
                        " MISS"
                    }
                ),
                format!("{} KiB", mem.second_half_growth_kib()),
            ]];
            section(
                &mut out,
                &format!(
                    "6. Memory: one process, {} signatures; RSS (VmRSS) after the first and the last {}, \
                     peak (VmHWM); target: no growth",
                    mem.ops, mem.window
                ),
                &strings(&[
                    "run",
                    "signatures",
                    "seconds",
                    "peak RSS",
                    "RSS first window",
                    "RSS last window",
                    "growth",
                    "growth, 2nd half",
                ]),
                rows,
            );
            let _ = writeln!(
                out,
                "RSS after each window, KiB: {:?}",
                mem.rss_after_window_kib
            );
        }

        if let Some(latency) = &self.latency {
            latency.table(&mut out);
        }

        if self.plan.quick_ops_per_cell.is_some() {
            // Two operations per cell say nothing about a target: no verdicts in the cells either.
            let mut out = out.replace(" MISS", "");
            let _ = writeln!(out, "\ntargets: not evaluated in quick mode");
            return out;
        }
        let missed: Vec<&Target> = self.targets.iter().filter(|t| !t.met).collect();
        let _ = writeln!(
            out,
            "\ntargets: {} of {} met",
            self.targets.len() - missed.len(),
            self.targets.len()
        );
        for t in missed {
            let _ = writeln!(
                out,
                "  missed: {}: {} (target {})",
                t.what, t.value, t.target
            );
        }
        out
    }
}

fn strings(s: &[&str]) -> Vec<String> {
    s.iter().map(|s| (*s).to_owned()).collect()
}

fn ops(rate: &Rate) -> String {
    ops_f(rate.ops_per_sec)
}

/// A rate with thousands separators; `-` when not finite.
pub(crate) fn ops_f(rate: f64) -> String {
    if !rate.is_finite() {
        return "-".into();
    }
    let n = rate.round() as u64;
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// A ratio, flagged when it misses its target.
pub(crate) fn mark(value: f64, target: f64) -> String {
    if value >= target {
        format!("{value:.2}")
    } else {
        format!("{value:.2} MISS")
    }
}

/// Appends a titled table: first column left-aligned, the others right-aligned.
pub(crate) fn section(out: &mut String, title: &str, headers: &[String], rows: Vec<Vec<String>>) {
    if rows.is_empty() {
        return; // not run (--filter)
    }
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: &[String]| {
        let mut s = String::new();
        for (i, cell) in cells.iter().enumerate() {
            let w = widths.get(i).copied().unwrap_or(0);
            if i == 0 {
                let _ = write!(s, "{cell:<w$}");
            } else if i + 1 == cells.len() && !cell.starts_with(char::is_numeric) {
                let _ = write!(s, "  {cell:<w$}");
            } else {
                let _ = write!(s, "  {cell:>w$}");
            }
        }
        s.trim_end().to_owned()
    };
    let _ = writeln!(out, "\n{title}");
    let header = line(headers);
    let _ = writeln!(out, "{header}");
    let _ = writeln!(out, "{}", "-".repeat(header.chars().count()));
    for row in rows {
        let _ = writeln!(out, "{}", line(&row));
    }
}

/// Section 7's targets: per token setup and algorithm, the best async row with at least as
/// many callers as sessions, over its ceiling, of the pool sizes it was measured with (a
/// service sizes its pool for its token's latency; the ceiling is that pool's).
fn latency_targets(section: &crate::latency::Section) -> Vec<Target> {
    let mut best: Vec<(String, String, f64, usize)> = Vec::new();
    for s in section.setups.iter().filter(|s| s.target_applies) {
        for c in &s.ceilings {
            let x = c.best_async.unwrap_or(0.0);
            match best
                .iter_mut()
                .find(|(setup, alg, _, _)| *setup == s.setup && *alg == c.algorithm)
            {
                Some(b) if x > b.2 => (b.2, b.3) = (x, s.sessions),
                Some(_) => {}
                None => best.push((s.setup.clone(), c.algorithm.clone(), x, s.sessions)),
            }
        }
    }
    let sizes = |setup: &str| {
        let mut n: Vec<String> = section
            .setups
            .iter()
            .filter(|s| s.setup == setup)
            .map(|s| s.sessions.to_string())
            .collect();
        n.dedup();
        n.join(" or ")
    };
    best.into_iter()
        .map(|(setup, alg, x, sessions)| Target {
            what: format!(
                "{alg} async at {setup}, best of {} sessions ({sessions}) with callers >= sessions, \
                 over the ceiling",
                sizes(&setup)
            ),
            target: format!(">= {:.1}", crate::latency::CEILING_TARGET),
            value: format!("{x:.2}"),
            met: x >= crate::latency::CEILING_TARGET,
        })
        .collect()
}
