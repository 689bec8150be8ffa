//! Session and device faults through p11-fault's shim (security checklist items 24, 26, 30):
//! a removed device, an invalid session handle, the token's session limit, a full device
//! memory, a slow token.
//!
//! Every test runs in a child process of its own (see `fault_support`). Each ends with the
//! shim's count of open sessions equal to the pool's, and zero once the pool is dropped.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod fault_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use fault_support::{Call, Outcome, Tally, error_kind, public_of, sign_and_verify};
use hsm_core::Error;
use hsm_core::cryptoki::context::Function;
use hsm_core::cryptoki::error::RvError;
use hsm_jose::HsmJwk;
use jose_core::error::BackendErrorKind;
use jose_core::{JwsAlgorithm, KeyManagementAlgorithm, jwe};

const ES256: JwsAlgorithm = JwsAlgorithm::ES256;

/// `threads` threads sign `ops` payloads each with `key`; the outcomes, counted.
fn sign_in_threads(key: &Arc<HsmJwk>, threads: u8, ops: u32) -> Tally {
    let public = Arc::new(public_of(key));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (key, public) = (Arc::clone(key), Arc::clone(&public));
            std::thread::spawn(move || {
                let mut tally = Tally::default();
                for i in 0..ops {
                    let payload = format!("thread {t} op {i}");
                    tally.add(sign_and_verify(&key, &public, ES256, payload.as_bytes()));
                }
                tally
            })
        })
        .collect();
    let mut tally = Tally::default();
    for handle in handles {
        tally.merge(&handle.join().unwrap());
    }
    println!("outcomes: {} ok, {:?}", tally.ok(), tally.report());
    tally
}

fault_test! {
    /// Item 26: one CKR_DEVICE_REMOVED (a token pulled and plugged back) is recovered
    /// transparently: the session and the idle ones are dropped, a fresh session is opened and
    /// the operation made again.
    fn device_removed_once_is_recovered(sandbox) {
        let pool = sandbox.builder().max_sessions(3).build().unwrap();
        let key = HsmJwk::from_label(&pool, "ec-p256").unwrap();
        let public = public_of(&key);
        let epoch = pool.epoch();
        sandbox.set_rules("C_SignInit nth=3 rv=CKR_DEVICE_REMOVED\n");
        for i in 0..10u8 {
            sign_and_verify(&key, &public, ES256, &[i; 40]).unwrap();
        }
        let stats = sandbox.stats();
        assert_eq!(stats.function("C_SignInit").faults, 1);
        assert!(pool.epoch() > epoch);
        assert_eq!(stats.sessions_open as usize, pool.open_sessions());
        drop((key, pool));
        assert_eq!(sandbox.sessions_open(), 0);
    }
}

fault_test! {
    /// Item 26: a device that stays removed is a typed error (`Error::Session` with
    /// CKR_DEVICE_REMOVED, a `Device` backend error for JOSE code) after exactly one retry, not
    /// a hang or a loop; the pool works again once the device is back.
    fn device_removed_for_good_is_a_typed_error(sandbox) {
        let pool = sandbox.builder().max_sessions(2).build().unwrap();
        let key = HsmJwk::from_label(&pool, "ec-p256").unwrap();
        let public = public_of(&key);
        // Loading a key pair signs once (hsm-jose's self-test): load both keys before the
        // faults, and count from here.
        let rsa = HsmJwk::from_label(&pool, "rsa-2048").unwrap();
        let before = sandbox.stats().function("C_SignInit").calls;
        sandbox.set_rules("C_SignInit always rv=CKR_DEVICE_REMOVED\n");
        let started = Instant::now();
        let error = jose_core::jws::sign_compact(&key, ES256, b"x", None).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(5));
        match &error {
            jose_core::Error::Backend(backend) => assert_eq!(backend.kind(), BackendErrorKind::Device),
            other => panic!("{other:?}"),
        }
        let hsm = hsm_jose::hsm_error(&error).unwrap();
        assert!(hsm.is_session_invalid(), "{hsm:?}");
        assert_eq!(
            error_kind(&error),
            Outcome::Session(Call::new(Function::SignInit, RvError::DeviceRemoved))
        );
        assert_eq!(
            sandbox.stats().function("C_SignInit").calls - before,
            2,
            "one try and one retry"
        );
        // Decryption fails the same way, typed (RSA-OAEP unwrap in the token).
        let token = jwe::encrypt_compact(
            &public_of(&rsa),
            KeyManagementAlgorithm::RsaOaep,
            jose_core::ContentEncryption::A256Gcm,
            b"secret",
            None,
        )
        .unwrap();
        sandbox.set_rules("C_DecryptInit always rv=CKR_DEVICE_REMOVED\n");
        let error = jwe::decrypt_compact(
            &token,
            &rsa,
            &[KeyManagementAlgorithm::RsaOaep],
            &[jose_core::ContentEncryption::A256Gcm],
        )
        .unwrap_err();
        assert_eq!(
            error_kind(&error),
            Outcome::Session(Call::new(Function::DecryptInit, RvError::DeviceRemoved))
        );

        sandbox.clear_rules();
        sign_and_verify(&key, &public, ES256, b"back").unwrap();
        assert_eq!(sandbox.sessions_open() as usize, pool.open_sessions());
        drop((key, rsa, pool));
        assert_eq!(sandbox.sessions_open(), 0);
    }
}

