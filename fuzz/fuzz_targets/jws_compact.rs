//! Compact JWS: parse and verify any input with every RFC 7520 signing key and every
//! algorithm allowed. No panic; a token that verifies plainly also verifies, to the same
//! payload, under a verifier that accepts more (unencoded payloads, an understood `crit`).
#![no_main]

use hsm_jose_fuzz::{ALL_JWS, jws_keys, text};
use jose_core::jws;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(token) = text(data) else { return };
    let extended = jws::Verifier::new(ALL_JWS)
        .allow_unencoded_payload()
        .understand("exp");
    for key in jws_keys() {
        let plain = jws::verify_compact(token, key, ALL_JWS);
        let more = extended.verify(token, key);
        if let Ok(verified) = &plain {
            let again = more
                .as_ref()
                .expect("accepted plainly, refused with more allowed");
            assert_eq!(verified.payload(), again.payload());
            assert_eq!(verified.alg(), again.alg());
        }
    }
    // A detached payload: the token must carry none.
    let _ = jws::Verifier::new(ALL_JWS)
        .detached_payload(b"detached")
        .verify(token, &jws_keys()[0]);
});
