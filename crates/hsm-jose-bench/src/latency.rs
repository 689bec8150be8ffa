//! Section 7: signing when every token call waits on a network, as with a network HSM, a cloud
//! HSM's PKCS#11 library or a token shared through p11-kit.
//!
//! Three token setups, each measured in a child process of its own (the module is loaded once
//! per process, and the parent has SoftHSM loaded directly):
//!
//! - `p11-fault 1 ms` and `p11-fault 5 ms`: the p11-fault shim over the bench's SoftHSM token,
//!   delaying every cryptographic PKCS#11 call (`C_SignInit`, `C_Sign`, `C_Decrypt*`,
//!   `C_DeriveKey`...: [`DELAYED_FUNCTIONS`]) by that much, each with a pool of 8 and of 16
//!   sessions ([`POOL_SIZES`]);
//! - `p11-kit`: p11-kit's client module talking to a `p11-kit server` that exports the same
//!   token (a real RPC over a Unix socket); `cargo xtask bench` starts the server and passes
//!   the client module in `BENCH_P11KIT_MODULE` and the socket in `P11_KIT_SERVER_ADDRESS`.
//!
//! For ES256 and RS256 and for 1, 8, 32 and 256 concurrent callers, two ways of calling: as
//! many sync OS threads calling `jws::sign_compact` on one shared `HsmJwk` (they queue in the
//! pool), and as many async tasks on a tokio multi-thread runtime (one worker per core)
//! awaiting `AsyncHsm::sign_compact`. A row measures throughput and the p50/p99 latency of one
//! signature as its caller sees it (queueing included), over a window of [`WINDOW`] that opens
//! once every caller has finished a first signature.
//!
//! The ceiling of a setup and algorithm is `min(sessions / latency, raw 2-thread throughput)`:
//! `sessions` is the pool's size ([`POOL_SIZES`]: a network HSM is used with enough sessions
//! to cover its latency; capped by the token's own limit), `latency` the token's latency per
//! signature (for p11-fault: the injected delay
//! times the delayed calls a signature makes, counted by the shim; for p11-kit, where nothing
//! is injected, the median latency of one sync caller), and the raw throughput is that of two
//! threads calling `Session::sign` on SoftHSM directly, without latency (the machine's limit).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hsm_jose::service::AsyncHsm;
use hsm_jose::{HsmJwk, SessionPool};
use jose_core::{Algorithm, JwsAlgorithm, KeyBackend, jws};
use serde::{Deserialize, Serialize};

use crate::harness::{Ctx, MakeOp, Plan, interleaved_threads};
use crate::report::{mark, ops_f, section};
use crate::soft::BenchClaims;
use crate::{fail, ok};

/// The signing algorithms measured, with their fixture keys.
const ALGS: &[(&str, JwsAlgorithm, &str)] = &[
    ("ES256", JwsAlgorithm::ES256, "ec-p256"),
    ("RS256", JwsAlgorithm::RS256, "rsa-2048"),
];

/// The per-call delays of the p11-fault setups, in milliseconds.
const DELAYS_MS: &[u64] = &[1, 5];

/// The pool sizes each p11-fault setup is measured with (p11-kit: the first). The pool's
/// default (twice the cores, at least 4) suits a local token, where a signature is CPU work;
/// across a network each signature also holds its session for the round trips, and throughput
/// is at most `sessions / (latency + work)`, so a service sizes its pool for its token's
/// latency (a network HSM states its session limit, hundreds usually, and the pool never
/// exceeds it). Two sizes show the two regimes on this machine's SoftHSM, whose RSA work runs
/// on the same 2 cores as the callers: with 8 sessions at 1 ms the sessions, not the cores,
/// are the limit; with 16 at 5 ms, 16 signatures' RSA work contends for the cores while
/// holding their sessions.
const POOL_SIZES: &[usize] = &[8, 16];