fault_test! {
    /// Item 26: CKR_SESSION_HANDLE_INVALID on every 7th C_Sign, one thread: each is recovered
    /// on a fresh session (a retry never meets the next fault), so every signature is made.
    /// Then four threads, every 5th call: each operation succeeds or, when its retry is hit
    /// too, is a typed session error.
    fn session_handle_invalid_is_recovered(sandbox) {
        let pool = sandbox.builder().max_sessions(4).build().unwrap();
        let key = Arc::new(HsmJwk::from_label(&pool, "ec-p256").unwrap());
        sandbox.set_rules("C_Sign every=7 rv=CKR_SESSION_HANDLE_INVALID\n");
        let tally = sign_in_threads(&key, 1, 100);
        assert_eq!(tally.ok(), 100, "{tally:?}");
        assert!(sandbox.stats().function("C_Sign").faults >= 20);

        sandbox.set_rules("C_Sign every=5 rv=CKR_SESSION_HANDLE_INVALID\n");
        let tally = sign_in_threads(&key, 4, 100);
        let lost = Outcome::Session(Call::new(Function::Sign, RvError::SessionHandleInvalid));
        for kind in tally.kinds() {
            assert!(kind == Outcome::Ok || kind == lost, "{kind}");
        }
        assert!(tally.ok() >= 300, "{tally:?}");
        sandbox.clear_rules();
        assert_eq!(sandbox.sessions_open() as usize, pool.open_sessions());
        assert!(pool.open_sessions() <= 4);
        drop((key, pool));
        assert_eq!(sandbox.sessions_open(), 0);
    }
}

fault_test! {
    /// Items 24 and 30: a token that allows two sessions (CKR_SESSION_COUNT from the third
    /// C_OpenSession on) under a pool that would open eight, with eight threads signing. The
    /// pool waits for one of its own sessions instead of failing: every signature is made, and
    /// never more than two sessions are open.
    fn token_session_limit_makes_the_pool_wait(sandbox) {
        let pool = sandbox.builder().max_sessions(8).build().unwrap();
        let key = Arc::new(HsmJwk::from_label(&pool, "ec-p256").unwrap());
        sandbox.set_rules("C_OpenSession max_open=2 rv=CKR_SESSION_COUNT\n");
        let tally = sign_in_threads(&key, 8, 100);
        assert_eq!(tally.ok(), 800, "{tally:?}");
        let stats = sandbox.stats();
        assert!(stats.function("C_OpenSession").faults > 0, "the limit was reached");
        assert!(pool.open_sessions() <= 2, "{}", pool.open_sessions());
        assert_eq!(stats.sessions_open as usize, pool.open_sessions());
        drop((key, pool));
        assert_eq!(sandbox.sessions_open(), 0);
    }
}

fault_test! {
    /// The token's session limit when the pool has no session of its own to wait for (another
    /// application holds them all): a typed error at once, not a wait or a hang.
    rules = "C_OpenSession always rv=CKR_SESSION_COUNT\n",
    fn token_session_limit_without_own_sessions_is_a_typed_error(sandbox) {
        let started = Instant::now();
        let error = sandbox.builder().build().unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(error.rv(), Some(RvError::SessionCount), "{error:?}");
        assert!(matches!(error.function(), Some(Function::OpenSession)), "{error:?}");
        assert_eq!(sandbox.sessions_open(), 0);
    }
}

