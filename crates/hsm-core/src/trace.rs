//! `tracing` spans for token calls, and the slot they are made on.
//!
//! Every PKCS#11 call hsm-core makes goes through [`token_call`] (or the crate's own variant
//! that names the slot): one span per call, named `pkcs11`, with the fields
//!
//! | field | value |
//! | --- | --- |
//! | `function` | the PKCS#11 function, `C_Sign` (for cryptoki's one-shot calls, the function that does the work: `C_Sign` covers `C_SignInit` + `C_Sign`) |
//! | `mechanism` | the `CKM_` name, for calls that take a mechanism |
//! | `slot` | the slot id, when the call runs on a pool's session |
//! | `rv` | the return value's `CKR_` name, `CKR_OK` on success (`unreported` for `C_CloseSession`, whose result cryptoki keeps; `none` for a call cryptoki refused before reaching the token) |
//! | `duration_us` | how long the call took, in microseconds |
//!
//! and one event inside it when the call returns (fields `rv` and `duration_us`), so that a
//! plain formatting subscriber prints one line per call. Spans and events use the target
//! [`TOKEN_TARGET`]; calls that only read (attribute values, session state, token information)
//! are at `TRACE`, every other call at `DEBUG`. A failing call's event is at `DEBUG` too: the
//! pool's own events ([`POOL_TARGET`]) say at `INFO`/`WARN` what it did about a failure.
//!
//! Nothing else is recorded: no PIN, no key material, no data, signature or plaintext bytes,
//! no attribute values.
//!
//! With no subscriber interested in [`TOKEN_TARGET`], a call costs one atomic increment (the
//! pool's [`token_calls`](crate::PoolStats::token_calls) count) and a check of the subscriber's
//! interest.
//!
//! ```no_run
//! use hsm_core::cryptoki::context::Function;
//! use hsm_core::cryptoki::mechanism::Mechanism;
//! use hsm_core::key::{find_key, KeySelector};
//! use hsm_core::{trace, SessionPool};
//!
//! # fn main() -> hsm_core::Result<()> {
//! let pool = SessionPool::from_env()?;
//! let session = pool.session()?;
//! let private = find_key(&session, &KeySelector::label("ec-p256"))?.private.expect("a key pair");
//! drop(session);
//! // One `pkcs11` span: function=C_Sign, mechanism=CKM_ECDSA, the pool's slot, rv, duration_us.
//! let mechanism = Mechanism::Ecdsa;
//! let signature = pool.run(|s| {
//!     trace::token_call(Function::Sign, Some(mechanism.mechanism_type()), || {
//!         s.sign(&mechanism, private, &[0u8; 32])
//!     })
//! })?;
//! assert_eq!(signature.len(), 64);
//! # Ok(())
//! # }
//! ```

use std::cell::RefCell;
use std::sync::Arc;
use std::time::Instant;

use cryptoki::context::Function;
use cryptoki::error::Error as CkError;
use cryptoki::mechanism::MechanismType;
use cryptoki::slot::Slot;
use tracing::field::{Empty, display};

use crate::error::{c_name, rv_name};
use crate::pool::PoolCounters;

/// The `tracing` target of the token call spans and events.
pub const TOKEN_TARGET: &str = "hsm_core::token";

/// The `tracing` target of the pool's events: sessions opened, lost and recovered, logins,
/// waits and timeouts, the pool size.
pub const POOL_TARGET: &str = "hsm_core::pool";

/// What a pool operation tells the token calls made inside it: the slot, and where to count.
#[derive(Clone)]
pub(crate) struct Context {
    pub(crate) slot: Slot,
    pub(crate) counters: Arc<PoolCounters>,
}

thread_local! {
    /// The pool operation running on this thread, if any.
    static CURRENT: RefCell<Option<Context>> = const { RefCell::new(None) };
}

/// Sets the current pool operation for this thread until dropped (restoring the one before:
/// operations nest when a closure checks out a second session).
pub(crate) struct Scope {
    previous: Option<Context>,
}

