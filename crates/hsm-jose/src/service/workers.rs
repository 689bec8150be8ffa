//! The blocking workers: a fixed set of threads that run token calls off the async runtime,
//! and the line in which async callers wait for one of them without holding a thread.
//!
//! The line is a FIFO queue of jobs that the worker threads take from directly: a worker that
//! finishes a job takes the next one at once, without a round trip through the async runtime
//! (on a machine whose cores are busy with the token's own work, such a round trip waits for a
//! runtime thread to be scheduled, and the session stays idle meanwhile). A caller whose
//! deadline passes, or whose future is dropped, while its job is still in line takes the job
//! out of the line under the same lock the workers take it with, so a job either runs whole or
//! never starts. A job counts as waiting only when no worker is free for it.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

use super::{ServiceError, ServiceStats};
use hsm_core::PoolStats;

type Job = Box<dyn FnOnce() + Send + 'static>;

/// Threads and the line they serve.
pub(crate) struct Workers {
    shared: Arc<Shared>,
    size: usize,
    max_waiting: usize,
}

/// What the threads and the callers share.
struct Shared {
    line: Mutex<Line>,
    /// Signalled when a job joins the line or the workers are told to exit.
    ready: Condvar,
    counters: Counters,
}

/// The jobs in line, oldest first, and the jobs running now.
#[derive(Default)]
struct Line {
    jobs: VecDeque<Queued>,
    running: usize,
    next_id: u64,
    /// Set when the `Workers` is dropped: the threads finish the line, then exit.
    closed: bool,
}

struct Queued {
    id: u64,
    job: Job,
    /// When the job had to wait for a worker (none was free when it joined the line).
    waited_since: Option<std::time::Instant>,
}

/// Running totals since the workers started.
#[derive(Default)]
struct Counters {
    started: AtomicU64,
    finished: AtomicU64,
    abandoned: AtomicU64,
    panicked: AtomicU64,
    busy: AtomicU64,
    deadline_waiting: AtomicU64,
    deadline_running: AtomicU64,
    waits: AtomicU64,
    wait_nanos: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Shared {
    fn line(&self) -> MutexGuard<'_, Line> {
        // A job runs outside the lock, and nothing under it panics: poisoning cannot leave
        // the line half-updated.
        self.line.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds the time a job spent waiting for a worker to the totals.
    fn waited(&self, since: Option<std::time::Instant>) {
        if let Some(since) = since {
            let nanos = u64::try_from(since.elapsed().as_nanos()).unwrap_or(u64::MAX);
            self.counters.wait_nanos.fetch_add(nanos, Ordering::Relaxed);
        }
    }

    /// Takes job `id` out of the line if no worker has taken it yet; whether it did.
    fn withdraw(&self, id: u64) -> bool {
        let mut line = self.line();
        let Some(at) = line.jobs.iter().position(|q| q.id == id) else {
            return false;
        };
        let removed = line.jobs.remove(at);
        drop(line);
        if let Some(q) = removed {
            self.waited(q.waited_since);
            // The job (and what it captured) is dropped here, outside the lock.
        }
        true
    }
}

impl Line {
    /// Jobs in line beyond the workers that are free for them.
    fn waiting(&self, size: usize) -> usize {
        self.jobs
            .len()
            .saturating_sub(size.saturating_sub(self.running))
    }
}

impl Workers {
    /// Starts `size` threads (at least one) named `{name}-{n}`.
    pub(crate) fn start(name: &str, size: usize, max_waiting: usize) -> Result<Self, ServiceError> {
        let size = size.max(1);
        let shared = Arc::new(Shared {
            line: Mutex::new(Line::default()),
            ready: Condvar::new(),
            counters: Counters::default(),
        });
        let workers = Workers {
            shared,
            size,
            max_waiting,
        };
        for n in 0..size {
            let shared = Arc::clone(&workers.shared);
            // On an error, `workers` is dropped: the threads already started exit.
            std::thread::Builder::new()
                .name(format!("{name}-{n}"))
                .spawn(move || worker_loop(&shared))
                .map_err(ServiceError::Workers)?;
        }
        Ok(workers)
    }

    pub(crate) fn size(&self) -> usize {
        self.size
    }

    pub(crate) fn max_waiting(&self) -> usize {
        self.max_waiting
    }

    /// Jobs running now.
    pub(crate) fn busy(&self) -> usize {
        self.shared.line().running
    }

    /// Callers waiting for a worker now.
    pub(crate) fn waiting(&self) -> usize {
        self.shared.line().waiting(self.size)
    }

    /// The readings and running totals.
    pub(crate) fn stats(&self) -> ServiceStats {
        let c = &self.shared.counters;
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let (running, waiting) = {
            let line = self.shared.line();
            (line.running, line.waiting(self.size))
        };
        ServiceStats {
            workers: self.size,
            running,
            waiting,
            max_waiting: self.max_waiting,
            started: load(&c.started),
            finished: load(&c.finished),
            abandoned: load(&c.abandoned),
            panicked: load(&c.panicked),
            busy: load(&c.busy),
            deadline_waiting: load(&c.deadline_waiting),
            deadline_running: load(&c.deadline_running),
            waits: load(&c.waits),
            wait_time: Duration::from_nanos(load(&c.wait_nanos)),
            pool: PoolStats::default(),
        }
    }

