//! Library initialisation faults through p11-fault's shim (security checklist item 25):
//! `C_Initialize` answering CKR_CRYPTOKI_ALREADY_INITIALIZED, or failing.
//!
//! Every test runs in a child process of its own, whose shim follows the test's rules from
//! its first call, `C_Initialize` included (see `fault_support`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod fault_support;

use fault_support::{public_of, sign_and_verify};
use hsm_core::cryptoki::context::Function;
use hsm_core::cryptoki::error::RvError;
use hsm_core::{Error, Module, SessionPool};
use hsm_jose::HsmJwk;
use jose_core::JwsAlgorithm;

fault_test! {
    /// Item 25: another library in the process initialised the module first (the shim lets
    /// SoftHSM initialise, then answers CKR_CRYPTOKI_ALREADY_INITIALIZED): hsm-core adopts the
    /// instance, works with it, and never finalizes what it did not initialise, not even when
    /// every pool is gone.
    rules = "C_Initialize always rv=CKR_CRYPTOKI_ALREADY_INITIALIZED passthrough\n",
    fn already_initialised_is_adopted_and_never_finalized(sandbox) {
        let pool = sandbox.builder().max_sessions(2).build().unwrap();
        assert!(pool.module().is_adopted());
        let key = HsmJwk::from_label(&pool, "ed25519").unwrap();
        sign_and_verify(&key, &public_of(&key), JwsAlgorithm::EdDSA, b"adopted").unwrap();
        let second = sandbox.builder().build().unwrap();
        assert!(second.module().same_instance(pool.module()));
        drop((key, pool, second));

        let stats = sandbox.stats();
        assert_eq!(stats.function("C_Initialize").calls, 1);
        assert_eq!(stats.function("C_Finalize").calls, 0, "never finalized");
        assert_eq!(stats.sessions_open, 0);
        // Loading the module again is the same adopted instance, initialised once.
        assert!(Module::load(&sandbox.shim).unwrap().is_adopted());
        assert_eq!(sandbox.stats().function("C_Initialize").calls, 1);
    }
}

fault_test! {
    /// A module that claims to be initialised but is not (the shim answers
    /// CKR_CRYPTOKI_ALREADY_INITIALIZED without asking SoftHSM): the first real call fails, and
    /// the pool reports it typed, with the function and CKR_CRYPTOKI_NOT_INITIALIZED.
    rules = "C_Initialize always rv=CKR_CRYPTOKI_ALREADY_INITIALIZED\n",
    fn a_module_that_lies_about_initialisation_gives_a_typed_error(sandbox) {
        let error = sandbox.builder().build().unwrap_err();
        assert_eq!(error.rv(), Some(RvError::CryptokiNotInitialized), "{error:?}");
        assert!(error.function().is_some(), "{error:?}");
        assert_eq!(sandbox.stats().sessions_open, 0);
    }
}

fault_test! {
    /// A failing C_Initialize is `Error::ModuleLoad` naming the module and the return value;
    /// nothing is cached, so once the module initialises the same path loads.
    rules = "C_Initialize always rv=CKR_DEVICE_ERROR\n",
    fn a_failing_initialisation_is_reported_and_not_cached(sandbox) {
        let error = sandbox.builder().build().unwrap_err();
        assert!(matches!(error, Error::ModuleLoad { .. }), "{error:?}");
        let message = error.to_string();
        assert!(message.contains("C_Initialize") && message.contains("CKR_DEVICE_ERROR"), "{message}");
        assert!(message.contains(&sandbox.shim.display().to_string()), "{message}");
        // Still failing: still reported, never a panic.
        let again = sandbox.builder().build().unwrap_err();
        assert!(matches!(again, Error::ModuleLoad { .. }), "{again:?}");

        // The failed instance was dropped (and the library unloaded); once the module
        // initialises, the same path loads.
        sandbox.clear_rules();
        let pool = sandbox.builder().build().unwrap();
        assert!(!pool.module().is_adopted());
        let key = HsmJwk::from_label(&pool, "ec-p384").unwrap();
        sign_and_verify(&key, &public_of(&key), JwsAlgorithm::ES384, b"second try").unwrap();
        assert_eq!(sandbox.stats().function("C_Initialize").faults, 0);
    }
}

