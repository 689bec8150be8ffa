//! hsm-core against SoftHSM: the session pool (checkout, limits, waiting, concurrency, session
//! accounting).

// Every function of this test crate is test code, helpers included; clippy.toml's
// allow-*-in-tests only covers #[test] functions themselves.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hsm_core::cryptoki::mechanism::Mechanism;
use hsm_core::cryptoki::object::{Attribute, ObjectClass};
use hsm_core::key::{KeySelector, find_key};
use hsm_core::{EcCurve, Error, Module, PoolKey, PublicKeyMaterial, hsm_session};
use hsm_jose_tests::fixture::{self, TokenFixture};
use hsm_jose_tests::suite_token;

fn token() -> TokenFixture {
    suite_token!()
}

#[test]
fn nested_sessions_on_one_thread() {
    let _token = fixture::shared();
    let pool = token().builder().max_sessions(3).build().unwrap();
    let outer = pool.session().unwrap();
    let inner = pool.session().unwrap();
    let innermost = pool.session_rw().unwrap();
    assert_ne!(outer.handle(), inner.handle());
    assert_ne!(inner.handle(), innermost.handle());
    assert!(innermost.is_read_write() && !outer.is_read_write());
    // Each works while the others are held.
    find_key(&outer, &KeySelector::label("ec-p256")).unwrap();
    find_key(&inner, &KeySelector::label("aes-128")).unwrap();
    find_key(&innermost, &KeySelector::label("ed25519")).unwrap();
    assert_eq!(pool.open_sessions(), 3);
    drop((outer, inner, innermost));
    assert_eq!(pool.idle_sessions(), 3);
    // A nested run inside a run.
    let nested = pool
        .run(|_outer| Ok(pool.run(|inner| inner.generate_random_vec(8)).unwrap()))
        .unwrap();
    assert_eq!(nested.len(), 8);
}

#[test]
fn checkout_times_out_when_every_session_is_busy() {
    let _token = fixture::shared();
    let pool = token()
        .builder()
        .max_sessions(1)
        .wait_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let held = pool.session().unwrap();
    let started = Instant::now();
    let error = pool.session().unwrap_err();
    let waited = started.elapsed();
    match error {
        Error::PoolTimeout { waited: reported } => assert_eq!(reported, Duration::from_millis(300)),
        other => panic!("expected PoolTimeout, got {other:?}"),
    }
    assert!(waited >= Duration::from_millis(300), "{waited:?}");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
    // run() waits the same way.
    assert!(matches!(
        pool.run(|s| s.generate_random_vec(1)).unwrap_err(),
        Error::PoolTimeout { .. }
    ));
    drop(held);
    pool.session().unwrap();
}

#[test]
fn a_waiting_checkout_gets_the_session_when_it_is_returned() {
    let _token = fixture::shared();
    let pool = token()
        .builder()
        .max_sessions(1)
        .wait_timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let held = pool.session().unwrap();
    let handle = held.handle();
    let waiter = {
        let pool = pool.clone();
        std::thread::spawn(move || {
            let started = Instant::now();
            let session = pool.session().unwrap();
            (session.handle(), started.elapsed())
        })
    };
    std::thread::sleep(Duration::from_millis(150));
    drop(held);
    let (got, waited) = waiter.join().unwrap();
    assert_eq!(
        got, handle,
        "the returned session is handed over, not a new one"
    );
    assert!(waited >= Duration::from_millis(100), "{waited:?}");
    assert_eq!(pool.open_sessions(), 1);
}