/// Concurrent callers of a full run, and of a quick one.
const CALLERS: &[usize] = &[1, 8, 32, 256];
const QUICK_CALLERS: &[usize] = &[1, 8];
/// Signatures per caller in a quick run (a smoke test).
const QUICK_OPS: usize = 2;

/// How long a row is measured (full run).
const WINDOW: Duration = Duration::from_millis(1200);
/// The shortest warm-up of a row; it lasts until every caller has finished one signature.
const MIN_WARMUP: Duration = Duration::from_millis(200);
/// A row whose callers have not all finished one signature by then is a failure.
const STUCK: Duration = Duration::from_secs(120);

/// The target: async throughput with enough callers at this fraction of the ceiling.
pub(crate) const CEILING_TARGET: f64 = 0.8;

/// The PKCS#11 functions that do cryptographic work in the token: each is delayed in the
/// p11-fault setups, as each is a round trip to a network HSM.
pub(crate) const DELAYED_FUNCTIONS: &[&str] = &[
    "C_EncryptInit",
    "C_Encrypt",
    "C_EncryptUpdate",
    "C_EncryptFinal",
    "C_DecryptInit",
    "C_Decrypt",
    "C_DecryptUpdate",
    "C_DecryptFinal",
    "C_DigestInit",
    "C_Digest",
    "C_DigestUpdate",
    "C_DigestKey",
    "C_DigestFinal",
    "C_SignInit",
    "C_Sign",
    "C_SignUpdate",
    "C_SignFinal",
    "C_VerifyInit",
    "C_Verify",
    "C_VerifyUpdate",
    "C_VerifyFinal",
    "C_GenerateKey",
    "C_GenerateKeyPair",
    "C_WrapKey",
    "C_UnwrapKey",
    "C_DeriveKey",
    "C_GenerateRandom",
];

/// The environment variable naming p11-kit's client module (set by `cargo xtask bench`).
pub(crate) const ENV_P11KIT_MODULE: &str = "BENCH_P11KIT_MODULE";

/// A token setup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Setup {
    /// The p11-fault shim over SoftHSM, every crypto call delayed by this many milliseconds.
    Fault(u64),
    /// p11-kit's client module, through `p11-kit server`, to SoftHSM.
    P11Kit,
}

impl Setup {
    /// Every setup, with each pool size it is measured with.
    fn all() -> Vec<(Setup, usize)> {
        let mut all = Vec::new();
        for ms in DELAYS_MS {
            for sessions in POOL_SIZES {
                all.push((Setup::Fault(*ms), *sessions));
            }
        }
        all.push((Setup::P11Kit, POOL_SIZES[0]));
        all
    }

    fn name(self) -> String {
        match self {
            Setup::Fault(ms) => format!("p11-fault {ms} ms"),
            Setup::P11Kit => "p11-kit server".into(),
        }
    }

    /// The child's argument.
    fn arg(self) -> String {
        match self {
            Setup::Fault(ms) => format!("fault:{ms}"),
            Setup::P11Kit => "p11kit".into(),
        }
    }
}

/// The rules file of a p11-fault setup.
fn rules(delay_ms: u64) -> String {
    let mut text = format!(
        "# Written by hsm-jose-bench: every cryptographic call waits {delay_ms} ms, as on a network HSM.\n"
    );
    for f in DELAYED_FUNCTIONS {
        text.push_str(&format!("{f} always delay_ms={delay_ms}\n"));
    }
    text
}

/// One row: one setup, algorithm, way of calling and number of callers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Row {
    pub(crate) algorithm: String,
    /// `sync` (OS threads) or `async` (tokio tasks through `AsyncHsm`).
    pub(crate) mode: String,
    pub(crate) callers: usize,
    /// Signatures completed in the window.
    pub(crate) ops: u64,
    pub(crate) seconds: f64,
    pub(crate) ops_per_sec: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    /// `ops_per_sec` over the ceiling (filled in by the parent).
    pub(crate) of_ceiling: Option<f64>,
}

/// What a child measured on one setup.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ChildResult {
    sessions: usize,
    rows: Vec<Row>,
    skipped: Vec<String>,
}

