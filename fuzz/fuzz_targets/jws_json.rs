//! JSON JWS (general and flattened): parse and verify any input with every RFC 7520 signing
//! key, alone and as key sets (one per kind) selected by `kid`. No panic; what verifies through the plain
//! entry point verifies through the detecting `Verifier` to the same payload.
#![no_main]

use hsm_jose_fuzz::{ALL_JWS, jws_key_sets, jws_keys, text};
use jose_core::jws;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(token) = text(data) else { return };
    let verifier = jws::Verifier::new(ALL_JWS).allow_unencoded_payload();
    for key in jws_keys() {
        if let Ok(verified) = jws::verify_json(token, key, ALL_JWS) {
            let again = verifier
                .verify(token, key)
                .expect("verify_json accepted it");
            assert_eq!(verified.payload(), again.payload());
        }
    }
    for set in jws_key_sets() {
        let _ = verifier.verify_with(token, set);
    }
});