    /// Runs `job` on a worker thread and returns its result, within `deadline` from now.
    ///
    /// Cancellation: dropping the returned future while its job is in line takes the job out
    /// of the line; dropping it later leaves the job running to its end, and its result is
    /// dropped.
    pub(crate) async fn execute<T, F>(&self, deadline: Duration, job: F) -> Result<T, ServiceError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let now = Instant::now();
        // A deadline too far to represent (Duration::MAX) is no deadline: a century.
        let until = now
            .checked_add(deadline)
            .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600));
        let (tx, rx) = oneshot::channel();
        let shared = Arc::clone(&self.shared);
        let boxed: Job = Box::new(move || {
            let result = catch_unwind(AssertUnwindSafe(job));
            // The worker counts the job finished (its session back in the pool) before the
            // result is handed over, so that the receiver sees a free worker at once.
            finish(&shared);
            match result {
                Ok(value) => {
                    // The receiver may be gone (dropped future, deadline): the value is dropped.
                    if tx.send(value).is_err() {
                        bump(&shared.counters.abandoned);
                    }
                }
                Err(_panic) => bump(&shared.counters.panicked),
            }
        });
        let id = self.join(boxed)?;
        // From here until the result arrives, dropping this future withdraws the job if it is
        // still in line.
        let mut pending = Pending {
            shared: &self.shared,
            id: Some(id),
        };
        let outcome = tokio::time::timeout_at(until, rx).await;
        pending.id = None;
        match outcome {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(_)) => Err(ServiceError::Panicked),
            Err(_elapsed) => {
                if self.shared.withdraw(id) {
                    bump(&self.shared.counters.deadline_waiting);
                    Err(ServiceError::DeadlineWaiting { deadline })
                } else {
                    bump(&self.shared.counters.deadline_running);
                    Err(ServiceError::DeadlineRunning { deadline })
                }
            }
        }
    }

    /// Puts `job` in line, or refuses it when it would wait and the line is full.
    fn join(&self, job: Job) -> Result<u64, ServiceError> {
        let mut line = self.shared.line();
        let must_wait = line.running + line.jobs.len() >= self.size;
        if must_wait && line.waiting(self.size) >= self.max_waiting {
            drop(line);
            bump(&self.shared.counters.busy);
            return Err(ServiceError::Busy {
                limit: self.max_waiting,
            });
        }
        let id = line.next_id;
        line.next_id = line.next_id.wrapping_add(1);
        line.jobs.push_back(Queued {
            id,
            job,
            waited_since: must_wait.then(std::time::Instant::now),
        });
        drop(line);
        if must_wait {
            bump(&self.shared.counters.waits);
        }
        self.shared.ready.notify_one();
        Ok(id)
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        // The threads are not joined: a drop on a runtime thread must not block.
        self.shared.line().closed = true;
        self.shared.ready.notify_all();
    }
}

/// A job in line whose caller still waits; dropping it (a dropped future) withdraws the job.
struct Pending<'a> {
    shared: &'a Shared,
    id: Option<u64>,
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if let Some(id) = self.id {
            self.shared.withdraw(id);
        }
    }
}

/// A job has ended on its worker.
fn finish(shared: &Shared) {
    let mut line = shared.line();
    line.running = line.running.saturating_sub(1);
    drop(line);
    bump(&shared.counters.finished);
}

