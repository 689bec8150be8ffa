//! Library initialisation faults through p11-fault's shim (security checklist item 25):
//! `C_Initialize` answering CKR_CRYPTOKI_ALREADY_INITIALIZED, or failing.
//!
//! Every test runs in a child process of its own, whose shim follows the test's rules from
//! its first call, `C_Initialize` included (see `fault_support`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod fault_support;

use fault_support::{public_of, sign_and_verify};
use hsm_core::cryptoki::error::RvError;
use hsm_core::{Error, Module};
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
