//! [`ServiceStats`]: what an [`AsyncHsm`](super::AsyncHsm) is doing, for metrics exporters.

use std::time::Duration;

use hsm_core::PoolStats;

/// A snapshot of an [`AsyncHsm`](super::AsyncHsm)'s workers: gauges (now) and counters (since
/// the workers started; export them as monotonic counters).
///
/// Every operation that got a worker is `started` and then `finished` (also when its future
/// was dropped: then it is `abandoned` too). Every operation refused or timed out is in exactly
/// one of `busy`, `deadline_waiting`, `deadline_running`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServiceStats {
    /// Worker threads (operations that can run at once).
    pub workers: usize,
    /// Operations running on a worker now.
    pub running: usize,
    /// Operations waiting for a worker now.
    pub waiting: usize,
    /// The limit on `waiting` beyond which operations are refused.
    pub max_waiting: usize,
    /// Operations that started on a worker.
    pub started: u64,
    /// Operations that ended on a worker (their session back in the pool).
    pub finished: u64,
    /// Operations that finished after their caller was gone (future dropped, or
    /// `DeadlineRunning`): their result was dropped.
    pub abandoned: u64,
    /// Jobs that panicked (only closures given to `run`; hsm-jose's operations do not).
    pub panicked: u64,
    /// Operations refused with `ServiceError::Busy`.
    pub busy: u64,
    /// Operations that ended in `ServiceError::DeadlineWaiting`.
    pub deadline_waiting: u64,
    /// Operations that ended in `ServiceError::DeadlineRunning`.
    pub deadline_running: u64,
    /// Operations that found every worker busy and waited (however the wait ended).
    pub waits: u64,
    /// The total time those operations waited.
    pub wait_time: Duration,
    /// The session pool under the workers ([`SessionPool::stats`](hsm_core::SessionPool::stats)):
    /// its sessions, its own waits (which stay at zero while the workers are no more than the
    /// sessions), lost sessions and logins, token calls and failures.
    pub pool: PoolStats,
}
