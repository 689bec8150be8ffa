//! hsm-jose against SoftHSM: the session-management examples of `docs/sessions.md` — pools,
//! read-write sessions, the one-call session, keys loaded once and reused, configuration from
//! the environment, shared modules — and the errors users meet (wrong PIN, lost session).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hsm_jose::hsm_core::{self, Error as HsmError, Module, PoolBuilder};
use hsm_jose::jose_core::{JwsAlgorithm, SoftwareKey, jws};
use hsm_jose::{HsmJwk, Pin, SessionPool, hsm_session};
use hsm_jose_tests::fixture::{self, TokenFixture};
use hsm_jose_tests::suite_token;

fn token() -> TokenFixture {
    suite_token!()
}

#[test]
fn a_pool_hands_out_read_only_and_read_write_sessions() {
    let _t = fixture::shared();
    let t = token();
    let pool = SessionPool::new(&t.module, &t.label, t.pin.clone()).unwrap();
    {
        let ro = pool.session().unwrap();
        let rw = pool.session_rw().unwrap();
        assert!(!ro.is_read_write());
        assert!(rw.is_read_write());
        // Two sessions of one pool are open at once.
        assert_ne!(ro.handle(), rw.handle());
        let info = hsm_core::find_key(&ro, &hsm_core::KeySelector::label("ec-p256")).unwrap();
        assert!(info.private.is_some());
    }
    // Returned to the pool when the guards drop; the next checkout reuses them.
    let idle = pool.idle_sessions();
    assert!(idle >= 1);
    let _again = pool.session().unwrap();
    assert_eq!(pool.idle_sessions(), idle - 1);
}

#[test]
fn the_one_call_session() {
    let _t = fixture::shared();
    let t = token();
    let session = hsm_session(&t.module, &t.label, t.pin.clone()).unwrap();
    let keys = hsm_core::list_keys(&session).unwrap();
    assert!(keys.iter().any(|k| k.label == "rsa-2048"));
}

#[test]
fn short_sessions_one_per_operation() {
    let _t = fixture::shared();
    let pool = token().pool();
    // A key loaded once; every signature takes a session for that one call and returns it.
    let key = HsmJwk::from_label(&pool, "ed25519").unwrap();
    for i in 0..10 {
        jws::sign_compact(&key, JwsAlgorithm::EdDSA, format!("{i}").as_bytes(), None).unwrap();
        assert_eq!(
            pool.idle_sessions(),
            pool.open_sessions(),
            "no session held between operations"
        );
    }
}

#[test]
fn a_batch_of_100_signatures_in_one_session() {
    let _t = fixture::shared();
    // A pool of one session: the whole batch runs on it.
    let pool = token().builder().max_sessions(1).build().unwrap();
    let key = HsmJwk::from_label(&pool, "ec-p256").unwrap();
    let public = SoftwareKey::from_json(&key.public_json().unwrap()).unwrap();
    let tokens: Vec<String> = (0..100)
        .map(|i| {
            jws::sign_compact(
                &key,
                JwsAlgorithm::ES256,
                format!("item {i}").as_bytes(),
                None,
            )
            .unwrap()
        })
        .collect();
    assert_eq!(pool.open_sessions(), 1);
    for (i, t) in tokens.iter().enumerate() {
        assert_eq!(
            jws::verify_compact(t, &public, &[JwsAlgorithm::ES256])
                .unwrap()
                .payload(),
            format!("item {i}").as_bytes()
        );
    }
}

#[test]
fn configuration_from_hsm_module_hsm_token_and_hsm_pin() {
    let _t = fixture::shared();
    let t = token();
    let module = t.module.to_string_lossy().into_owned();
    let pin = std::env::var("HSM_PIN").unwrap();
    let env = |name: &str| match name {
        "HSM_MODULE" => Some(module.clone()),
        "HSM_TOKEN" => Some(t.label.clone()),
        "HSM_PIN" => Some(pin.clone()),
        _ => None,
    };
    let pool = PoolBuilder::from_env_with(env).unwrap().build().unwrap();
    HsmJwk::from_label(&pool, "rsa-2048").unwrap();
    // A missing variable is a configuration error naming it.
    let err =
        PoolBuilder::from_env_with(|n| if n == "HSM_PIN" { None } else { env(n) }).unwrap_err();
    assert!(err.to_string().contains("HSM_PIN"), "{err}");
}

#[test]
fn two_pools_on_one_module_share_it() {
    let _t = fixture::shared();
    let a = token().pool();
    let b = token().pool();
    assert!(a.module().same_instance(b.module()));
    let key_a = HsmJwk::from_label(&a, "ec-p384").unwrap();
    let key_b = HsmJwk::from_label(&b, "ec-p384").unwrap();
    let t = jws::sign_compact(&key_a, JwsAlgorithm::ES384, b"x", None).unwrap();
    jws::verify_compact(&t, &key_b, &[JwsAlgorithm::ES384]).unwrap();
    assert!(
        Module::load(&token().module)
            .unwrap()
            .same_instance(a.module())
    );
}

#[test]
fn a_wrong_pin_is_reported_once_and_distinctly() {
    let _t = fixture::shared();
    let t = token();
    let err = SessionPool::new(&t.module, &t.label, Pin::new("not-the-pin")).unwrap_err();
    assert!(matches!(err, HsmError::PinIncorrect), "{err:?}");
    assert!(!err.to_string().contains("not-the-pin"));
    // The right PIN still works: nothing was locked by retries.
    SessionPool::new(&t.module, &t.label, t.pin.clone()).unwrap();
}

#[test]
fn a_session_closed_behind_the_pools_back_is_replaced_transparently() {
    let _t = fixture::exclusive();
    let pool = token().pool();
    let key = HsmJwk::from_label(&pool, "ec-p256").unwrap();
    jws::sign_compact(&key, JwsAlgorithm::ES256, b"before", None).unwrap();
    let rv = fixture::close_all_sessions(pool.module().path(), pool.slot());
    assert_eq!(rv, 0, "C_CloseAllSessions");
    // The next operation meets an invalid session, replaces it, logs in again, and succeeds.
    let t = jws::sign_compact(&key, JwsAlgorithm::ES256, b"after", None).unwrap();
    assert_eq!(
        jws::verify_compact(&t, &key, &[JwsAlgorithm::ES256])
            .unwrap()
            .payload(),
        b"after"
    );
}

#[test]
fn an_unknown_token_lists_the_tokens_present() {
    let _t = fixture::shared();
    let t = token();
    let err = SessionPool::new(&t.module, "no-such-token", t.pin.clone()).unwrap_err();
    assert!(matches!(err, HsmError::TokenNotFound { .. }));
    assert!(err.to_string().contains(&t.label), "{err}");
}