fault_test! {
    /// Issue 13 item 13: SoftHSM rereads its token files without locking, so while another
    /// process writes the token `C_GetTokenInfo` answers CKR_GENERAL_ERROR for a moment. A few
    /// such answers are read again (the pool is built); when the token stays unreadable the
    /// error is `Error::TokenBusy` ("may be busy"), not `TokenNotFound` ("check --token").
    fn token_information_is_read_again_while_the_token_is_busy(sandbox) {
        sandbox.set_rules(
            "C_GetTokenInfo nth=1 rv=CKR_GENERAL_ERROR\n\
             C_GetTokenInfo nth=2 rv=CKR_GENERAL_ERROR\n\
             C_GetTokenInfo nth=3 rv=CKR_GENERAL_ERROR\n",
        );
        let pool = sandbox.builder().build().unwrap();
        assert_eq!(sandbox.stats().function("C_GetTokenInfo").faults, 3);
        drop(pool);

        sandbox.set_rules("C_GetTokenInfo always rv=CKR_GENERAL_ERROR\n");
        let started = std::time::Instant::now();
        let error = sandbox.builder().build().unwrap_err();
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "bounded");
        assert!(
            matches!(
                error,
                Error::TokenBusy {
                    function: Function::GetTokenInfo,
                    rv: RvError::GeneralError,
                    attempts: hsm_core::module::READ_ATTEMPTS,
                }
            ),
            "{error:?}"
        );
        assert!(error.to_string().contains("may be busy"), "{error}");
        sandbox.clear_rules();
        drop(sandbox.builder().build().unwrap());
        assert_eq!(sandbox.sessions_open(), 0);
    }
}

fault_test! {
    /// Issue 12: openCryptoki's soft token sets CKF_CLOCK_ON_TOKEN with a `utcTime` of blanks,
    /// which cryptoki cannot parse, so its whole `C_GetTokenInfo` fails. Such a slot is listed
    /// as unreadable with the reason and hides no other token; a label search names it; and it
    /// can still be used when selected by slot id (limits unknown, PIN flags unread).
    fn a_token_whose_information_does_not_parse_hides_no_other(sandbox) {
        let module = Module::load(&sandbox.shim).unwrap();
        let all = module.tokens().unwrap();
        let mine = module.find_token(&sandbox.token.label).unwrap();
        // Only the first slot's answer is garbled: every other token is still listed.
        sandbox.set_rules("C_GetTokenInfo nth=1 garble_utc_time\n");
        let scan = module.scan().unwrap();
        assert_eq!(scan.unreadable.len(), 1, "{scan:?}");
        assert!(scan.unreadable[0].busy.is_none());
        assert!(scan.unreadable[0].reason.contains("unparsable"), "{scan:?}");
        assert_eq!(scan.tokens.len() + 1, all.len());

        // Every slot garbled: by label the token is not found, and the error names the
        // unreadable slots; by slot id the pool works.
        sandbox.set_rules("C_GetTokenInfo always garble_utc_time\n");
        let error = sandbox.builder().build().unwrap_err();
        assert!(
            matches!(&error, Error::TokenNotFound { available, unreadable, .. }
                if available.is_empty() && unreadable.len() == all.len()),
            "{error:?}"
        );
        assert!(error.to_string().contains("select by slot-id"), "{error}");
        let pool = SessionPool::builder()
            .module(&sandbox.shim)
            .slot_id(mine.id())
            .pin(sandbox.token.pin.clone())
            .build()
            .unwrap();
        assert_eq!(pool.token_label(), format!("slot {}", mine.id()));
        let key = HsmJwk::from_label(&pool, "ec-p256").unwrap();
        sign_and_verify(&key, &public_of(&key), JwsAlgorithm::ES256, b"clockless").unwrap();
        sandbox.clear_rules();
        drop((key, pool));
        assert_eq!(sandbox.sessions_open(), 0);
    }
}
