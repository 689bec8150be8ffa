//! The timer loop: warm-up, repetitions of a fixed duration (or a fixed op count in quick mode),
//! the median of the repetitions. Variants of one row are measured interleaved, repetition by
//! repetition and in rotating order, so that noise from other processes and drift of the
//! machine fall on all of them alike.

use std::sync::Barrier;
use std::time::{Duration, Instant};

use serde::Serialize;

/// How long and how often each cell is measured.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    /// Repetitions per cell; the cell's value is their median.
    pub(crate) reps: usize,
    /// Length of one repetition (full mode).
    pub(crate) rep_time: Duration,
    /// Warm-up per variant before the first repetition.
    pub(crate) warmup: Duration,
    /// Quick mode: this many operations per repetition, no timing goal.
    pub(crate) quick_ops: Option<u64>,
}

impl Plan {
    pub(crate) fn full() -> Self {
        Plan {
            reps: 9,
            rep_time: Duration::from_millis(220),
            warmup: Duration::from_millis(150),
            quick_ops: None,
        }
    }

    pub(crate) fn quick() -> Self {
        Plan {
            reps: 1,
            rep_time: Duration::ZERO,
            warmup: Duration::ZERO,
            quick_ops: Some(2),
        }
    }

    pub(crate) fn is_quick(&self) -> bool {
        self.quick_ops.is_some()
    }
}

/// What a run does: its plan, and which rows (all, or those whose name contains one of the
/// `--filter` words, for profiling one row); reports progress on stderr.
pub(crate) struct Ctx {
    pub(crate) plan: Plan,
    started: Instant,
    filter: Vec<String>,
    /// Rows not measured on this token, with the reason.
    skipped: std::sync::Mutex<Vec<String>>,
}

impl Ctx {
    pub(crate) fn new(plan: Plan, filter: Vec<String>) -> Self {
        Ctx {
            plan,
            started: Instant::now(),
            filter: filter.into_iter().map(|f| f.to_lowercase()).collect(),
            skipped: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// Whether to run the row `name`; says so on stderr when it does.
    pub(crate) fn start(&self, name: &str) -> bool {
        let wanted = self.wants(name);
        if wanted {
            self.progress(name);
        }
        wanted
    }

    /// Whether the filter selects the row `name` (silently: see [`Ctx::start`]).
    pub(crate) fn wants(&self, name: &str) -> bool {
        let lower = name.to_lowercase();
        self.filter.is_empty() || self.filter.iter().any(|f| lower.contains(f))
    }

    /// Records that the row `name` is not measured on this token (its key or mechanism is
    /// missing, or hsm-jose does not offer the operation there), and says why on stderr.
    pub(crate) fn skip(&self, name: &str, reason: &str) {
        eprintln!("bench: skipping {name}: {reason}");
        if let Ok(mut skipped) = self.skipped.lock() {
            skipped.push(format!("{name}: {reason}"));
        }
    }

    /// The rows skipped so far, with their reasons.
    pub(crate) fn skipped(&self) -> Vec<String> {
        self.skipped.lock().map(|s| s.clone()).unwrap_or_default()
    }

    pub(crate) fn progress(&self, what: &str) {
        eprintln!("bench [{:6.1} s] {what}", self.seconds());
    }

    pub(crate) fn seconds(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }
}

/// The throughput of one variant: the median and spread of its repetitions.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub(crate) struct Rate {
    /// Median operations per second over the repetitions.
    pub(crate) ops_per_sec: f64,
    pub(crate) min: f64,
    pub(crate) max: f64,
    pub(crate) reps: Vec<f64>,
    /// Operations counted over all repetitions.
    pub(crate) ops: u64,
}

impl Rate {
    fn from_reps(reps: Vec<(u64, Duration)>) -> Self {
        let ops = reps.iter().map(|r| r.0).sum();
        let mut rates: Vec<f64> = reps
            .iter()
            .map(|(n, d)| *n as f64 / d.as_secs_f64().max(1e-9))
            .collect();
        let shown = rates.clone();
        rates.sort_by(f64::total_cmp);
        let median = if rates.is_empty() {
            0.0
        } else if rates.len() % 2 == 1 {
            rates[rates.len() / 2]
        } else {
            (rates[rates.len() / 2 - 1] + rates[rates.len() / 2]) / 2.0
        };
        Rate {
            ops_per_sec: median,
            min: rates.first().copied().unwrap_or(0.0),
            max: rates.last().copied().unwrap_or(0.0),
            reps: shown,
            ops,
        }
    }

    /// `self` over `other`, two variants of one row: the median of the ratios of their
    /// repetitions, each pair measured back to back in the same round, so that a slow spell
    /// of the machine weighs on both sides of a ratio alike.
    pub(crate) fn paired_ratio(&self, other: &Rate) -> f64 {
        let mut ratios: Vec<f64> = self
            .reps
            .iter()
            .zip(&other.reps)
            .map(|(a, b)| a / b)
            .collect();
        if ratios.is_empty() {
            return self.ops_per_sec / other.ops_per_sec;
        }
        ratios.sort_by(f64::total_cmp);
        let n = ratios.len();
        if n % 2 == 1 {
            ratios[n / 2]
        } else {
            (ratios[n / 2 - 1] + ratios[n / 2]) / 2.0
        }
    }

