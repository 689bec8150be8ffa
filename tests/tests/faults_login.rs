//! Login faults through p11-fault's shim (security checklist items 23, 26, 27, 28, 30):
//! a locked PIN, a PIN on its final try, a login lost in the middle of a run.
//!
//! Every test runs in a child process of its own, whose shim follows the test's rules from
//! the first PKCS#11 call (see `fault_support`). Each ends with the shim's count of open
//! sessions back where it started: no session is leaked on any failure path.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod fault_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use fault_support::{Call, Outcome, Tally, error_kind, public_of, sign_and_verify};
use hsm_core::Error;
use hsm_core::cryptoki::error::{Error as CkError, RvError};
use hsm_jose::HsmJwk;
use jose_core::JwsAlgorithm;

const ES256: JwsAlgorithm = JwsAlgorithm::ES256;

fault_test! {
    /// Item 27: CKR_PIN_LOCKED from C_Login is `Error::PinLocked`, tried once; the session
    /// opened for the login is closed again. A token that then also flags the PIN as locked is
    /// not asked at all.
    rules = "C_Login always rv=CKR_PIN_LOCKED\n",
    fn pin_locked_at_login_is_a_typed_error_tried_once(sandbox) {
        let error = sandbox.builder().build().unwrap_err();
        assert!(matches!(error, Error::PinLocked), "{error:?}");
        assert!(error.is_pin_error());
        // Item 28: the PIN is in no message.
        let pin = sandbox.token.pin.expose_secret().to_owned();
        assert!(!error.to_string().contains(&pin) && !format!("{error:?}").contains(&pin));
        let stats = sandbox.stats();
        assert_eq!(stats.function("C_Login").calls, 1, "one attempt, never retried");
        assert_eq!(stats.sessions_open, 0, "the login session was closed");

        sandbox.set_rules("C_GetTokenInfo always flags+=CKF_USER_PIN_LOCKED\n");
        let error = sandbox.builder().build().unwrap_err();
        assert!(matches!(error, Error::PinLocked), "{error:?}");
        let stats = sandbox.stats();
        assert_eq!(stats.function("C_Login").calls, 1, "a locked PIN is not tried");
        assert_eq!(stats.sessions_open, 0);
    }
}

fault_test! {
    /// Item 27: a token that reports CKF_USER_PIN_FINAL_TRY is not offered the PIN at all:
    /// `Error::PinFinalTry`, distinct from a locked or a wrong PIN, and no C_Login call.
    rules = "C_GetTokenInfo always flags+=CKF_USER_PIN_FINAL_TRY|CKF_USER_PIN_COUNT_LOW\n",
    fn pin_final_try_is_refused_without_trying(sandbox) {
        for _ in 0..3 {
            let error = sandbox.builder().build().unwrap_err();
            assert!(matches!(error, Error::PinFinalTry), "{error:?}");
            assert!(error.is_pin_error());
        }
        let stats = sandbox.stats();
        assert_eq!(stats.function("C_Login").calls, 0, "the last try is left to a human");
        assert_eq!(stats.sessions_open, 0);

        // Once the token no longer says so, the same configuration works.
        sandbox.clear_rules();
        let pool = sandbox.builder().build().unwrap();
        let key = HsmJwk::from_label(&pool, "ec-p256").unwrap();
        sign_and_verify(&key, &public_of(&key), ES256, b"after").unwrap();
        drop((key, pool));
        assert_eq!(sandbox.sessions_open(), 0);
    }
}

