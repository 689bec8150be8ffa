//! [`PoolKey`]: a key found through a pool, whose object handles survive a re-login.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use cryptoki::session::Session;

use super::SessionPool;
use super::checkout::Access;
use super::recovery::Failed;
use crate::error::{Error, Result};
use crate::key::{KeyInfo, KeySelector, find_key};

/// The epoch value that no pool reaches: a cache marked with it is looked up again.
const STALE: u64 = u64::MAX;

/// A key found through a pool, whose object handles are looked up again when they go stale.
///
/// Tokens may renumber private objects when the login is lost and regained; [`PoolKey::run`]
/// re-finds the key (with the same [`KeySelector`]) after the pool recovered, or when the token
/// answers `CKR_OBJECT_HANDLE_INVALID` / `CKR_KEY_HANDLE_INVALID`, and runs once more. If the key
/// found then is a different key (other kind or public key), it fails rather than use it.
///
/// ```no_run
/// use hsm_core::cryptoki::mechanism::Mechanism;
/// use hsm_core::key::KeySelector;
/// use hsm_core::{PoolKey, SessionPool};
///
/// # fn main() -> hsm_core::Result<()> {
/// let pool = SessionPool::from_env()?;
/// let key = PoolKey::find(&pool, KeySelector::label("ec-p256"))?;
/// let digest = [0u8; 32];
/// let signature = key.run(|session, info| {
///     let private = info.private.ok_or(hsm_core::cryptoki::error::Error::InvalidValue)?;
///     session.sign(&Mechanism::Ecdsa, private, &digest)
/// })?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct PoolKey {
    pool: SessionPool,
    selector: KeySelector,
    /// The epoch the handles were found under, and the key.
    cache: Arc<Mutex<(u64, Arc<KeyInfo>)>>,
    /// Held while the key is found again: after a recovery, one thread searches and the others
    /// wait for its answer instead of searching too.
    refreshing: Arc<Mutex<()>>,
}

impl PoolKey {
    /// Finds the key now (errors surface here, not at first use).
    pub fn find(pool: &SessionPool, selector: KeySelector) -> Result<PoolKey> {
        let epoch = pool.epoch();
        let info = pool.run_with(
            Access::ReadOnly,
            |session| find_key(session, &selector).map_err(Failed::in_closure),
            // A search that misses the private half because the login was lost logs in again.
            Some(&|| {}),
        )?;
        Ok(PoolKey {
            pool: pool.clone(),
            selector,
            cache: Arc::new(Mutex::new((epoch, Arc::new(info)))),
            refreshing: Arc::default(),
        })
    }

    /// A key already found, for example by [`list_keys`](crate::key::list_keys): no search
    /// now. The key is found again by its label and id (whichever it has) when its handles go
    /// stale. `info` must come from a session of `pool`'s token, found at the pool's current
    /// [`epoch`](SessionPool::epoch) or later.
    pub fn from_info(pool: &SessionPool, info: KeyInfo) -> PoolKey {
        let selector = match (info.label.is_empty(), info.id.is_empty()) {
            (false, false) => KeySelector::label_and_id(info.label.clone(), info.id.clone()),
            (false, true) => KeySelector::label(info.label.clone()),
            (true, _) => KeySelector::id(info.id.clone()),
        };
        PoolKey {
            pool: pool.clone(),
            selector,
            cache: Arc::new(Mutex::new((pool.epoch(), Arc::new(info)))),
            refreshing: Arc::default(),
        }
    }

    /// The key's current description.
    pub fn info(&self) -> Arc<KeyInfo> {
        Arc::clone(&self.lock().1)
    }

    /// The selector the key is found by.
    pub fn selector(&self) -> &KeySelector {
        &self.selector
    }

    /// The pool.
    pub fn pool(&self) -> &SessionPool {
        &self.pool
    }