/// Issue 15: waiting is first come, first served. A caller that gives its session back and asks
/// again at once queues behind the caller already waiting, instead of taking the session back
/// before the waiter runs (which, under overload, left some callers waiting until their timeout).
#[test]
fn a_session_given_back_goes_to_the_caller_that_waited_first() {
    let _token = fixture::shared();
    let pool = Arc::new(
        token()
            .builder()
            .max_sessions(1)
            .wait_timeout(Duration::from_secs(20))
            .build()
            .unwrap(),
    );
    let order = Arc::new(Mutex::new(Vec::new()));
    let held = pool.session().unwrap();
    let waiter = {
        let (pool, order) = (Arc::clone(&pool), Arc::clone(&order));
        std::thread::spawn(move || {
            let session = pool.session().unwrap();
            order.lock().unwrap().push("waiter");
            std::thread::sleep(Duration::from_millis(50));
            drop(session);
        })
    };
    while pool.stats().waiters == 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
    drop(held);
    let again = pool.session().unwrap();
    order.lock().unwrap().push("returner");
    drop(again);
    waiter.join().unwrap();
    assert_eq!(*order.lock().unwrap(), ["waiter", "returner"]);
    assert_eq!(pool.stats().waiters, 0);
}

#[test]
fn read_only_and_read_write_sessions_share_the_limit() {
    // Creates a token object: not while other tests open and close sessions on the token (the
    // process's last session closing logs the token out under this one's feet: SoftHSM then
    // fails C_CreateObject with CKR_GENERAL_ERROR).
    let _token = fixture::exclusive();
    let pool = token()
        .builder()
        .max_sessions(1)
        .wait_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    // The one idle session is read-only; a read-write checkout replaces it.
    let rw = pool.session_rw().unwrap();
    assert!(rw.is_read_write());
    // Read-write sessions create token objects; read-only ones cannot.
    let object = rw
        .create_object(&[
            Attribute::Class(ObjectClass::DATA),
            Attribute::Token(true),
            Attribute::Label(b"pool-data".to_vec()),
            Attribute::Value(b"hello".to_vec()),
        ])
        .unwrap();
    rw.destroy_object(object).unwrap();
    drop(rw);
    let ro = pool.session().unwrap();
    assert!(!ro.is_read_write());
    let refused = ro.create_object(&[
        Attribute::Class(ObjectClass::DATA),
        Attribute::Token(true),
        Attribute::Value(b"x".to_vec()),
    ]);
    assert!(
        matches!(
            refused,
            Err(hsm_core::cryptoki::error::Error::Pkcs11(
                hsm_core::cryptoki::error::RvError::SessionReadOnly,
                hsm_core::cryptoki::context::Function::CreateObject
            ))
        ),
        "{refused:?}"
    );
    drop(ro);
    assert_eq!(pool.open_sessions(), 1);
}

#[test]
fn a_discarded_session_is_closed_not_returned() {
    let _token = fixture::shared();
    let pool = token().builder().max_sessions(2).build().unwrap();
    let session = pool.session().unwrap();
    let handle = session.handle();
    assert_eq!(pool.open_sessions(), 1);
    session.discard();
    assert_eq!(pool.open_sessions(), 0);
    let fresh = pool.session().unwrap();
    assert_ne!(fresh.handle(), handle);
    // Still logged in (another session of the process kept the login, or the pool logged in
    // again when it opened the new one).
    assert!(
        find_key(&fresh, &KeySelector::label("ec-p256"))
            .unwrap()
            .private
            .is_some()
    );
}

#[test]
fn the_convenience_session_is_logged_in_and_read_write() {
    let _token = fixture::shared();
    let token = token();
    let session = hsm_session(&token.module, &token.label, token.pin.clone()).unwrap();
    assert!(session.is_read_write());
    let key = find_key(&session, &KeySelector::label("rsa-3072")).unwrap();
    assert!(key.private.is_some());
}

