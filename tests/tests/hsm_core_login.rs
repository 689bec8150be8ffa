//! hsm-core against SoftHSM: login, wrong PINs, and recovery from sessions and logins lost
//! behind the pool's back.
//!
//! Login state belongs to the process and the token, so every test here takes the suite's token
//! exclusively.

// Every function of this test crate is test code, helpers included; clippy.toml's
// allow-*-in-tests only covers #[test] functions themselves.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hsm_core::cryptoki::error::RvError;
use hsm_core::cryptoki::mechanism::Mechanism;
use hsm_core::cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
use hsm_core::cryptoki::object::{Attribute, ObjectHandle};
use hsm_core::cryptoki::session::{Session, UserType};
use hsm_core::key::{KeySelector, find_key};
use hsm_core::{Error, Pin, PoolKey, SessionPool};
use hsm_jose_tests::fixture::{self, TokenFixture};
use hsm_jose_tests::suite_token;

fn token() -> TokenFixture {
    suite_token!()
}

fn digest(n: u8) -> [u8; 32] {
    [n; 32]
}

#[test]
fn a_wrong_pin_is_reported_once_and_distinctly() {
    let _token = fixture::exclusive();
    let token = token();
    // No session of this process is open on the token, so C_Login really checks the PIN.
    let wrong = Pin::new("definitely-not-the-pin");
    let error = SessionPool::new(&token.module, &token.label, wrong).unwrap_err();
    println!("{error}");
    assert!(matches!(error, Error::PinIncorrect), "{error:?}");
    assert!(error.is_pin_error());
    assert!(!error.to_string().contains("definitely"), "{error}");
    // The failed pool closed its session.
    let module = hsm_core::Module::load(&token.module).unwrap();
    assert_eq!(module.pool_sessions(), 0);
    // And the right PIN works.
    let pool = token.pool();
    assert!(
        find_key(&pool.session().unwrap(), &KeySelector::label("ec-p256"))
            .unwrap()
            .private
            .is_some()
    );
}

#[test]
fn a_second_pool_on_a_logged_in_token_does_not_log_in_again() {
    let _token = fixture::exclusive();
    let token = token();
    let first = token.pool();
    // Login state is per process and token: C_Login would answer CKR_USER_ALREADY_LOGGED_IN;
    // the second pool holds the PIN the process logged in with, so it works.
    let second = SessionPool::new(&token.module, &token.label, token.pin.clone()).unwrap();
    assert!(
        find_key(&second.session().unwrap(), &KeySelector::label("ec-p256"))
            .unwrap()
            .private
            .is_some()
    );
    drop(first);
}

/// Issue 13 item 2: once a pool logged in, the token accepts any PIN (`C_Login` answers
/// `CKR_USER_ALREADY_LOGGED_IN`, and new sessions are logged in already). A second pool with a
/// wrong PIN is refused from the keyed digest of the PIN the process logged in with, and the
/// right PIN still works.
#[test]
fn a_second_pool_with_a_wrong_pin_is_refused_on_a_logged_in_token() {
    let _token = fixture::exclusive();
    let token = token();
    let first = token.pool();
    let wrong = Pin::new("definitely-not-the-pin");
    let error = SessionPool::new(&token.module, &token.label, wrong).unwrap_err();
    assert!(matches!(error, Error::PinIncorrect), "{error:?}");
    assert!(!error.to_string().contains("definitely"), "{error}");
    // The same refusal through the builder with a read-write first session.
    let error = token.builder().pin(Pin::new("0000")).build().unwrap_err();
    assert!(matches!(error, Error::PinIncorrect), "{error:?}");
    // The first pool is untouched, and a pool with the right PIN still works.
    let second = SessionPool::new(&token.module, &token.label, token.pin.clone()).unwrap();
    for pool in [&first, &second] {
        assert!(
            find_key(&pool.session().unwrap(), &KeySelector::label("ec-p256"))
                .unwrap()
                .private
                .is_some()
        );
    }
}