fault_test! {
    /// CKR_DEVICE_MEMORY at random on a fifth of the C_Sign calls: typed errors (`Pkcs11`
    /// with the function and value), never retried, one per injected fault; the session stays
    /// usable (the shim, like a token, ends the operation), and nothing leaks. On
    /// C_OpenSession (the pool's own call, before any operation) it is tried once more
    /// (`Recovery::RetryOnce`): one fault is absorbed, two in a row are the typed error.
    fn device_memory_is_a_typed_error(sandbox) {
        sandbox.set_rules("C_OpenSession nth=1 rv=CKR_DEVICE_MEMORY\n");
        drop(sandbox.builder().build().unwrap());
        assert_eq!(sandbox.stats().function("C_OpenSession").calls, 2, "one fault, one retry");
        assert_eq!(sandbox.sessions_open(), 0);
        sandbox.set_rules(
            "C_OpenSession nth=1 rv=CKR_DEVICE_MEMORY\nC_OpenSession nth=2 rv=CKR_DEVICE_MEMORY\n",
        );
        let error = sandbox.builder().build().unwrap_err();
        assert!(
            matches!(
                &error,
                Error::Pkcs11 {
                    function: Function::OpenSession,
                    rv: RvError::DeviceMemory,
                }
            ),
            "{error:?}"
        );
        assert_eq!(sandbox.sessions_open(), 0);

        let pool = sandbox.builder().max_sessions(2).build().unwrap();
        let key = Arc::new(HsmJwk::from_label(&pool, "ec-p256").unwrap());
        sandbox.set_rules("C_Sign random=0.2 seed=3 rv=CKR_DEVICE_MEMORY\n");
        let tally = sign_in_threads(&key, 2, 150);
        let faults = sandbox.stats().function("C_Sign").faults;
        assert_eq!(tally.errors(), faults, "{tally:?}: one error per fault, no retry");
        assert!(faults > 0);
        let memory = Outcome::Pkcs11(Call::new(Function::Sign, RvError::DeviceMemory));
        for kind in tally.kinds() {
            assert!(kind == Outcome::Ok || kind == memory, "{kind}");
        }
        sandbox.clear_rules();
        assert_eq!(sandbox.sessions_open() as usize, pool.open_sessions());
        drop((key, pool));
        assert_eq!(sandbox.sessions_open(), 0);
    }
}

fault_test! {
    /// A slow token (400 ms per C_Sign) with one session: a second caller gets
    /// `Error::PoolTimeout` after the pool's wait (200 ms), not a hang; the slow operation
    /// itself completes.
    fn a_slow_token_hits_the_pool_wait_timeout(sandbox) {
        let pool = sandbox
            .builder()
            .max_sessions(1)
            .wait_timeout(Duration::from_millis(200))
            .build()
            .unwrap();
        let key = Arc::new(HsmJwk::from_label(&pool, "ec-p256").unwrap());
        let public = Arc::new(public_of(&key));
        sandbox.set_rules("C_Sign always delay_ms=400\n");
        let slow = {
            let (key, public) = (Arc::clone(&key), Arc::clone(&public));
            std::thread::spawn(move || sign_and_verify(&key, &public, ES256, b"slow"))
        };
        std::thread::sleep(Duration::from_millis(100));
        let started = Instant::now();
        let outcome = sign_and_verify(&key, &public, ES256, b"impatient");
        let waited = started.elapsed();
        assert_eq!(outcome, Err(Outcome::PoolTimeout));
        assert!(waited >= Duration::from_millis(200) && waited < Duration::from_secs(2), "{waited:?}");
        slow.join().unwrap().unwrap();
        assert!(sandbox.stats().function("C_Sign").delayed >= 2);

        sandbox.clear_rules();
        sign_and_verify(&key, &public, ES256, b"fast again").unwrap();
        assert_eq!(sandbox.sessions_open(), 1);
        drop((key, pool));
        assert_eq!(sandbox.sessions_open(), 0);
    }
}