#[test]
fn eight_threads_sign_a_thousand_times_each_and_every_session_is_returned() {
    let _token = fixture::exclusive();
    let token = token();
    // Sessions open through pools before the workload (none: this test has the token alone).
    let module = Module::load(&token.module).unwrap();
    let before = module.pool_sessions();
    let pool = token.builder().max_sessions(8).build().unwrap();
    // SoftHSM does not report ulSessionCount: the token's own count is not available.
    assert_eq!(pool.token_session_count().unwrap(), None);

    let key = PoolKey::find(&pool, KeySelector::label("ec-p256")).unwrap();
    let info = key.info();
    let Some(PublicKeyMaterial::Ec {
        curve: EcCurve::P256,
        ..
    }) = &info.public_key
    else {
        panic!("ec-p256 has a P-256 public key: {info:?}");
    };
    let public = info.public.expect("a public key object");
    let handles = Arc::new(Mutex::new(HashSet::new()));
    let started = Instant::now();
    let threads: Vec<_> = (0..8u8)
        .map(|t| {
            let key = key.clone();
            let handles = Arc::clone(&handles);
            std::thread::spawn(move || {
                let mut seen = HashSet::new();
                for i in 0..1000u32 {
                    let mut digest = [t; 32];
                    digest[..4].copy_from_slice(&i.to_be_bytes());
                    let signature = key.run(|session, info| {
                        seen.insert(session.handle());
                        session.sign(
                            &Mechanism::Ecdsa,
                            info.private.expect("private key"),
                            &digest,
                        )
                    });
                    let signature = signature.unwrap_or_else(|e| panic!("thread {t}, op {i}: {e}"));
                    assert_eq!(signature.len(), 64);
                    if i % 250 == 0 {
                        key.run(|session, _| {
                            session.verify(&Mechanism::Ecdsa, public, &digest, &signature)
                        })
                        .unwrap();
                    }
                }
                handles.lock().unwrap().extend(seen);
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let elapsed = started.elapsed();
    println!(
        "8000 ECDSA P-256 signatures in {elapsed:?} ({:.0}/s)",
        8000.0 / elapsed.as_secs_f64()
    );

    // Every session is back in the pool, and the pool opened no more than its limit.
    let handles = handles.lock().unwrap().clone();
    let open = pool.open_sessions();
    assert!((1..=8).contains(&open), "{open}");
    assert_eq!(pool.idle_sessions(), open);
    assert!(
        handles.len() <= open,
        "{} sessions used, {open} open",
        handles.len()
    );
    assert_eq!(module.pool_sessions(), before + open);
    // Token-side: every session used is still open, in the pool.
    for &handle in &handles {
        assert!(
            fixture::session_is_open(module.path(), handle),
            "session {handle}"
        );
    }
    drop(key);
    drop(pool);
    // The pool closed every session when dropped: back to where it was.
    assert_eq!(module.pool_sessions(), before);
    for &handle in &handles {
        assert!(
            !fixture::session_is_open(module.path(), handle),
            "session {handle} still open"
        );
    }
}

#[test]
fn closing_idle_sessions_returns_the_count_and_the_pool_logs_in_again() {
    let _token = fixture::exclusive();
    let token = token();
    let pool = token.builder().max_sessions(4).build().unwrap();
    let module = pool.module().clone();
    let guards: Vec<_> = (0..4).map(|_| pool.session().unwrap()).collect();
    let handles: Vec<_> = guards.iter().map(|g| g.handle()).collect();
    assert_eq!(module.pool_sessions(), 4);
    drop(guards);
    pool.close_idle();
    assert_eq!(pool.open_sessions(), 0);
    assert_eq!(module.pool_sessions(), 0);
    assert!(
        handles
            .iter()
            .all(|&h| !fixture::session_is_open(module.path(), h))
    );
    // The token logged the process out with its last session; the next checkout logs in.
    let session = pool.session().unwrap();
    assert!(
        find_key(&session, &KeySelector::label("ec-p384"))
            .unwrap()
            .private
            .is_some()
    );
}

/// Issue 11: the return-code classification exists once. `docs/sessions.md` shows the table
/// that `hsm_core::pool::recovery_table` computes from `hsm_core::pool::recovery`, word for
/// word: change one, and this test says so.
#[test]
fn the_documented_recovery_table_is_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/sessions.md");
    let docs = std::fs::read_to_string(path).unwrap();
    let table = hsm_core::pool::recovery_table();
    assert!(
        docs.contains(&table),
        "docs/sessions.md must contain the table of hsm_core::pool::recovery:\n{table}"
    );
}