fault_test! {
    /// Items 23 and 26: CKR_USER_NOT_LOGGED_IN in the middle of a run (every 25th C_Sign, four
    /// threads) is recovered by the pool: the session is dropped, a fresh one logged in
    /// (CKR_USER_ALREADY_LOGGED_IN counts as success), the signature made again. Every
    /// operation either succeeds and verifies or, when the retry is hit too, is a typed session
    /// error.
    fn user_not_logged_in_mid_run_is_recovered(sandbox) {
        let pool = sandbox.builder().max_sessions(4).build().unwrap();
        let key = Arc::new(HsmJwk::from_label(&pool, "ec-p256").unwrap());
        let public = Arc::new(public_of(&key));
        let epoch = pool.epoch();
        sandbox.set_rules("C_Sign every=25 rv=CKR_USER_NOT_LOGGED_IN\n");

        let threads: Vec<_> = (0..4u8)
            .map(|t| {
                let (key, public) = (Arc::clone(&key), Arc::clone(&public));
                std::thread::spawn(move || {
                    let mut tally = Tally::default();
                    for i in 0..150u32 {
                        let payload = format!("thread {t} op {i}");
                        tally.add(sign_and_verify(&key, &public, ES256, payload.as_bytes()));
                    }
                    tally
                })
            })
            .collect();
        let mut tally = Tally::default();
        for thread in threads {
            tally.merge(&thread.join().unwrap());
        }
        println!("outcomes: {} ok, {:?}", tally.ok(), tally.report());
        let faults = sandbox.stats().function("C_Sign").faults;
        assert!(faults >= 20, "{faults} faults injected");
        let logged_out = Outcome::Session(Call::new(
            hsm_core::cryptoki::context::Function::Sign,
            hsm_core::cryptoki::error::RvError::UserNotLoggedIn,
        ));
        for kind in tally.kinds() {
            assert!(
                kind == Outcome::Ok || kind == logged_out,
                "unexpected outcome {kind}"
            );
        }
        // Each failed operation took two faults (the first try and the retry).
        assert!(tally.errors() * 2 <= faults, "{tally:?}, {faults} faults");
        assert!(tally.ok() >= 600 - faults, "{tally:?}");
        assert!(pool.epoch() > epoch, "the pool recovered");

        sandbox.clear_rules();
        assert_eq!(sandbox.sessions_open() as usize, pool.open_sessions());
        drop((key, pool));
        assert_eq!(sandbox.sessions_open(), 0, "every session closed");
    }
}

fault_test! {
    /// Items 23 and 26: a real C_Logout by another part of the process, five times while four
    /// threads sign: the pool logs in again and finds the key's (renumbered) handles again.
    fn real_logouts_mid_run_are_recovered(sandbox) {
        let pool = sandbox.builder().max_sessions(4).build().unwrap();
        let key = Arc::new(HsmJwk::from_label(&pool, "ec-p256").unwrap());
        let public = Arc::new(public_of(&key));
        let done = Arc::new(AtomicBool::new(false));
        let threads: Vec<_> = (0..4u8)
            .map(|t| {
                let (key, public, done) = (Arc::clone(&key), Arc::clone(&public), Arc::clone(&done));
                std::thread::spawn(move || {
                    let mut tally = Tally::default();
                    let mut i = 0u32;
                    while !done.load(Ordering::Acquire) || i < 100 {
                        let payload = format!("thread {t} op {i}");
                        tally.add(sign_and_verify(&key, &public, ES256, payload.as_bytes()));
                        i += 1;
                    }
                    tally
                })
            })
            .collect();
        for _ in 0..5 {
            std::thread::sleep(std::time::Duration::from_millis(60));
            let other = pool.module().pkcs11().open_ro_session(pool.slot()).unwrap();
            match other.logout() {
                // Logged out already by the previous round, and no thread logged in since.
                Ok(()) | Err(CkError::Pkcs11(RvError::UserNotLoggedIn, _)) => {}
                Err(e) => panic!("C_Logout: {e}"),
            }
        }
        done.store(true, Ordering::Release);
        let mut tally = Tally::default();
        for thread in threads {
            tally.merge(&thread.join().unwrap());
        }
        println!("outcomes: {} ok, {:?}", tally.ok(), tally.report());
        for kind in tally.kinds() {
            // A retry that meets the next logout reports it, typed.
            assert!(
                matches!(kind, Outcome::Ok | Outcome::Session(_) | Outcome::Pkcs11(_)),
                "unexpected outcome {kind}"
            );
        }
        assert!(tally.errors() <= 5 * 4, "at most one failure per thread per logout: {tally:?}");
        // The pool still works, logged in.
        sign_and_verify(&key, &public, ES256, b"after the logouts").unwrap();
        assert_eq!(sandbox.sessions_open() as usize, pool.open_sessions());
        drop((key, pool));
        assert_eq!(sandbox.sessions_open(), 0);
    }
}

fault_test! {
    /// Items 26 and 27: the login is lost mid-run and the token then answers the re-login
    /// with CKR_PIN_LOCKED: the operation fails with `PinLocked` after one C_Login, without a
    /// hang; and again without a second attempt once the token flags the PIN as locked.
    fn pin_locked_on_re_login_is_a_typed_error(sandbox) {
        let pool = sandbox.builder().max_sessions(2).build().unwrap();
        let key = HsmJwk::from_label(&pool, "ec-p256").unwrap();
        let public = public_of(&key);
        sign_and_verify(&key, &public, ES256, b"before").unwrap();
        let logins = sandbox.stats().function("C_Login").calls;

        sandbox.set_rules("C_Login always rv=CKR_PIN_LOCKED\n");
        let other = pool.module().pkcs11().open_ro_session(pool.slot()).unwrap();
        other.logout().unwrap();
        drop(other);
        let outcome = sign_and_verify(&key, &public, ES256, b"after the logout");
        assert_eq!(outcome, Err(Outcome::PinLocked));
        assert_eq!(sandbox.stats().function("C_Login").calls, logins + 1);

        sandbox.set_rules(
            "C_Login always rv=CKR_PIN_LOCKED\nC_GetTokenInfo always flags+=CKF_USER_PIN_LOCKED\n",
        );
        let outcome = sign_and_verify(&key, &public, ES256, b"still locked");
        assert_eq!(outcome, Err(Outcome::PinLocked));
        assert_eq!(
            sandbox.stats().function("C_Login").calls,
            logins + 1,
            "a PIN flagged locked is not tried again"
        );

        // Unlocked (by an administrator): the same pool logs in again by itself.
        sandbox.clear_rules();
        sign_and_verify(&key, &public, ES256, b"unlocked").unwrap();
        assert_eq!(sandbox.sessions_open() as usize, pool.open_sessions());
        drop((key, pool));
        assert_eq!(sandbox.sessions_open(), 0);
    }
}