/// The ceiling of one setup and algorithm.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Ceiling {
    pub(crate) algorithm: String,
    /// Token latency of one signature, milliseconds.
    pub(crate) latency_ms: f64,
    /// Where `latency_ms` comes from.
    pub(crate) latency_basis: String,
    pub(crate) sessions_per_latency: f64,
    /// Two threads of raw `Session::sign` on SoftHSM, no latency.
    pub(crate) raw_two_threads: Option<f64>,
    pub(crate) ceiling: f64,
    /// The best async row with at least as many callers as sessions, over the ceiling.
    pub(crate) best_async: Option<f64>,
    pub(crate) best_sync: Option<f64>,
}

/// One setup's results.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct SetupResult {
    pub(crate) setup: String,
    /// The target applies (the p11-fault setups; p11-kit is reported only).
    pub(crate) target_applies: bool,
    pub(crate) sessions: usize,
    pub(crate) ceilings: Vec<Ceiling>,
    pub(crate) rows: Vec<Row>,
}

/// Section 7.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Section {
    pub(crate) quick: bool,
    pub(crate) window_ms: u128,
    /// Raw `Session::sign` on 2 threads, SoftHSM directly, ops/s, by algorithm.
    pub(crate) raw_two_threads: BTreeMap<String, f64>,
    pub(crate) setups: Vec<SetupResult>,
}

/// Section 7, parent side: the raw ceiling here, each setup in a child process.
pub(crate) fn run(ctx: &Ctx, pool: &SessionPool, scratch: &Path) -> Option<Section> {
    let setups: Vec<(Setup, usize)> = Setup::all()
        .into_iter()
        .filter(|(s, _)| ctx.wants(&format!("latency: {}", s.name())))
        .collect();
    if setups.is_empty() {
        return None;
    }
    let quick = ctx.plan.is_quick();
    let raw_two_threads = raw_ceiling(ctx, pool);
    let mut out = Vec::new();
    for (setup, sessions) in setups {
        let name = format!("latency: {}, {sessions} sessions", setup.name());
        ctx.progress(&name);
        let real = std::env::var("HSM_MODULE").unwrap_or_default();
        let mut env: Vec<(&str, String)> = Vec::new();
        let mut calls_per_signature = BTreeMap::new();
        match setup {
            Setup::Fault(ms) => {
                let Some(shim) = crate::child::shim_path() else {
                    ctx.skip(&name, "the p11-fault shim (libp11_fault.so) is not built");
                    continue;
                };
                let rules_path = scratch.join(format!("latency-{ms}ms.rules"));
                ok(std::fs::write(&rules_path, rules(ms)), "the rules file");
                env.push(("HSM_MODULE", shim.display().to_string()));
                if !real.is_empty() {
                    // Else the shim finds SoftHSM itself, as `SessionPool::from_env` did.
                    env.push(("P11_FAULT_TARGET", real.clone()));
                }
                env.push(("P11_FAULT_CONFIG", rules_path.display().to_string()));
                // The delayed calls of one signature, counted by the shim in a child of its
                // own (the stats file is rewritten after every call: not for the timed runs).
                let stats = scratch.join("latency-stats.txt");
                let mut count_env = env.clone();
                count_env.push(("P11_FAULT_STATS", stats.display().to_string()));
                calls_per_signature = run_child::<BTreeMap<String, f64>>(
                    &["latency-calls".into(), stats.display().to_string()],
                    &count_env,
                );
            }
            Setup::P11Kit => match std::env::var(ENV_P11KIT_MODULE) {
                Ok(module) if !module.is_empty() => env.push(("HSM_MODULE", module)),
                _ => {
                    ctx.skip(
                        &name,
                        &format!(
                            "no p11-kit server ({ENV_P11KIT_MODULE} is not set; \
                             `cargo xtask bench` starts one)"
                        ),
                    );
                    continue;
                }
            },
        }
        let mode = if quick { "quick" } else { "full" };
        let child: ChildResult = run_child(
            &[
                "latency".into(),
                setup.arg(),
                mode.into(),
                sessions.to_string(),
            ],
            &env,
        );
        for reason in &child.skipped {
            ctx.skip(&name, reason);
        }
        out.push(ceilings(
            setup,
            child,
            &calls_per_signature,
            &raw_two_threads,
        ));
    }
    Some(Section {
        quick,
        window_ms: WINDOW.as_millis(),
        raw_two_threads,
        setups: out,
    })
}

