//! Handing sessions out and taking them back: [`PooledSession`], the session limits, waiting
//! for a free session.
//!
//! Checkout and return are a mutex-protected pop and push: no PKCS#11 call on that path. Up to
//! `max_sessions` sessions are open; when all are busy, callers wait up to `wait_timeout`, then
//! get [`Error::PoolTimeout`].
//!
//! Waiting is first come, first served, per access (read-only, read-write): a caller that waits
//! takes a place in a queue, each with its own condition variable; a freed session wakes only
//! the first waiter of each access, and no caller takes a session (idle, new, or traded) while
//! a caller of the same access waits before it. Without that, a thread that gives a session back
//! and asks again at once would take it before the woken waiter runs, and under overload some
//! callers would wait until their timeout while others are served again and again.

use std::collections::VecDeque;
use std::fmt;
use std::ops::Deref;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar};
use std::time::Instant;

use cryptoki::context::Function;
use cryptoki::session::Session;
use cryptoki::slot::Slot;

use super::stats::PoolCounters;
use super::{PoolInner, Recovery, SessionPool};
use crate::error::{Error, Result};
use crate::module::Module;
use crate::trace::{POOL_TARGET, traced};

/// Read-only or read-write: the pool keeps an idle list of each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Access {
    /// `C_OpenSession` without `CKF_RW_SESSION`.
    ReadOnly,
    /// With `CKF_RW_SESSION`.
    ReadWrite,
}

impl Access {
    pub(super) fn other(self) -> Access {
        match self {
            Access::ReadOnly => Access::ReadWrite,
            Access::ReadWrite => Access::ReadOnly,
        }
    }
}

#[derive(Default)]
/// The idle sessions and the counts, behind the pool's mutex.
pub(super) struct State {
    pub(super) idle_ro: Vec<Tracked>,
    pub(super) idle_rw: Vec<Tracked>,
    /// Sessions open (idle, checked out, or being opened/closed), by access.
    pub(super) open_ro: usize,
    pub(super) open_rw: usize,
    /// Callers waiting for a session, in the order they started to wait.
    queue: VecDeque<Waiter>,
    next_ticket: u64,
}

/// A caller waiting for a session: its place, what it waits for, and what wakes it.
struct Waiter {
    ticket: u64,
    access: Access,
    woken: Arc<Condvar>,
}

impl State {
    fn idle(&mut self, access: Access) -> &mut Vec<Tracked> {
        match access {
            Access::ReadOnly => &mut self.idle_ro,
            Access::ReadWrite => &mut self.idle_rw,
        }
    }

    fn count(&mut self, access: Access) -> &mut usize {
        match access {
            Access::ReadOnly => &mut self.open_ro,
            Access::ReadWrite => &mut self.open_rw,
        }
    }

    pub(super) fn open(&self) -> usize {
        self.open_ro + self.open_rw
    }

    /// Callers waiting for a session now.
    pub(super) fn waiters(&self) -> usize {
        self.queue.len()
    }

    /// True when no caller of `access` waits before the one holding `ticket` (or, without a
    /// ticket, at all): it may take a session.
    fn turn_of(&self, access: Access, ticket: Option<u64>) -> bool {
        self.queue
            .iter()
            .find(|w| w.access == access)
            .is_none_or(|w| Some(w.ticket) == ticket)
    }

    /// Takes a place in the queue.
    fn enqueue(&mut self, access: Access, woken: Arc<Condvar>) -> u64 {
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        self.queue.push_back(Waiter {
            ticket,
            access,
            woken,
        });
        ticket
    }

    /// Leaves the queue (served, failed or timed out).
    fn dequeue(&mut self, ticket: Option<u64>) {
        if let Some(ticket) = ticket {
            self.queue.retain(|w| w.ticket != ticket);
        }
    }
}

