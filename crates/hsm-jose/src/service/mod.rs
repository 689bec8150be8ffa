//! HSM operations from async code (feature `tokio`): [`AsyncHsm`].
//!
//! Every hsm-jose call blocks its thread for the token's round trip, which on a network HSM
//! is a millisecond or more. An [`AsyncHsm`] runs those calls on a dedicated set of worker
//! threads, one per session of the pool, and lets async tasks wait for a free session without
//! holding a thread, with back-pressure and a deadline per operation. See
//! `docs/services.md` for a service built on it and what to monitor.
//!
//! ```no_run
//! use std::time::Duration;
//! use hsm_jose::jose_core::{jwt, JwsAlgorithm};
//! use hsm_jose::service::{AsyncHsm, ServiceError};
//! use hsm_jose::SessionPool;
//! # async fn demo() -> Result<(), ServiceError> {
//! let pool = SessionPool::from_env()?;
//! let hsm = AsyncHsm::builder(&pool)
//!     .deadline(Duration::from_millis(500)) // per operation, waiting included
//!     .max_waiting(1024)                    // beyond that: ServiceError::Busy at once
//!     .build()?;
//! let key = hsm.load_label("signing-key").await?;
//! let claims = jwt::Claims::new().subject("alice").expires_at(4_000_000_000);
//! match hsm.sign_jwt(&key, JwsAlgorithm::ES256, claims, None).await {
//!     Ok(token) => println!("{token}"),
//!     Err(e) if e.is_overload() => println!("try again later: {e}"), // HTTP 503
//!     Err(e) => return Err(e),
//! }
//! # Ok(()) }
//! ```

mod error;
mod handle;
mod stats;
mod workers;

pub use error::ServiceError;
pub use handle::{AsyncHsm, AsyncHsmBuilder, DEFAULT_WAITING_PER_SESSION};
pub use stats::ServiceStats;