/// The ceilings of one setup, and every row's fraction of its ceiling.
fn ceilings(
    setup: Setup,
    child: ChildResult,
    calls_per_signature: &BTreeMap<String, f64>,
    raw: &BTreeMap<String, f64>,
) -> SetupResult {
    let sessions = child.sessions;
    let mut rows = child.rows;
    let mut ceilings = Vec::new();
    for (name, _, _) in ALGS {
        if !rows.iter().any(|r| r.algorithm == *name) {
            continue;
        }
        let (latency_ms, basis) = match setup {
            Setup::Fault(ms) => {
                let calls = calls_per_signature.get(*name).copied().unwrap_or(0.0);
                (
                    calls * ms as f64,
                    format!("{calls:.0} delayed calls x {ms} ms"),
                )
            }
            Setup::P11Kit => {
                let one = rows
                    .iter()
                    .find(|r| r.algorithm == *name && r.mode == "sync" && r.callers == 1)
                    .map(|r| r.p50_ms)
                    .unwrap_or(0.0);
                (one, "p50 of 1 sync caller".into())
            }
        };
        let per_latency = if latency_ms > 0.0 {
            sessions as f64 * 1e3 / latency_ms
        } else {
            f64::INFINITY
        };
        let raw_two = raw.get(*name).copied();
        let ceiling = per_latency.min(raw_two.unwrap_or(f64::INFINITY));
        for row in rows.iter_mut().filter(|r| r.algorithm == *name) {
            row.of_ceiling = ceiling.is_finite().then(|| row.ops_per_sec / ceiling);
        }
        let best = |mode: &str| {
            rows.iter()
                .filter(|r| r.algorithm == *name && r.mode == mode && r.callers >= sessions)
                .filter_map(|r| r.of_ceiling)
                .max_by(f64::total_cmp)
        };
        ceilings.push(Ceiling {
            algorithm: (*name).into(),
            latency_ms,
            latency_basis: basis,
            sessions_per_latency: per_latency,
            raw_two_threads: raw_two,
            ceiling,
            best_async: best("async"),
            best_sync: best("sync"),
        });
    }
    SetupResult {
        setup: setup.name(),
        target_applies: matches!(setup, Setup::Fault(_)),
        sessions,
        ceilings,
        rows,
    }
}

/// Raw `Session::sign` on 2 threads (a session each), SoftHSM directly, no latency.
fn raw_ceiling(ctx: &Ctx, pool: &SessionPool) -> BTreeMap<String, f64> {
    let plan = if ctx.plan.is_quick() {
        Plan::quick()
    } else {
        Plan {
            reps: 3,
            rep_time: Duration::from_millis(300),
            warmup: Duration::from_millis(100),
            quick_ops: None,
        }
    };
    let payload = BenchClaims::new().json();
    let mut out = BTreeMap::new();
    for (name, alg, label) in ALGS {
        let row = format!("latency: raw {name} sign, 2 threads, no latency");
        ctx.progress(&row);
        let raw_type = crate::hsm::raw_mechanism_type(*alg);
        let key = match crate::hsm::usable(pool, label, Algorithm::Jws(*alg), raw_type) {
            Ok(key) => key,
            Err(reason) => {
                ctx.skip(&row, &reason);
                continue;
            }
        };
        let token = ok(jws::sign_compact(&key, *alg, &payload, None), "sign");
        let signing_input = token
            .rsplit_once('.')
            .map(|(input, _)| input.as_bytes().to_vec())
            .unwrap_or_else(|| fail("compact JWS"));
        let input = crate::hsm::raw_input(*alg, &signing_input);
        let handle = crate::hsm::private_handle(pool, label);
        let (alg, label) = (*alg, *label);
        let variants: Vec<MakeOp<'_>> = vec![Box::new(|_| {
            let session = ok(pool.session(), "a session");
            let input = &input;
            Box::new(move || {
                ok(
                    session.sign(&crate::hsm::raw_mechanism(alg, label), handle, input),
                    "raw sign",
                );
            })
        })];
        if let Some(rate) = interleaved_threads(&plan, 2, &variants).pop() {
            out.insert((*name).to_owned(), rate.ops_per_sec);
        }
    }
    out
}