    /// Median time per operation, in microseconds.
    pub(crate) fn micros(&self) -> f64 {
        if self.ops_per_sec > 0.0 {
            1e6 / self.ops_per_sec
        } else {
            f64::NAN
        }
    }
}

/// One operation of a variant. Errors abort the bench: a benchmark that silently measures a
/// failing path measures nothing.
pub(crate) type Op<'a> = Box<dyn FnMut() + 'a>;

/// Runs `op` for one repetition; returns (ops, elapsed). `batch` operations run between clock
/// reads so that reading the clock stays out of the measurement of fast operations.
fn one_rep(op: &mut Op<'_>, plan: &Plan, batch: u64) -> (u64, Duration) {
    if let Some(n) = plan.quick_ops {
        let start = Instant::now();
        for _ in 0..n {
            op();
        }
        return (n, start.elapsed());
    }
    let start = Instant::now();
    let mut count = 0;
    loop {
        for _ in 0..batch {
            op();
        }
        count += batch;
        let elapsed = start.elapsed();
        if elapsed >= plan.rep_time {
            return (count, elapsed);
        }
    }
}

/// Warms `op` up and returns a batch size of about one millisecond of operations.
fn warm_up(op: &mut Op<'_>, plan: &Plan) -> u64 {
    if plan.is_quick() {
        op();
        return 1;
    }
    let start = Instant::now();
    let mut count = 0u64;
    while start.elapsed() < plan.warmup || count == 0 {
        op();
        count += 1;
    }
    let per_ms = count as f64 / (start.elapsed().as_secs_f64() * 1e3);
    (per_ms as u64).clamp(1, 1 << 16)
}

/// Measures the variants of one row interleaved: warm-up of each, then `reps` rounds in which
/// every variant runs one repetition, the order rotating from round to round.
pub(crate) fn interleaved(plan: &Plan, ops: &mut [Op<'_>]) -> Vec<Rate> {
    let batches: Vec<u64> = ops.iter_mut().map(|op| warm_up(op, plan)).collect();
    let mut reps: Vec<Vec<(u64, Duration)>> = vec![Vec::new(); ops.len()];
    for round in 0..plan.reps {
        for k in 0..ops.len() {
            let i = (k + round) % ops.len();
            reps[i].push(one_rep(&mut ops[i], plan, batches[i]));
        }
    }
    reps.into_iter().map(Rate::from_reps).collect()
}

/// A variant run by several threads at once: `make(thread)` builds each thread's operation
/// (for example with its own session), inside that thread.
pub(crate) type MakeOp<'a> = Box<dyn Fn(usize) -> Op<'a> + Sync + 'a>;

/// Like [`interleaved`], each variant running on `threads` threads at once. A repetition's rate
/// is the operations of all threads over the time from the common start to the last thread's
/// end.
pub(crate) fn interleaved_threads(
    plan: &Plan,
    threads: usize,
    variants: &[MakeOp<'_>],
) -> Vec<Rate> {
    // Warm-up: one short run of every variant.
    let warm = Plan {
        reps: 1,
        rep_time: plan.warmup,
        ..*plan
    };
    for v in variants {
        run_threads(&warm, threads, v);
    }
    let mut reps: Vec<Vec<(u64, Duration)>> = vec![Vec::new(); variants.len()];
    for round in 0..plan.reps {
        for k in 0..variants.len() {
            let i = (k + round) % variants.len();
            reps[i].push(run_threads(plan, threads, &variants[i]));
        }
    }
    reps.into_iter().map(Rate::from_reps).collect()
}

fn run_threads(plan: &Plan, threads: usize, make: &MakeOp<'_>) -> (u64, Duration) {
    let ready = Barrier::new(threads + 1);
    let go = Barrier::new(threads + 1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (ready, go) = (&ready, &go);
                scope.spawn(move || {
                    let mut op = make(t);
                    op(); // the thread's own warm-up: session checked out, caches filled
                    let batch = if plan.is_quick() {
                        1
                    } else {
                        calibrate(&mut op)
                    };
                    ready.wait();
                    go.wait();
                    let (n, _) = one_rep(&mut op, plan, batch);
                    (n, Instant::now())
                })
            })
            .collect();
        ready.wait();
        let start = Instant::now();
        go.wait();
        let mut total = 0;
        let mut end = start;
        for h in handles {
            let (n, t) = h
                .join()
                .unwrap_or_else(|_| crate::fail("a benchmark thread panicked"));
            total += n;
            end = end.max(t);
        }
        (total, end - start)
    })
}

/// A batch of about one millisecond, from a short timed run.
fn calibrate(op: &mut Op<'_>) -> u64 {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < Duration::from_millis(20) {
        op();
        n += 1;
    }
    ((n as f64 / 20.0) as u64).clamp(1, 1 << 16)
}