fault_test! {
    /// Issue 11: the retry layers do not nest. Whatever fails (a lost session, a stale handle,
    /// a lost login, one after the other), one operation runs its closure at most twice, and
    /// the token sees at most two C_SignInit for it; a plain `SessionPool::run` likewise. A
    /// session lost while finding the key again, before the second run, is recovered.
    fn one_operation_runs_its_closure_at_most_twice(sandbox) {
        use hsm_core::cryptoki::mechanism::Mechanism;
        use hsm_core::key::KeySelector;
        use hsm_core::PoolKey;
        use std::cell::Cell;

        let pool = sandbox.builder().max_sessions(2).build().unwrap();
        let key = PoolKey::find(&pool, KeySelector::label("ec-p256")).unwrap();
        type Expected = fn(&Error) -> bool;
        let cases: [(&str, Expected); 5] = [
            ("C_SignInit always rv=CKR_SESSION_HANDLE_INVALID\n", |e| {
                matches!(e, Error::Session { function: Function::SignInit, rv: RvError::SessionHandleInvalid })
            }),
            ("C_SignInit always rv=CKR_KEY_HANDLE_INVALID\n", |e| {
                matches!(e, Error::Pkcs11 { function: Function::SignInit, rv: RvError::KeyHandleInvalid })
            }),
            ("C_SignInit always rv=CKR_USER_NOT_LOGGED_IN\n", |e| {
                matches!(e, Error::Session { function: Function::SignInit, rv: RvError::UserNotLoggedIn })
            }),
            (
                "C_SignInit nth=1 rv=CKR_KEY_HANDLE_INVALID\n\
                 C_SignInit nth=2 rv=CKR_SESSION_HANDLE_INVALID\n\
                 C_SignInit nth=3 rv=CKR_USER_NOT_LOGGED_IN\n",
                |e| matches!(e, Error::Session { function: Function::SignInit, rv: RvError::SessionHandleInvalid }),
            ),
            (
                "C_SignInit nth=1 rv=CKR_SESSION_HANDLE_INVALID\n\
                 C_SignInit nth=2 rv=CKR_KEY_HANDLE_INVALID\n\
                 C_SignInit nth=3 rv=CKR_SESSION_CLOSED\n",
                |e| matches!(e, Error::Pkcs11 { function: Function::SignInit, rv: RvError::KeyHandleInvalid }),
            ),
        ];
        for (rules, expected) in cases {
            sandbox.set_rules(rules);
            let before = sandbox.stats().function("C_SignInit").calls;
            let runs = Cell::new(0);
            let error = key
                .run(|session, info| {
                    runs.set(runs.get() + 1);
                    session.sign(&Mechanism::Ecdsa, info.private.unwrap(), &[1u8; 32])
                })
                .unwrap_err();
            assert!(expected(&error), "{rules}: {error:?}");
            assert_eq!(runs.get(), 2, "{rules}");
            assert_eq!(sandbox.stats().function("C_SignInit").calls - before, 2, "{rules}");
        }

        // A session lost while the key is found again after the first recovery (before the
        // closure's second run) is recovered too: the operation succeeds, two runs.
        sandbox.set_rules(
            "C_SignInit nth=1 rv=CKR_SESSION_HANDLE_INVALID\n\
             C_FindObjectsInit nth=1 rv=CKR_SESSION_CLOSED\n",
        );
        let runs = Cell::new(0);
        let signature = key
            .run(|session, info| {
                runs.set(runs.get() + 1);
                session.sign(&Mechanism::Ecdsa, info.private.unwrap(), &[2u8; 32])
            })
            .unwrap();
        assert_eq!(signature.len(), 64);
        assert_eq!(runs.get(), 2);
        assert_eq!(sandbox.stats().function("C_FindObjectsInit").faults, 1);

        sandbox.set_rules("C_GenerateRandom always rv=CKR_SESSION_CLOSED\n");
        let runs = Cell::new(0);
        let error = pool
            .run(|session| {
                runs.set(runs.get() + 1);
                session.generate_random_vec(8)
            })
            .unwrap_err();
        assert!(
            matches!(error, Error::Session { function: Function::GenerateRandom, rv: RvError::SessionClosed }),
            "{error:?}"
        );
        assert_eq!(runs.get(), 2);
        assert_eq!(sandbox.stats().function("C_GenerateRandom").calls, 2);

        sandbox.clear_rules();
        let signature = key
            .run(|session, info| session.sign(&Mechanism::Ecdsa, info.private.unwrap(), &[1u8; 32]))
            .unwrap();
        assert_eq!(signature.len(), 64);
        assert_eq!(sandbox.sessions_open() as usize, pool.open_sessions());
        drop((key, pool));
        assert_eq!(sandbox.sessions_open(), 0);
    }
}

fault_test! {
    /// Issue 11: a caller that already listed the keys makes `PoolKey`s from what it has
    /// (`PoolKey::from_info`): no second search of the token (the shim counts
    /// C_FindObjectsInit), and the key still signs; when its handles go stale it is found again
    /// by label and id.
    fn keys_already_listed_are_not_searched_again(sandbox) {
        use hsm_core::cryptoki::mechanism::Mechanism;
        use hsm_core::PoolKey;

        let pool = sandbox.builder().max_sessions(2).build().unwrap();
        let listed = hsm_core::list_keys(&pool.session().unwrap()).unwrap();
        let searches = sandbox.stats().function("C_FindObjectsInit").calls;
        let keys: Vec<PoolKey> = listed
            .into_iter()
            .map(|info| PoolKey::from_info(&pool, info))
            .collect();
        assert_eq!(sandbox.stats().function("C_FindObjectsInit").calls, searches, "no search");
        let key = keys.iter().find(|k| k.info().label == "ec-p256").unwrap();
        let sign = || {
            key.run(|session, info| session.sign(&Mechanism::Ecdsa, info.private.unwrap(), &[3u8; 32]))
        };
        assert_eq!(sign().unwrap().len(), 64);
        assert_eq!(sandbox.stats().function("C_FindObjectsInit").calls, searches, "no search");

        // A stale handle: found again (by label and id), then the signature is made.
        sandbox.set_rules("C_SignInit nth=1 rv=CKR_KEY_HANDLE_INVALID\n");
        assert_eq!(sign().unwrap().len(), 64);
        assert!(sandbox.stats().function("C_FindObjectsInit").calls > searches, "found again");
        sandbox.clear_rules();
        drop((keys, pool));
        assert_eq!(sandbox.sessions_open(), 0);
    }
}