/// Runs a child with `env` added, its progress on our stderr, and parses the JSON it prints
/// last on stdout.
fn run_child<T: for<'de> Deserialize<'de>>(args: &[String], env: &[(&str, String)]) -> T {
    let exe = ok(std::env::current_exe(), "the bench executable");
    let mut cmd = Command::new(exe);
    cmd.arg("--child")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = ok(cmd.output(), "run a child bench");
    if !out.status.success() {
        fail(&format!("child {args:?} failed ({})", out.status));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text.lines().last().unwrap_or_default();
    ok(serde_json::from_str(last), "child output")
}

/// `--child latency-calls STATS`: the delayed PKCS#11 calls of one signature through hsm-jose,
/// by algorithm, from the shim's counters (the rules in `P11_FAULT_CONFIG`).
pub(crate) fn calls_child(stats: &str) {
    use p11_fault::harness::Stats;
    let pool = ok(SessionPool::from_env(), "a pool through the shim");
    let read = || ok(Stats::read(Path::new(stats)), "the shim's stats");
    let payload = BenchClaims::new().json();
    let mut out = BTreeMap::new();
    const N: u64 = 5;
    for (name, alg, label) in ALGS {
        let Ok(key) = HsmJwk::from_label(&pool, label) else {
            continue;
        };
        // One signature first: the key's first use may open a session or log in.
        ok(jws::sign_compact(&key, *alg, &payload, None), "sign");
        let delayed = |s: &Stats| -> u64 { s.functions.values().map(|c| c.delayed).sum() };
        let before = read();
        if before.rule_errors > 0 {
            fail(&format!(
                "the shim ignored {} lines of the latency rules",
                before.rule_errors
            ));
        }
        for _ in 0..N {
            ok(jws::sign_compact(&key, *alg, &payload, None), "sign");
        }
        let after = read();
        out.insert(
            (*name).to_owned(),
            (delayed(&after) - delayed(&before)) as f64 / N as f64,
        );
    }
    println!("{}", ok(serde_json::to_string(&out), "JSON"));
}

/// Shared by the callers of a row and the thread that times it.
#[derive(Default)]
struct Control {
    /// Callers that have finished their first signature.
    warmed: AtomicUsize,
    /// Set at the end of the window: callers stop after their current signature.
    stop: AtomicBool,
}

/// (end, latency) of each signature of one caller.
type Samples = Vec<(Instant, Duration)>;

impl Control {
    /// Whether a caller that has made `done` signatures makes another.
    fn go_on(&self, quick: bool, done: usize) -> bool {
        if quick {
            done < QUICK_OPS
        } else {
            !self.stop.load(Ordering::Relaxed)
        }
    }

    fn record(&self, samples: &mut Samples, started: Instant) {
        let end = Instant::now();
        samples.push((end, end - started));
        if samples.len() == 1 {
            self.warmed.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// On the timing thread: waits for the warm-up (every caller has finished one signature,
    /// and at least [`MIN_WARMUP`]), times the window, then tells the callers to stop. In a
    /// quick run there is no window: the callers stop by themselves.
    fn time(&self, quick: bool, callers: usize) -> Option<(Instant, Instant)> {
        if quick {
            return None;
        }
        let start = Instant::now();
        while self.warmed.load(Ordering::Relaxed) < callers || start.elapsed() < MIN_WARMUP {
            if start.elapsed() > STUCK {
                fail("a latency row's callers did not all finish a signature in 120 s");
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        let open = Instant::now();
        std::thread::sleep(WINDOW);
        let close = Instant::now();
        self.stop.store(true, Ordering::Relaxed);
        Some((open, close))
    }
}

/// The row from every caller's samples: those that ended in the window (all of them in a
/// quick run).
fn summarize(
    algorithm: &str,
    mode: &str,
    callers: usize,
    begun: Instant,
    window: Option<(Instant, Instant)>,
    samples: Vec<Samples>,
) -> Row {
    let all = samples.into_iter().flatten();
    let (mut latencies, seconds): (Vec<Duration>, f64) = match window {
        Some((open, close)) => (
            all.filter(|(end, _)| *end >= open && *end <= close)
                .map(|(_, l)| l)
                .collect(),
            (close - open).as_secs_f64(),
        ),
        None => {
            let all: Samples = all.collect();
            let last = all.iter().map(|(end, _)| *end).max().unwrap_or(begun);
            (
                all.into_iter().map(|(_, l)| l).collect(),
                (last - begun).as_secs_f64(),
            )
        }
    };
    latencies.sort();
    let percentile = |p: f64| -> f64 {
        if latencies.is_empty() {
            return f64::NAN;
        }
        let rank = ((p * latencies.len() as f64).ceil() as usize).clamp(1, latencies.len());
        latencies[rank - 1].as_secs_f64() * 1e3
    };
    let ops = latencies.len() as u64;
    Row {
        algorithm: algorithm.into(),
        mode: mode.into(),
        callers,
        ops,
        seconds,
        ops_per_sec: ops as f64 / seconds.max(1e-9),
        p50_ms: percentile(0.50),
        p99_ms: percentile(0.99),
        of_ceiling: None,
    }
}

/// `callers` OS threads signing with one shared key (they share its pool).
fn sync_row(name: &str, alg: JwsAlgorithm, key: &HsmJwk, callers: usize, quick: bool) -> Row {
    let payload = BenchClaims::new().json();
    let control = Control::default();
    let begun = Instant::now();
    let (window, samples) = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..callers)
            .map(|_| {
                let (control, payload) = (&control, &payload);
                scope.spawn(move || {
                    let mut samples = Samples::new();
                    while control.go_on(quick, samples.len()) {
                        let started = Instant::now();
                        ok(jws::sign_compact(key, alg, payload, None), "sync sign");
                        control.record(&mut samples, started);
                    }
                    samples
                })
            })
            .collect();
        let window = control.time(quick, callers);
        let samples: Vec<Samples> = handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| fail("a latency caller thread panicked"))
            })
            .collect();
        (window, samples)
    });
    summarize(name, "sync", callers, begun, window, samples)
}