#[test]
fn sessions_closed_behind_the_pools_back_are_recovered_by_run() {
    let _token = fixture::exclusive();
    let token = token();
    let pool = token.builder().max_sessions(4).build().unwrap();
    let key = PoolKey::find(&pool, KeySelector::label("ec-p256")).unwrap();
    // Fill the pool with idle sessions.
    let guards: Vec<_> = (0..4).map(|_| pool.session().unwrap()).collect();
    let old_handles: Vec<_> = guards.iter().map(|g| g.handle()).collect();
    drop(guards);
    let epoch = pool.epoch();

    // Another user of the module closes every session of the token (and so logs out).
    let rv = fixture::close_all_sessions(pool.module().path(), pool.slot());
    assert_eq!(rv, 0, "C_CloseAllSessions returned {rv:#x}");
    assert!(
        old_handles
            .iter()
            .all(|&h| !fixture::session_is_open(pool.module().path(), h))
    );

    // A plain guard now fails with a session-class error, which the caller discards.
    let dead = pool.session().unwrap();
    let error = dead.generate_random_vec(4).unwrap_err();
    assert!(matches!(
        error,
        hsm_core::cryptoki::error::Error::Pkcs11(RvError::SessionHandleInvalid, _)
    ));
    dead.discard();

    // run() discards the dead session, drops the idle ones (they died together), opens a fresh
    // session, logs in again and retries once.
    let random = pool.run(|session| session.generate_random_vec(16)).unwrap();
    assert_eq!(random.len(), 16);
    assert!(pool.epoch() > epoch);
    // PoolKey finds the key's handles again after the re-login.
    let signature = key
        .run(|session, info| {
            session.sign(
                &Mechanism::Ecdsa,
                info.private.expect("private"),
                &digest(1),
            )
        })
        .unwrap();
    assert_eq!(signature.len(), 64);
    let session = pool.session().unwrap();
    assert!(
        !old_handles.contains(&session.handle()),
        "no dead session was handed out again"
    );
    assert!(fixture::session_is_open(
        pool.module().path(),
        session.handle()
    ));
    drop(session);
    assert_eq!(pool.module().pool_sessions(), pool.open_sessions());
}

/// An operation that needs the user logged in and no object handle: creating a private
/// session object. Without a login SoftHSM refuses it with CKR_USER_NOT_LOGGED_IN.
fn needs_login(session: &Session) -> Result<ObjectHandle, hsm_core::cryptoki::error::Error> {
    let handle = session.generate_key(
        &Mechanism::AesKeyGen,
        &[
            Attribute::Token(false),
            Attribute::Private(true),
            Attribute::ValueLen(16.into()),
        ],
    )?;
    session.destroy_object(handle)?;
    Ok(handle)
}

fn logout_behind_the_pools_back(pool: &SessionPool) {
    // Any session of the process logs the whole process out.
    let other = pool.module().pkcs11().open_ro_session(pool.slot()).unwrap();
    other.logout().unwrap();
}

#[test]
fn a_logout_behind_the_pools_back_is_recovered_by_logging_in_again() {
    let _token = fixture::exclusive();
    let token = token();
    let pool = token.builder().max_sessions(2).build().unwrap();
    let key = PoolKey::find(&pool, KeySelector::label("ed25519")).unwrap();
    let before = key.info();

    // run(): the operation fails with CKR_USER_NOT_LOGGED_IN, the pool logs in again on a
    // fresh session and retries.
    logout_behind_the_pools_back(&pool);
    let epoch = pool.epoch();
    pool.run(needs_login).unwrap();
    assert!(pool.epoch() > epoch);

    // PoolKey: SoftHSM dropped the private key's handle at logout and answers
    // CKR_OBJECT_HANDLE_INVALID; the pool sees the lost login, logs in again, and the key's
    // handles are found again.
    logout_behind_the_pools_back(&pool);
    let signature = key
        .run(|session, info| {
            session.sign(
                &Mechanism::Eddsa(eddsa()),
                info.private.expect("private"),
                b"message",
            )
        })
        .unwrap();
    assert_eq!(signature.len(), 64);
    let after = key.info();
    assert_eq!(after.public_key, before.public_key, "the same key");
    assert_ne!(
        after.private, before.private,
        "SoftHSM gave the private key a new handle"
    );

    // A handle captured outside a PoolKey stays stale: run() recovers the login, and the
    // retry reports the stale handle honestly.
    logout_behind_the_pools_back(&pool);
    let stale = after.private.expect("private");
    let error = pool
        .run(|session| session.sign(&Mechanism::Eddsa(eddsa()), stale, b"message"))
        .unwrap_err();
    assert!(error.is_handle_invalid(), "{error:?}");
}

fn eddsa() -> EddsaParams<'static> {
    EddsaParams::new(EddsaSignatureScheme::Pure)
}

