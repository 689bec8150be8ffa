//! `SessionPool::stats` on SoftHSM (through p11-fault's shim): exact gauges and counters after
//! checkouts, waits, a timeout, a lost session and a lost login; the pool size the token's
//! session limit gives; the pool's figures in `AsyncHsm::stats`; the token reads a second load of a
//! P-521 key no longer makes.
//!
//! Every test runs in a child process of its own (see `fault_support`), so that the process's
//! first pool makes the one `C_Login` and the counts are exact.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod fault_support;

use std::time::Duration;

use fault_support::{Call, Outcome, public_of, sign_and_verify};
use hsm_core::cryptoki::context::Function;
use hsm_core::cryptoki::error::RvError;
use hsm_core::cryptoki::slot::Limit;
use hsm_core::pool::{default_max_sessions, pool_size};
use hsm_core::{Error, PoolStats};
use hsm_jose::HsmJwk;
use jose_core::JwsAlgorithm;

const ES256: JwsAlgorithm = JwsAlgorithm::ES256;

/// The counters that must not move in a test, as they are in a new pool.
fn quiet(stats: &PoolStats) -> (u64, u64, u64, u64) {
    (
        stats.timeouts,
        stats.sessions_lost,
        stats.logins_lost,
        stats.recoveries,
    )
}

fault_test! {
    /// A new pool: one session, open and idle, one login; nothing waited.
    fn a_new_pool_has_one_idle_logged_in_session(sandbox) {
        let pool = sandbox.builder().max_sessions(2).build().unwrap();
        let stats = pool.stats();
        assert_eq!(stats.max_sessions, 2);
        assert_eq!((stats.open, stats.idle, stats.busy, stats.waiters), (1, 1, 0, 0));
        assert_eq!((stats.sessions_opened, stats.logins), (1, 1));
        assert_eq!((stats.waits, stats.wait_time, stats.longest_wait), (0, Duration::ZERO, Duration::ZERO));
        assert_eq!(quiet(&stats), (0, 0, 0, 0));
        // C_GetTokenInfo (for the PIN flags), C_OpenSession, C_GetSessionInfo, C_Login.
        assert_eq!((stats.token_calls, stats.token_failures), (3, 0));
        // Two held: both busy, the second opened on demand.
        let (a, b) = (pool.session().unwrap(), pool.session().unwrap());
        let stats = pool.stats();
        assert_eq!((stats.open, stats.idle, stats.busy), (2, 0, 2));
        assert_eq!((stats.sessions_opened, stats.logins), (2, 1));
        drop((a, b));
        let stats = pool.stats();
        assert_eq!((stats.open, stats.idle, stats.busy), (2, 2, 0));
    }
}

fault_test! {
    /// One session, two threads: the second waits while the first holds it (waiters == 1),
    /// and the wait is counted once it ends; a checkout that waits in vain is a timeout.
    fn waits_and_timeouts_are_counted(sandbox) {
        let pool = sandbox
            .builder()
            .max_sessions(1)
            .wait_timeout(Duration::from_secs(20))
            .build()
            .unwrap();
        let held = pool.session().unwrap();
        let waiter = {
            let pool = pool.clone();
            std::thread::spawn(move || pool.session().map(drop))
        };
        // The other thread is waiting (no timed assertion: poll until it is).
        while pool.stats().waiters == 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
        let stats = pool.stats();
        assert_eq!((stats.waiters, stats.waits, stats.busy), (1, 0, 1));
        std::thread::sleep(Duration::from_millis(50));
        drop(held);
        waiter.join().unwrap().unwrap();
        let stats = pool.stats();
        assert_eq!((stats.waiters, stats.waits, stats.timeouts), (0, 1, 0));
        assert!(stats.wait_time >= Duration::from_millis(50), "{stats:?}");
        assert_eq!(stats.longest_wait, stats.wait_time);
        assert_eq!((stats.open, stats.idle, stats.sessions_opened), (1, 1, 1));

        // A timeout: a second pool on the token with a short wait.
        let short = sandbox
            .builder()
            .max_sessions(1)
            .wait_timeout(Duration::from_millis(20))
            .build()
            .unwrap();
        let held = short.session().unwrap();
        assert!(matches!(short.session(), Err(Error::PoolTimeout { .. })));
        drop(held);
        let stats = short.stats();
        assert_eq!((stats.waits, stats.timeouts, stats.waiters), (1, 1, 0));
        assert!(stats.wait_time >= Duration::from_millis(20), "{stats:?}");
        // The first pool did not see the second's wait.
        assert_eq!((pool.stats().waits, pool.stats().timeouts), (1, 0));
    }
}

fault_test! {
    /// A session invalidated under an operation (CKR_SESSION_HANDLE_INVALID from C_SignInit):
    /// one session lost, one recovery, and the signature is made.
    fn a_lost_session_and_its_recovery_are_counted(sandbox) {
        let pool = sandbox.builder().max_sessions(2).build().unwrap();
        let key = HsmJwk::from_label(&pool, "ec-p256").unwrap();
        let public = public_of(&key);
        let before = pool.stats();
        sandbox.set_rules("C_SignInit nth=1 rv=CKR_SESSION_HANDLE_INVALID\n");
        sign_and_verify(&key, &public, ES256, b"after a lost session").unwrap();
        sandbox.clear_rules();
        let stats = pool.stats();
        assert_eq!(quiet(&stats), (0, 1, 0, 1));
        // Every session of the process was closed (the dead one and the idle ones): SoftHSM
        // logged the process out, so the new session logged in again.
        assert_eq!(stats.logins, before.logins + 1);
        // The failed C_SignInit; the idle sessions closed, one opened for the second run.
        assert_eq!(stats.token_failures, before.token_failures + 1);
        assert_eq!(stats.sessions_opened, before.sessions_opened + 1);
        assert_eq!(sandbox.stats().function("C_SignInit").faults, 1);
        // Signing again needs nothing more.
        sign_and_verify(&key, &public, ES256, b"and again").unwrap();
        assert_eq!(quiet(&pool.stats()), (0, 1, 0, 1));
    }
}