/// `callers` tokio tasks signing through `AsyncHsm`.
fn async_row(
    runtime: &tokio::runtime::Runtime,
    hsm: &AsyncHsm,
    name: &str,
    alg: JwsAlgorithm,
    key: &Arc<HsmJwk>,
    callers: usize,
    quick: bool,
) -> Row {
    let payload = BenchClaims::new().json();
    let control = Arc::new(Control::default());
    let begun = Instant::now();
    let handles: Vec<_> = (0..callers)
        .map(|_| {
            let (hsm, key, payload, control) = (
                hsm.clone(),
                Arc::clone(key),
                payload.clone(),
                Arc::clone(&control),
            );
            runtime.spawn(async move {
                let mut samples = Samples::new();
                while control.go_on(quick, samples.len()) {
                    let started = Instant::now();
                    ok(
                        hsm.sign_compact(&key, alg, payload.clone(), None).await,
                        "async sign",
                    );
                    control.record(&mut samples, started);
                }
                samples
            })
        })
        .collect();
    let window = control.time(quick, callers);
    let samples = runtime.block_on(async {
        let mut all = Vec::with_capacity(handles.len());
        for handle in handles {
            all.push(ok(handle.await, "a latency caller task"));
        }
        all
    });
    summarize(name, "async", callers, begun, window, samples)
}