impl SessionPool {
    /// Checks out a read-only session (which can still sign, decrypt, and create session
    /// objects). Waits up to the pool's `wait_timeout` when every session is busy.
    ///
    /// A thread may hold several guards at once (nested calls work while `max_sessions` allows).
    pub fn session(&self) -> Result<PooledSession> {
        self.inner.checkout(Access::ReadOnly, true)
    }

    /// Checks out a read-write session (to create or destroy token objects).
    pub fn session_rw(&self) -> Result<PooledSession> {
        self.inner.checkout(Access::ReadWrite, true)
    }
}

impl PoolInner {
    /// Wakes the first waiter of each access: whichever a freed session (or a freed place)
    /// serves runs next; the other looks and waits again.
    fn wake(&self, state: &State) {
        for access in [Access::ReadOnly, Access::ReadWrite] {
            if let Some(first) = state.queue.iter().find(|w| w.access == access) {
                first.woken.notify_one();
            }
        }
    }

    /// Hands out a session: an idle one (when `reuse_idle`), else a new one within the limits,
    /// else waits. With `reuse_idle` false a brand-new session is opened, replacing an idle one
    /// if the pool is full.
    pub(super) fn checkout(
        self: &Arc<Self>,
        access: Access,
        reuse_idle: bool,
    ) -> Result<PooledSession> {
        self.start_over_after_fork()?;
        // Declared before the state guard: records the wait, if any, after the lock is gone.
        let mut wait = WaitClock {
            counters: &self.counters,
            slot: self.slot,
            started: None,
        };
        let mut state = self.lock_state();
        let mut deadline = None;
        // Set when the token refused a session (CKR_SESSION_COUNT) while the pool has some of
        // its own: the token's limit is below `max_sessions` (it may not state one, or other
        // applications hold sessions), so this checkout waits for one of ours, as when full.
        let mut token_full = false;
        // This caller's place in the queue, once it waits, and what wakes it.
        let mut ticket: Option<u64> = None;
        let mut woken: Option<Arc<Condvar>> = None;
        loop {
            // Nothing is taken while a caller of the same access waits before this one.
            let turn = state.turn_of(access, ticket);
            if turn
                && reuse_idle
                && let Some(session) = state.idle(access).pop()
            {
                state.dequeue(ticket);
                self.wake(&state); // more may be idle: the next waiter looks
                return Ok(PooledSession {
                    session: Some(session),
                    pool: Arc::clone(self),
                    access,
                });
            }
            let rw_ok = access == Access::ReadOnly || state.open_rw < self.max_rw_sessions;
            let full = state.open() >= self.max_sessions || (token_full && state.open() > 0);
            if turn && rw_ok && !full {
                *state.count(access) += 1;
                drop(state);
                let opened = self.open_counted(access);
                state = self.lock_state();
                match opened {
                    Err(error) if error.recovery() == Recovery::WaitForSession => {
                        if state.open() == 0 {
                            state.dequeue(ticket);
                            self.wake(&state);
                            return Err(error); // nothing of ours to wait for
                        }
                        token_full = true;
                        continue;
                    }
                    result => {
                        state.dequeue(ticket);
                        self.wake(&state);
                        return result;
                    }
                }
            }
            // Full: trade an idle session of the other access (or, for a fresh session, of
            // this one) for a new session.
            let victim = (turn && rw_ok)
                .then(|| {
                    state
                        .idle(access.other())
                        .pop()
                        .map(|s| (s, access.other()))
                })
                .flatten()
                .or_else(|| {
                    (!reuse_idle)
                        .then(|| state.idle(access).pop().map(|s| (s, access)))
                        .flatten()
                });
            if let Some((old, old_access)) = victim {
                *state.count(old_access) -= 1;
                *state.count(access) += 1;
                state.dequeue(ticket);
                self.wake(&state);
                drop(state);
                drop(old); // C_CloseSession, outside the lock
                return self.open_counted(access);
            }
            let now = Instant::now();
            let deadline = *deadline.get_or_insert(now + self.wait_timeout);
            if now >= deadline {
                state.dequeue(ticket);
                self.wake(&state); // the next waiter may be served by what this one leaves
                self.counters.timeout();
                tracing::warn!(target: POOL_TARGET, slot = self.slot.id(),
                    open = state.open(), waiters = state.waiters(),
                    wait_timeout_ms = u64::try_from(self.wait_timeout.as_millis()).unwrap_or(u64::MAX),
                    "no session free within the wait timeout");
                return Err(Error::PoolTimeout {
                    waited: self.wait_timeout,
                });
            }
            if wait.started.is_none() {
                wait.started = Some(now);
                tracing::debug!(target: POOL_TARGET, slot = self.slot.id(),
                    open = state.open(), waiters = state.waiters() + 1,
                    "every session busy: waiting");
            }
            let woken = Arc::clone(woken.get_or_insert_with(|| Arc::new(Condvar::new())));
            if ticket.is_none() {
                ticket = Some(state.enqueue(access, Arc::clone(&woken)));
            }
            state = woken
                .wait_timeout(state, deadline - now)
                .map(|(guard, _)| guard)
                .unwrap_or_else(|poisoned| poisoned.into_inner().0);
        }
    }