#[test]
fn a_pin_changed_behind_the_pools_back_is_refused_and_not_retried() {
    let _token = fixture::exclusive();
    let token = token();
    let pool = token.builder().max_sessions(2).build().unwrap();
    let new_pin = Pin::new("a-changed-user-pin");

    // Someone changes the user PIN and logs the process out.
    let admin = pool.module().pkcs11().open_rw_session(pool.slot()).unwrap();
    admin
        .set_pin(
            &token.pin.expose_secret().into(),
            &new_pin.expose_secret().into(),
        )
        .unwrap();
    admin.logout().unwrap();

    // The re-login with the old PIN is refused: PinIncorrect, distinctly.
    let first = pool.run(needs_login).unwrap_err();
    assert!(matches!(first, Error::PinIncorrect), "{first:?}");
    // The pool remembers: it does not offer the refused PIN to the token again.
    let second = pool.run(needs_login).unwrap_err();
    assert!(matches!(second, Error::PinIncorrect), "{second:?}");

    // Put the PIN back for the other tests.
    admin
        .login(UserType::User, Some(&new_pin.expose_secret().into()))
        .unwrap();
    admin
        .set_pin(
            &new_pin.expose_secret().into(),
            &token.pin.expose_secret().into(),
        )
        .unwrap();
    admin.logout().unwrap();
}

/// Issue 12: a key with `CKA_ALWAYS_AUTHENTICATE` (SoftHSM enforces it). A plain operation is
/// refused by the token with `CKR_USER_NOT_LOGGED_IN` after the init, which is not a lost
/// login: `Error::ContextLoginRequired`, one run, no re-login loop. `sign_authenticated` does
/// the context-specific login between `C_SignInit` and the data (multi-part), and the signature
/// verifies. SoftHSM has no multi-part RSA decryption: `decrypt_authenticated` with OAEP is the
/// token's typed refusal.
#[test]
fn a_key_that_needs_the_pin_for_every_use_signs_with_a_context_login() {
    use hsm_core::cryptoki::context::Function;
    use hsm_core::cryptoki::mechanism::MechanismType;
    use hsm_core::cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource};
    use std::cell::Cell;

    let _token = fixture::exclusive();
    let token = token();
    let pool = token.builder().max_sessions(2).build().unwrap();
    let label = "always-auth-rsa";
    let rw = pool.session_rw().unwrap();
    let (public, private) = rw
        .generate_key_pair(
            &Mechanism::RsaPkcsKeyPairGen,
            &[
                Attribute::Token(true),
                Attribute::Label(label.into()),
                Attribute::Id(vec![0xa1]),
                Attribute::ModulusBits(2048.into()),
                Attribute::Verify(true),
                Attribute::Encrypt(true),
            ],
            &[
                Attribute::Token(true),
                Attribute::Label(label.into()),
                Attribute::Id(vec![0xa1]),
                Attribute::Private(true),
                Attribute::Sensitive(true),
                Attribute::Extractable(false),
                Attribute::Sign(true),
                Attribute::Decrypt(true),
                Attribute::AlwaysAuthenticate(true),
            ],
        )
        .unwrap();
    drop(rw);

    let key = PoolKey::find(&pool, KeySelector::label(label)).unwrap();
    assert!(key.always_authenticate().unwrap());
    let plain = PoolKey::find(&pool, KeySelector::label("ec-p256")).unwrap();
    assert!(!plain.always_authenticate().unwrap());

    let runs = Cell::new(0);
    let epoch = pool.epoch();
    let error = key
        .run(|session, info| {
            runs.set(runs.get() + 1);
            session.sign(&Mechanism::Sha256RsaPkcs, info.private.unwrap(), b"data")
        })
        .unwrap_err();
    assert!(
        matches!(
            &error,
            Error::ContextLoginRequired {
                function: Function::Sign,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(runs.get(), 1, "not a lost login: no retry");
    assert_eq!(pool.epoch(), epoch, "no recovery");

    let signature = key
        .sign_authenticated(&Mechanism::Sha256RsaPkcs, b"data")
        .unwrap();
    assert_eq!(signature.len(), 256);
    pool.run(|session| session.verify(&Mechanism::Sha256RsaPkcs, public, b"data", &signature))
        .unwrap();
    // Twice in a row: the login is for one operation only.
    let again = key
        .sign_authenticated(&Mechanism::Sha256RsaPkcs, b"more")
        .unwrap();
    pool.run(|session| session.verify(&Mechanism::Sha256RsaPkcs, public, b"more", &again))
        .unwrap();

    let oaep = Mechanism::RsaPkcsOaep(PkcsOaepParams::new(
        MechanismType::SHA1,
        PkcsMgfType::MGF1_SHA1,
        PkcsOaepSource::empty(),
    ));
    let ciphertext = pool
        .run(|session| session.encrypt(&oaep, public, b"secret"))
        .unwrap();
    let error = key.decrypt_authenticated(&oaep, &ciphertext).unwrap_err();
    assert!(
        matches!(
            error,
            Error::Pkcs11 {
                function: Function::DecryptUpdate,
                rv: RvError::FunctionNotSupported
            }
        ),
        "{error:?}"
    );

    let rw = pool.session_rw().unwrap();
    rw.destroy_object(private).unwrap();
    rw.destroy_object(public).unwrap();
}