    /// Runs `f` with a pooled session and the key's current handles, recovering from a lost
    /// session or login (as [`SessionPool::run`]) or from stale handles (finding the key
    /// again). `f` runs at most twice. When finding the key again fails with a lost session
    /// before `f` ran again, that is recovered too (at most three recoveries per operation).
    pub fn run<T>(
        &self,
        mut f: impl FnMut(&Session, &KeyInfo) -> Result<T, cryptoki::error::Error>,
    ) -> Result<T> {
        self.run_key(|session, info| {
            f(session, info).map_err(|e| {
                let error = Error::from_cryptoki("using a key", e);
                match self.context_login_required(session, info, &error) {
                    Some(refusal) => Failed::unrecoverable(refusal),
                    None => Failed::in_closure(error),
                }
            })
        })
    }

    /// The retry loop of [`run`](PoolKey::run) for a closure that classifies its own failures.
    pub(super) fn run_key<T>(
        &self,
        mut f: impl FnMut(&Session, &KeyInfo) -> Result<T, Failed>,
    ) -> Result<T> {
        let forget = || self.lock().0 = STALE;
        self.pool.run_with(
            Access::ReadOnly,
            |session| {
                let info = self.current(session).map_err(Failed::before_closure)?;
                f(session, &info)
            },
            Some(&forget),
        )
    }

    fn lock(&self) -> MutexGuard<'_, (u64, Arc<KeyInfo>)> {
        self.cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The cached key, or the key found again when the pool recovered since (or the handles
    /// were found stale).
    fn current(&self, session: &Session) -> Result<Arc<KeyInfo>> {
        let epoch = self.pool.epoch();
        if let Some(info) = self.cached(epoch) {
            return Ok(info);
        }
        // One search per recovery: wait for a search already running, then use its answer.
        let _one_search = self
            .refreshing
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(info) = self.cached(epoch) {
            return Ok(info);
        }
        match self.refresh(session, epoch) {
            // The search may have run while another thread was logging in again after a lost
            // login: the private half was missed, yet the session is logged in now. One more
            // search tells that race from a changed key.
            Err(Error::KeyNotFound { .. }) => self.refresh(session, epoch),
            result => result,
        }
    }

    /// The cached key if it was found under `epoch` or later (and not marked stale since).
    fn cached(&self, epoch: u64) -> Option<Arc<KeyInfo>> {
        let cache = self.lock();
        (cache.0 != STALE && cache.0 >= epoch).then(|| Arc::clone(&cache.1))
    }

    /// Finds the key again and checks that it is the key found first.
    ///
    /// # Errors
    /// [`Error::KeyNotFound`] when it is gone, when objects of it are missing (private objects
    /// are invisible without a login: the pool's recovery then logs in again and runs once
    /// more), or when the key found now is another key.
    fn refresh(&self, session: &Session, epoch: u64) -> Result<Arc<KeyInfo>> {
        let found = find_key(session, &self.selector)?;
        let mut cache = self.lock();
        let known = &cache.1;
        let lost_objects = (known.private.is_some() && found.private.is_none())
            || (known.secret.is_some() && found.secret.is_none());
        if lost_objects {
            return Err(Error::KeyNotFound {
                what: format!(
                    "{} (its private or secret object is not visible)",
                    self.selector
                ),
            });
        }
        let same_objects = found.private.is_some() == known.private.is_some()
            && found.secret.is_some() == known.secret.is_some();
        if !same_objects
            || found.kind != known.kind
            || (known.public_key.is_some() && found.public_key != known.public_key)
        {
            return Err(Error::KeyNotFound {
                what: format!(
                    "{} (the key found now is not the key found first)",
                    self.selector
                ),
            });
        }
        let found = Arc::new(found);
        *cache = (epoch, Arc::clone(&found));
        Ok(found)
    }
}

impl fmt::Debug for PoolKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolKey")
            .field("selector", &self.selector)
            .field("info", &self.info())
            .finish()
    }
}
