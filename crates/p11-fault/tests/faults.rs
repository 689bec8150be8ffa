//! The shim against a real SoftHSM token, through `cryptoki`.
//!
//! Every test runs in a child process of its own (see `common`): its own token, rules file and
//! stats file, so the tests run in parallel and never see each other's module state.

mod common;

use std::time::{Duration, Instant};

use common::{Sandbox, ec_key, isolated};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Function, Pkcs11};
use cryptoki::error::{Error, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use p11_fault::harness::Counts;

/// A `#[test]` whose body runs in its own child process (see `common::isolated`).
macro_rules! shim_test {
    ($(#[doc = $doc:expr])* fn $name:ident($sandbox:ident) $body:block) => {
        $(#[doc = $doc])*
        #[test]
        fn $name() {
            isolated(stringify!($name), &[], |$sandbox: &Sandbox| $body);
        }
    };
}

/// Signs 32 bytes with ECDSA (two `C_Sign` calls: length, then signature).
fn sign(
    session: &Session,
    key: cryptoki::object::ObjectHandle,
) -> cryptoki::error::Result<Vec<u8>> {
    session.sign(&Mechanism::Ecdsa, key, &[7; 32])
}

/// Whether `result` is the PKCS#11 error `rv` from `function`.
fn is<T>(result: &cryptoki::error::Result<T>, rv: RvError, function: Function) -> bool {
    // `Function` has no `PartialEq`; its `Debug` form is its name.
    matches!(result, Err(Error::Pkcs11(r, f)) if *r == rv && format!("{f:?}") == format!("{function:?}"))
}

shim_test! {
    /// With no rules file, the shim is SoftHSM: token init, login, key generation, sign, verify.
    fn passes_through_login_and_sign(sandbox) {
        let pkcs11 = sandbox.pkcs11();
        let slot = sandbox.init_token(&pkcs11);
        assert_eq!(pkcs11.get_library_info().unwrap().cryptoki_version().major(), 2);
        let session = sandbox.user_session(&pkcs11, slot);
        let (public, private) = ec_key(&session);
        let signature = sign(&session, private).unwrap();
        assert_eq!(signature.len(), 64, "raw r||s for P-256");
        session.verify(&Mechanism::Ecdsa, public, &[7; 32], &signature).unwrap();
        drop(session);

        let stats = sandbox.stats();
        assert_eq!(stats.function("C_Sign"), Counts { calls: 2, faults: 0, delayed: 0 });
        assert_eq!(stats.function("C_Login").calls, 2, "SO, then user");
        assert_eq!(stats.sessions_opened, 2);
        assert_eq!(stats.sessions_open, 0, "every session closed again");
        assert_eq!((stats.rules, stats.rule_errors), (0, 0));
    }
}

shim_test! {
    /// `nth=3` fails the third C_Sign and only that one; the shim also ends SoftHSM's operation,
    /// so the same session signs again at once (as on a real token).
    fn nth_injects_exactly_once(sandbox) {
        let pkcs11 = sandbox.pkcs11();
        let slot = sandbox.init_token(&pkcs11);
        let session = sandbox.user_session(&pkcs11, slot);
        let (_, private) = ec_key(&session);
        sandbox.set_rules("C_Sign nth=3 rv=CKR_DEVICE_ERROR\n");

        let results: Vec<_> = (0..4).map(|_| sign(&session, private)).collect();
        assert!(results[0].is_ok(), "C_Sign calls 1 and 2");
        assert!(is(&results[1], RvError::DeviceError, Function::Sign), "call 3: {:?}", results[1]);
        assert!(results[2].is_ok(), "calls 4 and 5, same session: {:?}", results[2]);
        assert!(results[3].is_ok(), "calls 6 and 7");

        let stats = sandbox.stats();
        assert_eq!(stats.function("C_Sign"), Counts { calls: 7, faults: 1, delayed: 0 });
        assert_eq!(stats.function("C_SignInit").faults, 0);
    }
}

shim_test! {
    /// Rewriting the rules file changes behaviour between two calls; removing it restores
    /// pass-through.
    fn rules_change_mid_run(sandbox) {
        let pkcs11 = sandbox.pkcs11();
        let slot = sandbox.init_token(&pkcs11);
        let session = sandbox.user_session(&pkcs11, slot);
        let (_, private) = ec_key(&session);
        sign(&session, private).unwrap();

        sandbox.set_rules("C_SignInit always rv=CKR_DEVICE_REMOVED\n");
        assert!(is(&sign(&session, private), RvError::DeviceRemoved, Function::SignInit));
        assert!(is(&sign(&session, private), RvError::DeviceRemoved, Function::SignInit));

        sandbox.set_rules("C_Login always rv=CKR_PIN_LOCKED\n");
        sign(&session, private).unwrap();
        let other = pkcs11.open_ro_session(slot).unwrap();
        let pin = AuthPin::new(common::USER_PIN.into());
        // The user is logged in on the token already, so this would be CKR_USER_ALREADY_LOGGED_IN
        // from SoftHSM: the injected value wins without asking it.
        assert!(is(&other.login(UserType::User, Some(&pin)), RvError::PinLocked, Function::Login));

        sandbox.clear_rules();
        sign(&session, private).unwrap();
        let stats = sandbox.stats();
        assert_eq!(stats.reloads, 3, "two files and one removal");
        assert_eq!(stats.rules, 0);
        assert_eq!(stats.function("C_SignInit").faults, 2);
        assert_eq!(stats.function("C_Login").faults, 1);
    }
}

shim_test! {
    /// `delay_ms=200` makes a sign take at least 200 ms; without it, it is quick.
    fn delay_slows_a_call(sandbox) {
        let pkcs11 = sandbox.pkcs11();
        let slot = sandbox.init_token(&pkcs11);
        let session = sandbox.user_session(&pkcs11, slot);
        let (_, private) = ec_key(&session);

        sandbox.set_rules("C_SignInit always delay_ms=200\n");
        let started = Instant::now();
        sign(&session, private).unwrap();
        let slow = started.elapsed();
        assert!(slow >= Duration::from_millis(200), "{slow:?}");

        sandbox.clear_rules();
        let started = Instant::now();
        sign(&session, private).unwrap();
        let fast = started.elapsed();
        assert!(fast < Duration::from_millis(180), "{fast:?}");
        assert_eq!(sandbox.stats().function("C_SignInit").delayed, 1);
    }
}

shim_test! {
    /// `flags+=` / `flags-=` change the real token's flags; the other flags stay as they are.
    fn token_info_flags(sandbox) {
        let pkcs11 = sandbox.pkcs11();
        let slot = sandbox.init_token(&pkcs11);
        let before = pkcs11.get_token_info(slot).unwrap();
        assert!(!before.user_pin_final_try() && !before.user_pin_count_low());
        assert!(before.token_initialized() && before.user_pin_initialized());

        sandbox.set_rules(
            "C_GetTokenInfo always flags+=CKF_USER_PIN_FINAL_TRY|CKF_USER_PIN_COUNT_LOW\n\
             C_GetTokenInfo always flags-=CKF_USER_PIN_INITIALIZED\n",
        );
        let info = pkcs11.get_token_info(slot).unwrap();
        assert!(info.user_pin_final_try() && info.user_pin_count_low());
        assert!(!info.user_pin_locked());
        assert!(!info.user_pin_initialized(), "cleared by flags-=");
        assert!(info.token_initialized(), "untouched");
        assert_eq!(info.label(), common::LABEL, "the rest is SoftHSM's answer");

        sandbox.set_rules("C_GetTokenInfo always flags+=CKF_USER_PIN_LOCKED\n");
        assert!(pkcs11.get_token_info(slot).unwrap().user_pin_locked());
    }
}

shim_test! {
    /// `max_open=2` makes a token that allows two sessions: the third open fails with
    /// CKR_SESSION_COUNT until one is closed. The stats follow the sessions open.
    fn max_open_limits_sessions(sandbox) {
        let pkcs11 = sandbox.pkcs11();
        let slot = sandbox.init_token(&pkcs11);
        sandbox.set_rules("C_OpenSession max_open=2 rv=CKR_SESSION_COUNT\n");

        let first = pkcs11.open_ro_session(slot).unwrap();
        let second = pkcs11.open_rw_session(slot).unwrap();
        assert!(is(&pkcs11.open_ro_session(slot), RvError::SessionCount, Function::OpenSession));
        assert_eq!(sandbox.stats().sessions_open, 2);

        drop(first);
        let third = pkcs11.open_ro_session(slot).unwrap();
        assert!(is(&pkcs11.open_ro_session(slot), RvError::SessionCount, Function::OpenSession));
        drop((second, third));

        let stats = sandbox.stats();
        assert_eq!(stats.sessions_open, 0);
        assert_eq!(stats.function("C_OpenSession").faults, 2);
    }
}

shim_test! {
    /// `random=P seed=S` gives the same faults for the same seed and order of calls (a reload
    /// restarts the sequence), and other faults for another seed.
    fn random_with_seed_is_reproducible(sandbox) {
        let pkcs11 = sandbox.pkcs11();
        let slot = sandbox.init_token(&pkcs11);
        let session = pkcs11.open_ro_session(slot).unwrap();
        let run = |rules: &str| -> Vec<bool> {
            sandbox.set_rules(rules);
            (0..200)
                .map(|_| {
                    let result = session.generate_random_vec(16);
                    assert!(result.is_ok() || is(&result, RvError::DeviceMemory, Function::GenerateRandom));
                    result.is_err()
                })
                .collect()
        };
        let first = run("C_GenerateRandom random=0.3 seed=42 rv=CKR_DEVICE_MEMORY\n");
        let again = run("C_GenerateRandom  random=0.3 seed=42 rv=CKR_DEVICE_MEMORY # same\n");
        let other = run("C_GenerateRandom random=0.3 seed=43 rv=CKR_DEVICE_MEMORY\n");
        assert_eq!(first, again);
        assert_ne!(first, other);
        let faults = first.iter().filter(|f| **f).count();
        assert!((30..=90).contains(&faults), "{faults} of 200 at p = 0.3");
    }
}

shim_test! {
    /// `passthrough` with CKR_CRYPTOKI_ALREADY_INITIALIZED: the caller sees the error, yet the
    /// real module was initialised, so a caller that accepts the error can go on.
    fn initialize_already_initialized_passthrough(sandbox) {
        sandbox.set_rules("C_Initialize always rv=CKR_CRYPTOKI_ALREADY_INITIALIZED passthrough\n");
        let pkcs11 = Pkcs11::new(&sandbox.shim).unwrap();
        let result = pkcs11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK));
        assert!(is(&result, RvError::CryptokiAlreadyInitialized, Function::Initialize));
        // Without the real C_Initialize this would be CKR_CRYPTOKI_NOT_INITIALIZED.
        assert!(!pkcs11.get_slots_with_token().unwrap().is_empty());
        sandbox.init_token(&pkcs11);
        assert_eq!(sandbox.stats().function("C_Initialize"), Counts { calls: 1, faults: 1, delayed: 0 });
    }
}

shim_test! {
    /// A finalised module can be initialised again: the shim keeps no "initialised" state (a
    /// forked child's C_Initialize relies on that too).
    fn initialize_again_after_finalize(sandbox) {
        let pkcs11 = sandbox.pkcs11();
        let slot = sandbox.init_token(&pkcs11);
        let session = pkcs11.open_ro_session(slot).unwrap();
        std::mem::forget(session); // left open on purpose: C_Finalize closes it
        assert_eq!(sandbox.stats().sessions_open, 1);
        pkcs11.finalize().unwrap();
        assert_eq!(sandbox.stats().sessions_open, 0, "C_Finalize closed it");

        let pkcs11 = sandbox.pkcs11();
        let slot = sandbox.token_slot(&pkcs11);
        let session = sandbox.user_session(&pkcs11, slot);
        session.generate_random_vec(8).unwrap();
        assert_eq!(sandbox.stats().function("C_Initialize").calls, 2);
    }
}

shim_test! {
    /// With `passthrough`, C_CloseSession really closes the session though it reports an
    /// error; without it, the session stays open, and the stats show the leak.
    fn close_session_passthrough_really_closes(sandbox) {
        let pkcs11 = sandbox.pkcs11();
        let slot = sandbox.init_token(&pkcs11);

        sandbox.set_rules("C_CloseSession always rv=CKR_DEVICE_ERROR passthrough\n");
        let session = pkcs11.open_ro_session(slot).unwrap();
        assert!(is(&session.close(), RvError::DeviceError, Function::CloseSession));
        assert_eq!(sandbox.stats().sessions_open, 0);

        sandbox.set_rules("C_CloseSession always rv=CKR_DEVICE_ERROR\n");
        let session = pkcs11.open_ro_session(slot).unwrap();
        assert!(is(&session.close(), RvError::DeviceError, Function::CloseSession));
        assert_eq!(sandbox.stats().sessions_open, 1, "still open in SoftHSM");

        sandbox.clear_rules();
        pkcs11.finalize().unwrap();
        assert_eq!(sandbox.stats().sessions_open, 0, "C_Finalize closed it");
    }
}

shim_test! {
    /// Malformed lines are reported on stderr and skipped; the good lines still apply.
    fn malformed_lines_are_ignored(sandbox) {
        let pkcs11 = sandbox.pkcs11();
        let slot = sandbox.init_token(&pkcs11);
        sandbox.set_rules(
            "C_GetTokenInf always rv=CKR_DEVICE_ERROR\n\
             C_GetTokenInfo always rv=CKR_NO_SUCH_THING\n\
             C_GetTokenInfo sometimes rv=CKR_DEVICE_ERROR\n\
             C_GetTokenInfo always rv=CKR_TOKEN_NOT_PRESENT\n",
        );
        let result = pkcs11.get_token_info(slot);
        assert!(is(&result, RvError::TokenNotPresent, Function::GetTokenInfo), "{result:?}");
        let stats = sandbox.stats();
        assert_eq!((stats.rules, stats.rule_errors), (1, 3));
    }
}

/// No real module: every call is CKR_GENERAL_ERROR, nothing panics or hangs.
#[test]
fn missing_target_fails_cleanly() {
    let env = [("P11_FAULT_TARGET", "/nonexistent/libnothing.so")];
    isolated("missing_target_fails_cleanly", &env, |sandbox| {
        let pkcs11 = Pkcs11::new(&sandbox.shim).unwrap();
        let result = pkcs11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK));
        assert!(
            is(&result, RvError::GeneralError, Function::Initialize),
            "{result:?}"
        );
        assert!(is(
            &pkcs11.get_all_slots(),
            RvError::GeneralError,
            Function::GetSlotList
        ));
        assert!(is(
            &pkcs11.get_library_info(),
            RvError::GeneralError,
            Function::GetInfo
        ));
    });
}

/// The shim as its own target is refused (it would recurse), not a hang or a crash.
#[test]
fn shim_as_its_own_target_fails_cleanly() {
    let shim = p11_fault::harness::shim_path().expect("shim not built");
    let env = [("P11_FAULT_TARGET", shim.to_str().unwrap())];
    isolated("shim_as_its_own_target_fails_cleanly", &env, |sandbox| {
        let pkcs11 = Pkcs11::new(&sandbox.shim).unwrap();
        let result = pkcs11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK));
        assert!(
            is(&result, RvError::GeneralError, Function::Initialize),
            "{result:?}"
        );
    });
}
