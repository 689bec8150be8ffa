//! The blocking workers: a fixed set of threads that run token calls off the async runtime,
//! and the semaphore that lets async callers wait for one of them without holding a thread.
//!
//! There are exactly as many permits as threads, and a job is handed to the threads only with a
//! permit, so a job never queues behind another one: when a caller has its permit, a thread is
//! free for it. The permit travels inside the job and is released when the job has finished
//! (after the session went back to the pool), whether or not anyone still waits for the result.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError, oneshot};
use tokio::time::Instant;

use super::{ServiceError, ServiceStats};
use hsm_core::PoolStats;

type Job = Box<dyn FnOnce() + Send + 'static>;

/// Threads, permits and the count of callers waiting for a permit.
pub(crate) struct Workers {
    /// Dropping it (with the `Workers`) tells the threads to finish their jobs and exit; they
    /// are not joined, since a drop on a runtime thread must not block.
    queue: mpsc::Sender<Job>,
    slots: Arc<Semaphore>,
    size: usize,
    waiting: Arc<AtomicUsize>,
    max_waiting: usize,
    counters: Arc<Counters>,
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

impl Workers {
    /// Starts `size` threads (at least one) named `{name}-{n}`.
    pub(crate) fn start(name: &str, size: usize, max_waiting: usize) -> Result<Self, ServiceError> {
        let size = size.max(1);
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for n in 0..size {
            let rx = Arc::clone(&rx);
            std::thread::Builder::new()
                .name(format!("{name}-{n}"))
                .spawn(move || worker_loop(&rx))
                .map_err(ServiceError::Workers)?;
        }
        Ok(Workers {
            queue: tx,
            slots: Arc::new(Semaphore::new(size)),
            size,
            waiting: Arc::new(AtomicUsize::new(0)),
            max_waiting,
            counters: Arc::new(Counters::default()),
        })
    }

    pub(crate) fn size(&self) -> usize {
        self.size
    }

    pub(crate) fn max_waiting(&self) -> usize {
        self.max_waiting
    }

    /// Jobs running now (permits handed out).
    pub(crate) fn busy(&self) -> usize {
        self.size.saturating_sub(self.slots.available_permits())
    }

    /// Callers waiting for a permit now.
    pub(crate) fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// The readings and running totals.
    pub(crate) fn stats(&self) -> ServiceStats {
        let c = &self.counters;
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ServiceStats {
            workers: self.size,
            running: self.busy(),
            waiting: self.waiting(),
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
    /// Cancellation: dropping the returned future while it waits for a permit leaves nothing
    /// behind; dropping it later leaves the job running to its end, and its result is dropped.
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
        let permit = self.permit(until, deadline).await?;
        let (tx, rx) = oneshot::channel();
        let counters = Arc::clone(&self.counters);
        let boxed: Job = Box::new(move || {
            bump(&counters.started);
            let result = catch_unwind(AssertUnwindSafe(job));
            // Free the slot before handing over the result, so that the receiver can start
            // its next operation at once.
            drop(permit);
            bump(&counters.finished);
            match result {
                Ok(value) => {
                    // The receiver may be gone (dropped future, deadline): the value is dropped.
                    if tx.send(value).is_err() {
                        bump(&counters.abandoned);
                    }
                }
                Err(_panic) => bump(&counters.panicked),
            }
        });
        // A send fails only when every thread is gone; the job (and its permit) is dropped
        // with the error.
        self.queue.send(boxed).map_err(|_| ServiceError::Panicked)?;
        match tokio::time::timeout_at(until, rx).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(_)) => Err(ServiceError::Panicked),
            Err(_) => {
                bump(&self.counters.deadline_running);
                Err(ServiceError::DeadlineRunning { deadline })
            }
        }
    }

    async fn permit(
        &self,
        until: Instant,
        deadline: Duration,
    ) -> Result<OwnedSemaphorePermit, ServiceError> {
        match Arc::clone(&self.slots).try_acquire_owned() {
            Ok(permit) => return Ok(permit),
            Err(TryAcquireError::NoPermits) => {}
            // The semaphore is never closed.
            Err(TryAcquireError::Closed) => return Err(ServiceError::Panicked),
        }
        let _waiting = match Waiting::enter(&self.waiting, self.max_waiting, &self.counters) {
            Ok(w) => w,
            Err(e) => {
                bump(&self.counters.busy);
                return Err(e);
            }
        };
        match tokio::time::timeout_at(until, Arc::clone(&self.slots).acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_closed)) => Err(ServiceError::Panicked),
            Err(_elapsed) => {
                bump(&self.counters.deadline_waiting);
                Err(ServiceError::DeadlineWaiting { deadline })
            }
        }
    }
}

fn worker_loop(rx: &Mutex<mpsc::Receiver<Job>>) {
    loop {
        let next = rx.lock().unwrap_or_else(PoisonError::into_inner).recv();
        match next {
            Ok(job) => job(),
            Err(mpsc::RecvError) => return,
        }
    }
}

/// One caller counted as waiting for a permit, for as long as this lives (a dropped future
/// uncounts itself); its waiting time is added to the totals when it ends.
struct Waiting<'a> {
    count: &'a AtomicUsize,
    counters: &'a Counters,
    since: std::time::Instant,
}

impl<'a> Waiting<'a> {
    fn enter(
        count: &'a AtomicUsize,
        limit: usize,
        counters: &'a Counters,
    ) -> Result<Self, ServiceError> {
        let mut now = count.load(Ordering::Relaxed);
        loop {
            if now >= limit {
                return Err(ServiceError::Busy { limit });
            }
            match count.compare_exchange_weak(now, now + 1, Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) => {
                    bump(&counters.waits);
                    return Ok(Waiting {
                        count,
                        counters,
                        since: std::time::Instant::now(),
                    });
                }
                Err(actual) => now = actual,
            }
        }
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.count.fetch_sub(1, Ordering::AcqRel);
        let nanos = u64::try_from(self.since.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.counters.wait_nanos.fetch_add(nanos, Ordering::Relaxed);
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