/// `--child latency SETUP quick|full SESSIONS`: every row of one setup (the module in
/// `HSM_MODULE`) on a pool of `SESSIONS` sessions.
pub(crate) fn child(setup: &str, mode: &str, sessions: &str) {
    let quick = mode == "quick";
    let sessions: usize = ok(sessions.parse(), "a pool size");
    let pool = ok(
        hsm_core::PoolBuilder::from_env().and_then(|b| b.max_sessions(sessions).build()),
        &format!("a pool on {setup}"),
    );
    let sessions = pool.max_sessions();
    let runtime = ok(
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build(),
        "a tokio runtime",
    );
    let hsm = ok(
        AsyncHsm::builder(&pool)
            .max_waiting(4 * CALLERS.iter().copied().max().unwrap_or(256))
            .deadline(STUCK)
            .build(),
        "AsyncHsm",
    );
    let callers = if quick { QUICK_CALLERS } else { CALLERS };
    let mut rows = Vec::new();
    let mut skipped = Vec::new();
    for (name, alg, label) in ALGS {
        let key = match HsmJwk::from_label(&pool, label) {
            Ok(key) if key.algorithms().contains(&Algorithm::Jws(*alg)) => Arc::new(key),
            Ok(_) => {
                skipped.push(format!("{name}: hsm-jose does not offer it for `{label}`"));
                continue;
            }
            Err(e) => {
                skipped.push(format!("{name}: key `{label}`: {e}"));
                continue;
            }
        };
        for &n in callers {
            for row in [
                sync_row(name, *alg, &key, n, quick),
                async_row(&runtime, &hsm, name, *alg, &key, n, quick),
            ] {
                eprintln!(
                    "bench   {setup} {name} {:>5} x{:<3}: {:>8.0} ops/s  p50 {:>7.2} ms  p99 {:>7.2} ms",
                    row.mode, row.callers, row.ops_per_sec, row.p50_ms, row.p99_ms
                );
                rows.push(row);
            }
        }
    }
    let result = ChildResult {
        sessions,
        rows,
        skipped,
    };
    println!("{}", ok(serde_json::to_string(&result), "JSON"));
}