    /// Opens a session already counted in the state; uncounts it on failure.
    fn open_counted(self: &Arc<Self>, access: Access) -> Result<PooledSession> {
        match self.open_session(access) {
            Ok(session) => Ok(PooledSession {
                session: Some(session),
                pool: Arc::clone(self),
                access,
            }),
            Err(error) => {
                let mut state = self.lock_state();
                *state.count(access) -= 1;
                self.wake(&state);
                Err(error)
            }
        }
    }

    /// Opens a session and logs in if needed. A `C_OpenSession` failure that
    /// [`recovery`](super::recovery) answers with [`Recovery::RetryOnce`] (the token short of
    /// memory for a moment) is tried once more.
    fn open_session(&self, access: Access) -> Result<Tracked> {
        let pkcs11 = self.module.pkcs11();
        let open = || {
            traced(
                Some(self.slot),
                Some(&self.counters),
                Function::OpenSession,
                None,
                || match access {
                    Access::ReadOnly => pkcs11.open_ro_session(self.slot),
                    Access::ReadWrite => pkcs11.open_rw_session(self.slot),
                },
            )
            .map_err(|e| Error::from_cryptoki("opening a session", e))
        };
        let session = match open() {
            Err(error) if error.recovery() == Recovery::RetryOnce => open()?,
            result => result?,
        };
        self.counters.session_opened();
        tracing::debug!(target: POOL_TARGET, slot = self.slot.id(),
            read_write = access == Access::ReadWrite, "session opened");
        let session = Tracked::new(session, &self.module, self.slot, &self.counters);
        self.ensure_login(session.session())?;
        Ok(session)
    }

    pub(super) fn give_back(&self, session: Tracked, access: Access) {
        if session.is_inherited() {
            return; // checked out before a fork: not counted in this process (dropped unclosed)
        }
        let mut state = self.lock_state();
        state.idle(access).push(session);
        self.wake(&state);
    }

    pub(super) fn forget(&self, session: Tracked, access: Access) {
        if session.is_inherited() {
            return; // as in give_back
        }
        drop(session); // C_CloseSession first, so the pool never exceeds its limit
        let mut state = self.lock_state();
        *state.count(access) -= 1;
        self.wake(&state);
    }

    pub(super) fn close_idle(&self) {
        let (ro, rw) = {
            let mut state = self.lock_state();
            (
                std::mem::take(&mut state.idle_ro),
                std::mem::take(&mut state.idle_rw),
            )
        };
        let (closed_ro, closed_rw) = (ro.len(), rw.len());
        drop(ro);
        drop(rw);
        let mut state = self.lock_state();
        state.open_ro -= closed_ro;
        state.open_rw -= closed_rw;
        self.wake(&state);
    }
}