fn worker_loop(shared: &Shared) {
    loop {
        let next = {
            let mut line = shared.line();
            loop {
                if let Some(q) = line.jobs.pop_front() {
                    line.running += 1;
                    break Some(q);
                }
                if line.closed {
                    break None;
                }
                line = shared
                    .ready
                    .wait(line)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        };
        let Some(q) = next else { return };
        shared.waited(q.waited_since);
        bump(&shared.counters.started);
        (q.job)();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
    }

    #[test]
    fn runs_off_the_runtime_thread() {
        let workers = Workers::start("t", 2, 8).unwrap();
        let here = std::thread::current().id();
        let there = runtime()
            .block_on(workers.execute(Duration::from_secs(5), || std::thread::current().id()))
            .unwrap();
        assert_ne!(here, there);
    }

    #[test]
    fn busy_when_the_waiting_line_is_full() {
        let rt = runtime();
        let workers = Arc::new(Workers::start("t", 1, 1).unwrap());
        let release = Arc::new(AtomicBool::new(false));
        rt.block_on(async {
            let r = Arc::clone(&release);
            let w = Arc::clone(&workers);
            let running = tokio::spawn(async move {
                w.execute(Duration::from_secs(5), move || {
                    while !r.load(Ordering::Acquire) {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    1
                })
                .await
            });
            while workers.busy() == 0 {
                tokio::task::yield_now().await;
            }
            let w = Arc::clone(&workers);
            let waiter = tokio::spawn(async move { w.execute(Duration::from_secs(5), || 2).await });
            while workers.waiting() == 0 {
                tokio::task::yield_now().await;
            }
            let refused = workers.execute(Duration::from_secs(5), || 3).await;
            assert!(matches!(refused, Err(ServiceError::Busy { limit: 1 })));
            release.store(true, Ordering::Release);
            assert_eq!(running.await.unwrap().unwrap(), 1);
            assert_eq!(waiter.await.unwrap().unwrap(), 2);
        });
        assert_eq!(workers.waiting(), 0);
        let stats = workers.stats();
        assert_eq!((stats.busy, stats.waits, stats.finished), (1, 1, 2));
        assert!(stats.wait_time > Duration::ZERO);
    }

    #[test]
    fn deadlines_while_waiting_and_while_running() {
        let rt = runtime();
        let workers = Workers::start("t", 1, 8).unwrap();
        rt.block_on(async {
            let slow = workers.execute(Duration::from_millis(50), || {
                std::thread::sleep(Duration::from_millis(400));
                "done"
            });
            let waiting = workers.execute(Duration::from_millis(50), || "never");
            let (slow, waiting) = tokio::join!(slow, waiting);
            assert!(matches!(
                slow,
                Err(ServiceError::DeadlineRunning { deadline }) if deadline == Duration::from_millis(50)
            ));
            assert!(matches!(waiting, Err(ServiceError::DeadlineWaiting { .. })));
            // The slow job still holds its slot until it ends, then frees it.
            let next = workers.execute(Duration::from_secs(5), || "next").await;
            assert_eq!(next.unwrap(), "next");
        });
        assert_eq!(workers.busy(), 0);
        assert_eq!(workers.waiting(), 0);
        let stats = workers.stats();
        assert_eq!((stats.deadline_running, stats.deadline_waiting), (1, 1));
        assert_eq!((stats.started, stats.finished, stats.abandoned), (2, 2, 1));
    }

    #[test]
    fn a_dropped_future_lets_its_job_finish_and_frees_the_slot() {
        let rt = runtime();
        let workers = Workers::start("t", 1, 8).unwrap();
        let finished = Arc::new(AtomicBool::new(false));
        rt.block_on(async {
            let f = Arc::clone(&finished);
            let fut = workers.execute(Duration::from_secs(5), move || {
                std::thread::sleep(Duration::from_millis(100));
                f.store(true, Ordering::Release);
            });
            // Poll it until the job is handed over, then drop it.
            let dropped = tokio::time::timeout(Duration::from_millis(10), fut).await;
            let Err(_elapsed) = dropped else {
                panic!("the job cannot finish within 10 ms")
            };
            assert_eq!(workers.busy(), 1);
            workers
                .execute(Duration::from_secs(5), || ())
                .await
                .unwrap();
        });
        assert!(finished.load(Ordering::Acquire));
        assert_eq!(workers.busy(), 0);
        assert_eq!(workers.stats().abandoned, 1);
    }

    #[test]
    fn a_future_dropped_while_in_line_takes_its_job_out_of_the_line() {
        let rt = runtime();
        let workers = Workers::start("t", 1, 8).unwrap();
        let ran = Arc::new(AtomicBool::new(false));
        rt.block_on(async {
            let first = workers.execute(Duration::from_secs(5), || {
                std::thread::sleep(Duration::from_millis(100));
            });
            let r = Arc::clone(&ran);
            let second = workers.execute(Duration::from_secs(5), move || {
                r.store(true, Ordering::Release);
            });
            // The second job waits behind the first; its future is dropped after 10 ms.
            let (first, second) = tokio::join!(
                first,
                tokio::time::timeout(Duration::from_millis(10), second)
            );
            first.unwrap();
            let Err(_elapsed) = second else {
                panic!("the second job cannot start before the first ends")
            };
            assert_eq!(workers.waiting(), 0);
            workers
                .execute(Duration::from_secs(5), || ())
                .await
                .unwrap();
        });
        assert!(!ran.load(Ordering::Acquire), "a withdrawn job never runs");
        let stats = workers.stats();
        assert_eq!((stats.started, stats.finished, stats.waits), (2, 2, 1));
        assert_eq!((stats.abandoned, stats.deadline_waiting), (0, 0));
    }

    #[test]
    fn an_unrepresentable_deadline_is_no_deadline() {
        let workers = Workers::start("t", 1, 8).unwrap();
        let out = runtime().block_on(workers.execute(Duration::MAX, || 5));
        assert_eq!(out.unwrap(), 5);
    }

    #[test]
    fn a_panicking_job_is_an_error_and_the_worker_survives() {
        let rt = runtime();
        let workers = Workers::start("t", 1, 8).unwrap();
        rt.block_on(async {
            #[allow(clippy::panic)]
            let bad = workers
                .execute(Duration::from_secs(5), || -> u8 { panic!("job panics") })
                .await;
            assert!(matches!(bad, Err(ServiceError::Panicked)));
            assert_eq!(
                workers.execute(Duration::from_secs(5), || 7).await.unwrap(),
                7
            );
        });
    }
}