impl Section {
    /// The tables of section 7.
    pub(crate) fn table(&self, out: &mut String) {
        let raw: Vec<String> = self
            .raw_two_threads
            .iter()
            .map(|(alg, r)| format!("{alg} {}", ops_f(*r)))
            .collect();
        let title = format!(
            "7. Throughput at network latency: sign, N callers as sync threads (one shared HsmJwk) or \
             as async tasks (AsyncHsm, tokio multi-thread runtime);\n   \
             ceiling = min(sessions / latency per signature, raw 2-thread no-latency ops/s: {}); \
             x ceiling = ops/s over it,\n   target: async >= {CEILING_TARGET:.1}x with callers >= \
             sessions (p11-fault rows; p11-kit reported only){}",
            if raw.is_empty() {
                "not measured".into()
            } else {
                raw.join(", ")
            },
            if self.quick {
                String::new()
            } else {
                format!(
                    "; each row: {} ms after every caller's first signature",
                    self.window_ms
                )
            }
        );
        let headers = [
            "setup",
            "alg",
            "sessions",
            "latency/sig ms",
            "basis",
            "sessions/latency",
            "ceiling ops/s",
            "best async x",
            "best sync x",
        ]
        .map(String::from);
        let mut rows = Vec::new();
        for s in &self.setups {
            for c in &s.ceilings {
                let target = if s.target_applies {
                    CEILING_TARGET
                } else {
                    0.0
                };
                rows.push(vec![
                    s.setup.clone(),
                    c.algorithm.clone(),
                    s.sessions.to_string(),
                    format!("{:.2}", c.latency_ms),
                    c.latency_basis.clone(),
                    ops_f(c.sessions_per_latency),
                    ops_f(c.ceiling),
                    c.best_async
                        .map(|x| mark(x, target))
                        .unwrap_or_else(|| "-".into()),
                    c.best_sync
                        .map(|x| format!("{x:.2}"))
                        .unwrap_or_else(|| "-".into()),
                ]);
            }
        }
        section(out, &title, &headers, rows);

        let headers = [
            "setup",
            "alg",
            "sessions",
            "callers",
            "async ops/s",
            "p50 ms",
            "p99 ms",
            "x ceiling",
            "sync ops/s",
            "p50 ms",
            "p99 ms",
            "x ceiling",
        ]
        .map(String::from);
        let mut rows = Vec::new();
        for s in &self.setups {
            let mut keys: Vec<(&str, usize)> = s
                .rows
                .iter()
                .map(|r| (r.algorithm.as_str(), r.callers))
                .collect();
            keys.dedup();
            for (alg, callers) in keys {
                let find = |mode: &str| {
                    s.rows
                        .iter()
                        .find(|r| r.algorithm == alg && r.callers == callers && r.mode == mode)
                };
                let mut row = vec![
                    s.setup.clone(),
                    alg.to_owned(),
                    s.sessions.to_string(),
                    callers.to_string(),
                ];
                for mode in ["async", "sync"] {
                    match find(mode) {
                        Some(r) => row.extend([
                            ops_f(r.ops_per_sec),
                            format!("{:.2}", r.p50_ms),
                            format!("{:.2}", r.p99_ms),
                            r.of_ceiling
                                .map(|x| format!("{x:.2}"))
                                .unwrap_or_else(|| "-".into()),
                        ]),
                        None => row.extend(["-", "-", "-", "-"].map(String::from)),
                    }
                }
                rows.push(row);
            }
        }
        section(
            out,
            "   each row: signatures per second, and the latency of one signature as its caller \
             sees it (p50, p99; waiting for a session included)",
            &headers,
            rows,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only the signatures that ended inside the window count; percentiles are nearest-rank.
    #[test]
    fn rows_count_the_window_and_rank_latencies() {
        let begun = Instant::now();
        let at = |ms: u64| begun + Duration::from_millis(ms);
        let lat = Duration::from_millis;
        // Caller 1: one signature before the window, three inside, one after.
        let one: Samples = vec![
            (at(50), lat(50)),
            (at(110), lat(10)),
            (at(120), lat(20)),
            (at(130), lat(30)),
            (at(250), lat(40)),
        ];
        // Caller 2: one inside.
        let two: Samples = vec![(at(190), lat(100))];
        let row = summarize(
            "ES256",
            "async",
            2,
            begun,
            Some((at(100), at(200))),
            vec![one, two],
        );
        assert_eq!(row.ops, 4);
        assert!((row.seconds - 0.1).abs() < 1e-9, "{}", row.seconds);
        assert!((row.ops_per_sec - 40.0).abs() < 1e-6, "{}", row.ops_per_sec);
        // Sorted: 10, 20, 30, 100 ms. p50: rank 2 (20 ms); p99: rank 4 (100 ms).
        assert!((row.p50_ms - 20.0).abs() < 1e-9, "{}", row.p50_ms);
        assert!((row.p99_ms - 100.0).abs() < 1e-9, "{}", row.p99_ms);
    }

    /// Every delayed function is named once, and the rules delay each by the given time.
    #[test]
    fn rules_delay_every_crypto_call() {
        let text = rules(5);
        for f in DELAYED_FUNCTIONS {
            assert!(
                text.lines().any(|l| l == format!("{f} always delay_ms=5")),
                "{f} missing in {text}"
            );
        }
        let mut names = DELAYED_FUNCTIONS.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), DELAYED_FUNCTIONS.len());
    }
}