/// Records a checkout's wait, if it waited, when the checkout ends (whatever the outcome).
struct WaitClock<'a> {
    counters: &'a PoolCounters,
    slot: Slot,
    started: Option<Instant>,
}

impl Drop for WaitClock<'_> {
    fn drop(&mut self) {
        if let Some(started) = self.started {
            let waited = started.elapsed();
            self.counters.waited(waited);
            tracing::debug!(target: POOL_TARGET, slot = self.slot.id(),
                waited_us = u64::try_from(waited.as_micros()).unwrap_or(u64::MAX),
                "wait ended");
        }
    }
}

/// A session opened by a pool, counted in [`Module::pool_sessions`] until it is closed.
pub(super) struct Tracked {
    /// `Some` until dropped: [`Drop`] closes it, or leaves it open in a forked child.
    session: Option<Session>,
    /// The process that opened the session.
    pid: u32,
    /// For the `C_CloseSession` span and count.
    slot: Slot,
    counters: Arc<PoolCounters>,
    // Dropped after `Drop::drop` has dealt with the session: the count goes down last.
    _count: SessionCount,
}

struct SessionCount(Arc<AtomicUsize>);

impl Tracked {
    pub(super) fn new(
        session: Session,
        module: &Module,
        slot: Slot,
        counters: &Arc<PoolCounters>,
    ) -> Self {
        let counter = module.pool_session_counter();
        counter.fetch_add(1, Ordering::AcqRel);
        Tracked {
            session: Some(session),
            pid: std::process::id(),
            slot,
            counters: Arc::clone(counters),
            _count: SessionCount(counter),
        }
    }

    pub(super) fn session(&self) -> &Session {
        match &self.session {
            Some(session) => session,
            // Only `Drop::drop` takes the session.
            None => unreachable!("tracked session used while being dropped"),
        }
    }

    /// True in a forked child for a session its parent opened.
    pub(super) fn is_inherited(&self) -> bool {
        self.pid != std::process::id()
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        let Some(session) = self.session.take() else {
            return;
        };
        if self.is_inherited() {
            // The parent's session: C_CloseSession from the child could close it for the
            // parent too (a token reached over an inherited connection). Leave it alone.
            std::mem::forget(session);
        } else {
            // C_CloseSession, once (cryptoki's drop), in a span.
            crate::trace::closed(self.slot, &self.counters, session);
        }
    }
}

impl Drop for SessionCount {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A session checked out of a [`SessionPool`]. Derefs to [`Session`]; returns to the pool when
/// dropped. Owns what it needs (no lifetime), so it can be moved to another thread or kept next
/// to the pool.
pub struct PooledSession {
    /// `Some` until the guard is dropped or discarded.
    session: Option<Tracked>,
    pool: Arc<PoolInner>,
    access: Access,
}

impl PooledSession {
    /// Closes the session instead of returning it to the pool: use it after a session-class
    /// error ([`Error::is_session_invalid`]) when not going through [`SessionPool::run`].
    pub fn discard(mut self) {
        if let Some(session) = self.session.take() {
            self.pool.forget(session, self.access);
        }
    }

    /// True for a read-write session.
    pub fn is_read_write(&self) -> bool {
        self.access == Access::ReadWrite
    }
}

impl Deref for PooledSession {
    type Target = Session;

    fn deref(&self) -> &Session {
        match &self.session {
            Some(tracked) => tracked.session(),
            // The session is only taken by `discard` and `drop`, which consume the guard.
            None => unreachable!("pooled session used after it was released"),
        }
    }
}

impl Drop for PooledSession {
    fn drop(&mut self) {
        if let Some(session) = self.session.take() {
            self.pool.give_back(session, self.access);
        }
    }
}

impl fmt::Debug for PooledSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PooledSession")
            .field(
                "handle",
                &self.session.as_ref().map(|t| t.session().handle()),
            )
            .field("read_write", &self.is_read_write())
            .finish()
    }
}