fault_test! {
    /// Issue 13 item 2: a second pool with a wrong PIN on a token this process is logged in
    /// to is refused (`Error::PinIncorrect`) from the keyed digest of the PIN the first pool
    /// logged in with: its PIN never reaches the token (one C_Login in all), and a pool with
    /// the right PIN still works.
    fn a_wrong_pin_on_a_logged_in_token_is_refused_without_a_login(sandbox) {
        let first = sandbox.builder().build().unwrap();
        assert_eq!(sandbox.stats().function("C_Login").calls, 1);
        let error = sandbox
            .builder()
            .pin(hsm_core::Pin::new("not-the-pin"))
            .build()
            .unwrap_err();
        assert!(matches!(error, Error::PinIncorrect), "{error:?}");
        let second = sandbox.builder().build().unwrap();
        assert_eq!(sandbox.stats().function("C_Login").calls, 1, "no second guess");
        drop((first, second));
        assert_eq!(sandbox.sessions_open(), 0);
    }
}

/// The outcomes `error_kind` gives are what the tests above compare against.
#[test]
fn error_kinds_follow_the_variant() {
    let error = jose_core::Error::Backend(jose_core::error::BackendError::new(
        jose_core::error::BackendErrorKind::Device,
        Error::PinLocked,
    ));
    assert_eq!(error_kind(&error), Outcome::PinLocked);
    let error = jose_core::Error::Backend(jose_core::error::BackendError::new(
        jose_core::error::BackendErrorKind::Device,
        Error::Session {
            function: hsm_core::cryptoki::context::Function::SignInit,
            rv: hsm_core::cryptoki::error::RvError::SessionClosed,
        },
    ));
    let kind = error_kind(&error);
    assert_eq!(
        kind,
        Outcome::Session(Call::new(
            hsm_core::cryptoki::context::Function::SignInit,
            hsm_core::cryptoki::error::RvError::SessionClosed
        ))
    );
    assert_eq!(kind.to_string(), "Session C_SignInit CKR_SESSION_CLOSED");
}

fault_test! {
    /// Item 28: the PIN is in no `Debug` or `Display` output of the configuration, the pool,
    /// its keys, a URI that carried it, or any PIN error (wrong, locked, final try).
    rules = "C_Login nth=1 rv=CKR_PIN_INCORRECT\n",
    fn the_pin_is_in_no_output(sandbox) {
        let pin = sandbox.token.pin.expose_secret().to_owned();
        let mut outputs = Vec::new();
        let builder = sandbox.builder();
        outputs.push(format!("{builder:?}"));
        let incorrect = builder.clone().build().unwrap_err();
        assert!(matches!(incorrect, Error::PinIncorrect), "{incorrect:?}");
        outputs.push(format!("{incorrect} {incorrect:?}"));
        for error in [Error::PinLocked, Error::PinFinalTry] {
            outputs.push(format!("{error} {error:?}"));
        }
        let pool = builder.build().unwrap();
        let key = HsmJwk::from_label(&pool, "rsa-2048").unwrap();
        outputs.push(format!("{pool:?} {key:?} {:?}", key.pool()));
        let uri: hsm_core::Pkcs11Uri = format!("pkcs11:token={}?pin-value={pin}", sandbox.token.label)
            .parse()
            .unwrap();
        outputs.push(format!("{uri} {uri:?}"));
        let bad: Result<hsm_core::Pkcs11Uri, _> = format!("pkcs11:token=x;token=y?pin-value={pin}").parse();
        outputs.push(format!("{:?}", bad.unwrap_err()));
        for output in &outputs {
            assert!(!output.contains(&pin), "the PIN is in {output}");
        }
        drop((key, pool));
        assert_eq!(sandbox.sessions_open(), 0);
    }
}
