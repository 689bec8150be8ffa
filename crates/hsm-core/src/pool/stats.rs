//! [`PoolStats`]: what a pool is doing, for metrics exporters; and the counters behind it.
//!
//! The counters are atomics, bumped where the event happens (no lock on the checkout path);
//! [`SessionPool::stats`] reads them and, under the pool's mutex for a moment, the gauges.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::SessionPool;

/// A snapshot of a [`SessionPool`]: gauges (now) and counters (since the pool was built; export
/// them as monotonic counters). From [`SessionPool::stats`].
///
/// Signs of trouble: `waiters` above zero most of the time, or `wait_time` growing about as fast
/// as the clock (the pool is too small for the load, or the token is slow); `timeouts` above
/// zero (callers got [`Error::PoolTimeout`](crate::Error::PoolTimeout)); `sessions_lost` or
/// `logins_lost` growing (the token restarts, or something in the process logs out);
/// `token_failures` growing faster than the failures your callers see (the pool recovers, at a
/// cost); `recoveries` below `sessions_lost + logins_lost` (some recoveries failed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolStats {
    /// The session limit (see [`SessionPool::max_sessions`]).
    pub max_sessions: usize,
    /// Sessions open now (idle or checked out).
    pub open: usize,
    /// Sessions idle in the pool now.
    pub idle: usize,
    /// Sessions checked out now (`open - idle`, including ones being opened).
    pub busy: usize,
    /// Callers waiting for a session now.
    pub waiters: usize,
    /// Sessions the pool opened (`C_OpenSession` succeeded).
    pub sessions_opened: u64,
    /// Checkouts that found every session busy and waited (however the wait ended).
    pub waits: u64,
    /// The total time those checkouts waited.
    pub wait_time: Duration,
    /// The longest single wait.
    pub longest_wait: Duration,
    /// Checkouts that waited `wait_timeout` in vain ([`Error::PoolTimeout`](crate::Error::PoolTimeout)).
    pub timeouts: u64,
    /// Sessions found dead during an operation (`CKR_SESSION_HANDLE_INVALID` and the other
    /// [`Recovery::NewSession`](super::Recovery::NewSession) answers).
    pub sessions_lost: u64,
    /// Logins found gone during an operation ([`Recovery::LoginAgain`](super::Recovery::LoginAgain)).
    pub logins_lost: u64,
    /// Operations that succeeded after the pool recovered from a lost session or login.
    pub recoveries: u64,
    /// `C_Login` calls for the user that the token accepted.
    pub logins: u64,
    /// Token calls made through the pool and through [`trace::token_call`](crate::trace::token_call)
    /// inside its operations.
    pub token_calls: u64,
    /// Those of `token_calls` that returned an error.
    pub token_failures: u64,
}

/// The counters, shared by the pool and the token calls made in its operations.
#[derive(Debug, Default)]
pub(crate) struct PoolCounters {
    sessions_opened: AtomicU64,
    waits: AtomicU64,
    wait_nanos: AtomicU64,
    longest_wait_nanos: AtomicU64,
    timeouts: AtomicU64,
    sessions_lost: AtomicU64,
    logins_lost: AtomicU64,
    recoveries: AtomicU64,
    logins: AtomicU64,
    token_calls: AtomicU64,
    token_failures: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

impl PoolCounters {
    pub(crate) fn token_call(&self, failed: bool) {
        bump(&self.token_calls);
        if failed {
            bump(&self.token_failures);
        }
    }

    pub(super) fn session_opened(&self) {
        bump(&self.sessions_opened);
    }

    pub(super) fn waited(&self, waited: Duration) {
        bump(&self.waits);
        self.wait_nanos.fetch_add(nanos(waited), Ordering::Relaxed);
        self.longest_wait_nanos
            .fetch_max(nanos(waited), Ordering::Relaxed);
    }

    pub(super) fn timeout(&self) {
        bump(&self.timeouts);
    }

    pub(super) fn session_lost(&self) {
        bump(&self.sessions_lost);
    }

    pub(super) fn login_lost(&self) {
        bump(&self.logins_lost);
    }

    pub(super) fn recovered(&self) {
        bump(&self.recoveries);
    }

    pub(super) fn logged_in(&self) {
        bump(&self.logins);
    }
}

impl SessionPool {
    /// The pool's gauges and counters now, for a metrics exporter. Cheap: a moment under the
    /// pool's mutex for the gauges, atomic reads for the counters.
    ///
    /// ```no_run
    /// # fn main() -> hsm_core::Result<()> {
    /// let pool = hsm_core::SessionPool::from_env()?;
    /// let stats = pool.stats();
    /// println!(
    ///     "sessions {}/{} busy, {} waiting, {} waits ({:?} in all), {} lost",
    ///     stats.busy, stats.max_sessions, stats.waiters, stats.waits, stats.wait_time,
    ///     stats.sessions_lost,
    /// );
    /// # Ok(())
    /// # }
    /// ```
    pub fn stats(&self) -> PoolStats {
        let (open, idle, waiters) = {
            let state = self.inner.lock_state();
            (
                state.open(),
                state.idle_ro.len() + state.idle_rw.len(),
                state.waiters(),
            )
        };
        let c = &self.inner.counters;
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        PoolStats {
            max_sessions: self.inner.max_sessions,
            open,
            idle,
            busy: open.saturating_sub(idle),
            waiters,
            sessions_opened: load(&c.sessions_opened),
            waits: load(&c.waits),
            wait_time: Duration::from_nanos(load(&c.wait_nanos)),
            longest_wait: Duration::from_nanos(load(&c.longest_wait_nanos)),
            timeouts: load(&c.timeouts),
            sessions_lost: load(&c.sessions_lost),
            logins_lost: load(&c.logins_lost),
            recoveries: load(&c.recoveries),
            logins: load(&c.logins),
            token_calls: load(&c.token_calls),
            token_failures: load(&c.token_failures),
        }
    }
}