impl Scope {
    pub(crate) fn enter(context: Context) -> Scope {
        let previous = CURRENT.with(|c| c.borrow_mut().replace(context));
        Scope { previous }
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}

fn current() -> Option<Context> {
    CURRENT.with(|c| c.borrow().clone())
}

/// Runs `call`, one PKCS#11 function (or one cryptoki method, named by the function that does
/// the work), in a `pkcs11` span with the function, the mechanism when given, and, inside
/// [`SessionPool::run`](crate::SessionPool::run) or [`PoolKey::run`](crate::PoolKey::run), the
/// pool's slot; records the return value and the duration. The result is `call`'s, untouched.
///
/// Use it around the cryptoki calls made in a pool operation's closure; hsm-core's own calls
/// already go through it.
pub fn token_call<T>(
    function: Function,
    mechanism: Option<MechanismType>,
    call: impl FnOnce() -> Result<T, CkError>,
) -> Result<T, CkError> {
    match current() {
        Some(context) => traced(
            Some(context.slot),
            Some(&context.counters),
            function,
            mechanism,
            call,
        ),
        None => traced(None, None, function, mechanism, call),
    }
}

/// [`token_call`] for a call on a known slot, counted in a pool's counters when given.
pub(crate) fn traced<T>(
    slot: Option<Slot>,
    counters: Option<&PoolCounters>,
    function: Function,
    mechanism: Option<MechanismType>,
    call: impl FnOnce() -> Result<T, CkError>,
) -> Result<T, CkError> {
    let span = if reads_only(function) {
        tracing::trace_span!(target: TOKEN_TARGET, "pkcs11",
            function = c_name(function), mechanism = Empty, slot = Empty,
            rv = Empty, duration_us = Empty)
    } else {
        tracing::debug_span!(target: TOKEN_TARGET, "pkcs11",
            function = c_name(function), mechanism = Empty, slot = Empty,
            rv = Empty, duration_us = Empty)
    };
    if span.is_disabled() {
        let result = call();
        count(counters, &result);
        return result;
    }
    if let Some(mechanism) = mechanism {
        span.record("mechanism", display(mechanism));
    }
    if let Some(slot) = slot {
        span.record("slot", slot.id());
    }
    let _entered = span.enter();
    let started = Instant::now();
    let result = call();
    let duration_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    count(counters, &result);
    let rv = match &result {
        Ok(_) => "CKR_OK".to_owned(),
        Err(CkError::Pkcs11(rv, _)) => rv_name(*rv),
        // Failed before reaching the token (cryptoki's own checks): no CK_RV.
        Err(_) => "none".to_owned(),
    };
    // The event first: a formatter prints the span's fields with it, and they do not repeat
    // the return value and duration yet; the span gets them right after, for span consumers.
    if reads_only(function) {
        tracing::trace!(target: TOKEN_TARGET, rv = rv.as_str(), duration_us, "token call");
    } else {
        tracing::debug!(target: TOKEN_TARGET, rv = rv.as_str(), duration_us, "token call");
    }
    span.record("rv", rv.as_str());
    span.record("duration_us", duration_us);
    result
}

/// `C_CloseSession` by dropping `session`, in a `pkcs11` span. cryptoki closes a session on
/// drop and keeps the return value to itself, and its `close()` would call `C_CloseSession` a
/// second time after a failure (on a dead token, twice the wait): so the span's `rv` is
/// `unreported`.
pub(crate) fn closed(slot: Slot, counters: &PoolCounters, session: cryptoki::session::Session) {
    counters.token_call(false);
    let span = tracing::debug_span!(target: TOKEN_TARGET, "pkcs11",
        function = c_name(Function::CloseSession), mechanism = Empty, slot = slot.id(),
        rv = Empty, duration_us = Empty);
    if span.is_disabled() {
        drop(session);
        return;
    }
    let _entered = span.enter();
    let started = Instant::now();
    drop(session);
    let duration_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    tracing::debug!(target: TOKEN_TARGET, rv = UNREPORTED, duration_us, "token call");
    span.record("rv", UNREPORTED);
    span.record("duration_us", duration_us);
}

/// The `rv` of a call whose return value cryptoki does not give back (`C_CloseSession`).
const UNREPORTED: &str = "unreported";

fn count<T>(counters: Option<&PoolCounters>, result: &Result<T, CkError>) {
    if let Some(counters) = counters {
        counters.token_call(result.is_err());
    }
}

/// Calls that only read state or attributes: traced at `TRACE`.
fn reads_only(function: Function) -> bool {
    matches!(
        function,
        Function::GetAttributeValue
            | Function::GetSessionInfo
            | Function::GetTokenInfo
            | Function::GetSlotInfo
            | Function::GetSlotList
            | Function::GetMechanismList
            | Function::GetMechanismInfo
            | Function::GetInfo
    )
}
