//! [`ServiceError`]: what an async HSM operation can come to besides its own result.

use std::time::Duration;

/// Why an operation of an [`AsyncHsm`](super::AsyncHsm) returned no result.
///
/// The three scheduling outcomes ([`Busy`](Self::Busy), [`DeadlineWaiting`](Self::DeadlineWaiting),
/// [`DeadlineRunning`](Self::DeadlineRunning)) are the service's back-pressure: answer them
/// with a retry later (HTTP 503), not as a failure of the token. [`Hsm`](Self::Hsm) is the
/// operation's own error, exactly as the synchronous API returns it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// Every session was busy and `limit` operations were already waiting for one: the
    /// operation was refused at once, without waiting and without a token call.
    #[error("every HSM session is busy and {limit} operations are already waiting")]
    Busy {
        /// The configured limit on waiting operations.
        limit: usize,
    },
    /// No session became free within the deadline. The operation never started: the token
    /// was not called.
    #[error("no HSM session became free within the {deadline:?} deadline")]
    DeadlineWaiting {
        /// The operation's deadline.
        deadline: Duration,
    },
    /// The operation started but had not finished when its deadline passed. It runs to its
    /// end on its worker thread (a PKCS#11 call cannot be interrupted), its session goes back
    /// to the pool, and its result is dropped (secrets in it are zeroized).
    #[error("the HSM operation did not finish within the {deadline:?} deadline")]
    DeadlineRunning {
        /// The operation's deadline.
        deadline: Duration,
    },
    /// The job ended without a result: the closure given to [`AsyncHsm::run`](super::AsyncHsm::run)
    /// panicked (hsm-jose's own operations do not). The worker thread survives.
    #[error("the HSM job panicked; its worker goes on with the next job")]
    Panicked,
    /// The worker threads could not be started (the operating system refused a thread).
    #[error("cannot start the HSM worker threads: {0}")]
    Workers(#[source] std::io::Error),
    /// The operation ran and failed: a token, key or JOSE error, as the synchronous API
    /// reports it.
    #[error(transparent)]
    Hsm(#[from] crate::Error),
}

impl From<jose_core::Error> for ServiceError {
    fn from(e: jose_core::Error) -> Self {
        ServiceError::Hsm(e.into())
    }
}

impl From<hsm_core::Error> for ServiceError {
    fn from(e: hsm_core::Error) -> Self {
        ServiceError::Hsm(e.into())
    }
}

impl ServiceError {
    /// True for the scheduling outcomes (`Busy`, `DeadlineWaiting`, `DeadlineRunning`): the
    /// service is overloaded or the token slow, and a later retry may succeed.
    pub fn is_overload(&self) -> bool {
        matches!(
            self,
            ServiceError::Busy { .. }
                | ServiceError::DeadlineWaiting { .. }
                | ServiceError::DeadlineRunning { .. }
        )
    }

    /// The operation's own error, when it ran and failed.
    pub fn hsm(&self) -> Option<&crate::Error> {
        match self {
            ServiceError::Hsm(e) => Some(e),
            _ => None,
        }
    }
}