fault_test! {
    /// A login reported gone (CKR_USER_NOT_LOGGED_IN from C_SignInit): one login lost, one
    /// recovery; no session counted lost.
    fn a_lost_login_and_its_recovery_are_counted(sandbox) {
        let pool = sandbox.builder().max_sessions(2).build().unwrap();
        let key = HsmJwk::from_label(&pool, "ec-p256").unwrap();
        let public = public_of(&key);
        sandbox.set_rules("C_SignInit nth=1 rv=CKR_USER_NOT_LOGGED_IN\n");
        sign_and_verify(&key, &public, ES256, b"after a lost login").unwrap();
        sandbox.clear_rules();
        assert_eq!(quiet(&pool.stats()), (0, 0, 1, 1));
    }
}

fault_test! {
    /// A session lost twice in a row: the pool gives up after its one retry, and the failed
    /// recovery shows as recoveries < sessions_lost.
    fn a_failed_recovery_is_not_a_recovery(sandbox) {
        let pool = sandbox.builder().max_sessions(2).build().unwrap();
        let key = HsmJwk::from_label(&pool, "ec-p256").unwrap();
        let public = public_of(&key);
        sandbox.set_rules("C_SignInit rv=CKR_DEVICE_REMOVED\n");
        assert_eq!(
            sign_and_verify(&key, &public, ES256, b"gone"),
            Err(Outcome::Session(Call::new(Function::SignInit, RvError::DeviceRemoved)))
        );
        sandbox.clear_rules();
        let stats = pool.stats();
        assert_eq!(quiet(&stats), (0, 2, 0, 0));
        assert_eq!(sandbox.stats().function("C_SignInit").faults, 2);
    }
}

fault_test! {
    /// SoftHSM states no session limit (CK_EFFECTIVELY_INFINITE): the default pool opens up to
    /// `default_max_sessions()`, an explicit size is kept as asked, and both follow
    /// `pool_size` from the token's information.
    fn the_pool_size_follows_the_token_limit(sandbox) {
        let pool = sandbox.builder().build().unwrap();
        let info = pool.module().token_info(pool.slot()).unwrap();
        assert!(matches!(info.max_session_count(), Limit::Infinite));
        assert!(matches!(info.max_rw_session_count(), Limit::Infinite));
        let chosen = pool_size(
            None,
            default_max_sessions(),
            info.max_session_count(),
            info.max_rw_session_count(),
        );
        assert_eq!(pool.max_sessions(), chosen.sessions);
        assert_eq!(pool.max_sessions(), default_max_sessions());
        assert_eq!(pool.stats().max_sessions, default_max_sessions());
        let large = sandbox.builder().max_sessions(64).build().unwrap();
        assert_eq!(large.max_sessions(), 64);
        // Zero is refused before any token call.
        assert!(matches!(
            sandbox.builder().max_sessions(0).build(),
            Err(Error::Config { reason }) if reason.contains("at least 1")
        ));
    }
}

fault_test! {
    /// `AsyncHsm::stats` carries the pool's figures.
    fn async_service_stats_include_the_pool(sandbox) {
        let pool = sandbox.builder().max_sessions(2).build().unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        runtime.block_on(async {
            let hsm = hsm_jose::service::AsyncHsm::builder(&pool).build().unwrap();
            let key = hsm.load_label("ec-p256").await.unwrap();
            hsm.sign(&key, ES256, b"payload".to_vec()).await.unwrap();
            let stats = hsm.stats();
            assert_eq!(stats.pool, pool.stats());
            assert_eq!(stats.pool.max_sessions, 2);
            assert_eq!(stats.pool.logins, 1);
            assert!(stats.pool.token_calls > 0);
        });
    }
}

fault_test! {
    /// A P-521 key pair's public point is checked once per process and key: loading the key
    /// again skips the `CKA_EC_POINT` reads of its two objects (the tpm2-pkcs11 short form
    /// check), as the shim counts `C_GetAttributeValue` calls; the key signs either way.
    fn a_p521_point_is_read_once_per_key(sandbox) {
        let pool = sandbox.builder().max_sessions(1).build().unwrap();
        let reads = || sandbox.stats().function("C_GetAttributeValue").calls;
        let before = reads();
        let first = HsmJwk::from_label(&pool, "ec-p521").unwrap();
        let first_load = reads() - before;
        let before = reads();
        let second = HsmJwk::from_label(&pool, "ec-p521").unwrap();
        let second_load = reads() - before;
        // The point reads of the first load: SoftHSM's private EC object has no CKA_EC_POINT
        // (one call, refused), the public one has (a length query and the read).
        assert_eq!(first_load, second_load + 3, "attribute reads of the first and the second load");
        let public = public_of(&first);
        assert_eq!(sign_and_verify(&second, &public, JwsAlgorithm::ES512, b"p521"), Ok(()));
    }
}
