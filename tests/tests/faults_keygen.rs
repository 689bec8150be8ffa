//! Key generation on tokens that are not SoftHSM, through p11-fault's shim (issue 12):
//!
//! - a token that refuses the hardened template's explicit `false` usage flags (tpm2-pkcs11
//!   answers `CKR_GENERAL_ERROR`, "attr mismatch") gets exactly one more attempt without them;
//!   the key that comes out is read back and kept only if it is as hardened as asked, and
//!   otherwise destroyed with `Error::WeakGeneratedKey`;
//! - a token without the generation mechanism or without `C_GenerateKey` gives
//!   `Error::CannotGenerate` naming what is missing, after one call.
//!
//! The shim fails the first generation call as such a token would; SoftHSM then generates from
//! the relaxed template with its own defaults for the flags left out (on SoftHSM 2.6,
//! `CKA_DECRYPT` and `CKA_ENCRYPT` default to true), which is exactly the "token sets flags
//! itself" case the read-back check exists for.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod fault_support;

use hsm_core::cryptoki::error::RvError;
use hsm_core::cryptoki::object::{Attribute, AttributeType};
use hsm_core::{
    Capabilities, EcCurve, Error, KeyKind, KeySelector, KeySpec, KeyUsage, SecretSpec, delete_key,
    find_key, generate_key_pair, generate_secret_key,
};

fault_test! {
    /// The first `C_GenerateKeyPair` fails as on tpm2-pkcs11; the retry without the explicit
    /// `false` flags such tokens compute makes a signing key that can also decrypt (SoftHSM's
    /// default): it is refused and destroyed, and nothing is left on the token.
    rules = "C_GenerateKeyPair nth=1 rv=CKR_GENERAL_ERROR\n",
    fn a_key_that_comes_out_wider_than_asked_is_refused_and_destroyed(sandbox) {
        let pool = sandbox.builder().max_sessions(2).build().unwrap();
        let session = pool.session_rw().unwrap();
        let error = generate_key_pair(
            &session,
            KeySpec::Rsa(2048),
            "weak-rsa",
            &[0xf0, 1],
            KeyUsage::SIGN,
        )
        .unwrap_err();
        println!("{error}");
        assert!(
            matches!(&error, Error::WeakGeneratedKey { key, weaknesses, deleted: true }
                if key.contains("weak-rsa") && weaknesses.contains("can also decrypt")),
            "{error:?}"
        );
        let stats = sandbox.stats();
        assert_eq!(stats.function("C_GenerateKeyPair").calls, 2, "one retry");
        assert_eq!(stats.function("C_DestroyObject").calls, 2, "both objects destroyed");
        assert!(
            matches!(
                find_key(&session, &KeySelector::label("weak-rsa")),
                Err(Error::KeyNotFound { .. })
            ),
            "nothing left behind"
        );
    }
}

fault_test! {
    /// The same retry for a key whose every usage flag is asked for: nothing is left to the
    /// token's defaults that widens it, so the key is kept, hardened.
    rules = "C_GenerateKeyPair nth=1 rv=CKR_TEMPLATE_INCONSISTENT\n",
    fn a_retried_key_that_comes_out_as_asked_is_kept(sandbox) {
        let pool = sandbox.builder().max_sessions(2).build().unwrap();
        let session = pool.session_rw().unwrap();
        let info = generate_key_pair(
            &session,
            KeySpec::Rsa(2048),
            "retried-rsa",
            &[0xf0, 2],
            KeyUsage::SIGN | KeyUsage::ENCRYPT | KeyUsage::WRAP,
        )
        .unwrap();
        assert_eq!(sandbox.stats().function("C_GenerateKeyPair").calls, 2);
        assert_eq!(info.kind, KeyKind::Rsa { bits: 2048 });
        assert_eq!(
            info.capabilities,
            Capabilities {
                sign: true,
                verify: true,
                encrypt: true,
                decrypt: true,
                wrap: true,
                unwrap: true,
                derive: false,
            }
        );
        let attributes = session
            .get_attributes(
                info.private.unwrap(),
                &[
                    AttributeType::Private,
                    AttributeType::Sensitive,
                    AttributeType::Extractable,
                ],
            )
            .unwrap();
        assert_eq!(
            attributes,
            vec![
                Attribute::Private(true),
                Attribute::Sensitive(true),
                Attribute::Extractable(false)
            ]
        );
        assert!(!info.is_extractable());
        delete_key(&session, &info).unwrap();
    }
}

fault_test! {
    /// A token that refuses every attempt: one retry, then the first attempt's error.
    rules = "C_GenerateKeyPair always rv=CKR_GENERAL_ERROR\n",
    fn the_retry_happens_once(sandbox) {
        let pool = sandbox.builder().max_sessions(2).build().unwrap();
        let session = pool.session_rw().unwrap();
        let error = generate_key_pair(
            &session,
            KeySpec::Ec(EcCurve::P256),
            "never",
            &[0xf0, 3],
            KeyUsage::SIGN,
        )
        .unwrap_err();
        assert!(
            matches!(error, Error::Pkcs11 { rv: RvError::GeneralError, .. }),
            "{error:?}"
        );
        assert_eq!(sandbox.stats().function("C_GenerateKeyPair").calls, 2);
    }
}

fault_test! {
    /// tpm2-pkcs11 has no `C_GenerateKey`; other tokens lack a generation mechanism. Each is
    /// `Error::CannotGenerate` naming what is missing, after one call (no retry).
    rules = "C_GenerateKeyPair always rv=CKR_MECHANISM_INVALID\n\
             C_GenerateKey always rv=CKR_FUNCTION_NOT_SUPPORTED\n",
    fn missing_generation_is_a_typed_error_naming_what_is_missing(sandbox) {
        let pool = sandbox.builder().max_sessions(2).build().unwrap();
        // SoftHSM's mechanism list has them: the check before the call passes.
        for spec in [KeySpec::Rsa(2048), KeySpec::Ec(EcCurve::P384), KeySpec::Ed25519] {
            assert!(matches!(spec.check_supported(pool.mechanisms()), Ok(())), "{spec:?}");
        }
        assert!(matches!(SecretSpec::Hmac(32).check_supported(pool.mechanisms()), Ok(())));
        let session = pool.session_rw().unwrap();
        let error = generate_key_pair(
            &session,
            KeySpec::Ec(EcCurve::P256),
            "no-ec",
            &[0xf0, 4],
            KeyUsage::SIGN,
        )
        .unwrap_err();
        println!("{error}");
        assert!(
            matches!(&error, Error::CannotGenerate { what, missing }
                if what == "EC P-256 keys" && missing.starts_with("no CKM_EC_KEY_PAIR_GEN")),
            "{error:?}"
        );
        let error = generate_secret_key(
            &session,
            SecretSpec::Aes(32),
            "no-aes",
            &[0xf0, 5],
            KeyUsage::ENCRYPT,
        )
        .unwrap_err();
        println!("{error}");
        assert!(
            matches!(&error, Error::CannotGenerate { what, missing }
                if what == "AES keys" && missing.starts_with("C_GenerateKey is not supported")),
            "{error:?}"
        );
        let stats = sandbox.stats();
        assert_eq!(stats.function("C_GenerateKeyPair").calls, 1);
        assert_eq!(stats.function("C_GenerateKey").calls, 1);
    }
}
