//! Compact JWE: parse and decrypt any input with every RFC 7520 / RFC 8037 decryption key and
//! every algorithm allowed. No panic, no unbounded allocation; decryption is deterministic.
#![no_main]

use hsm_jose_fuzz::{ALL_ENC, ALL_KM, jwe_keys, text};
use jose_core::jwe;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(token) = text(data) else { return };
    for key in jwe_keys() {
        if let Ok(decrypted) = jwe::decrypt_compact(token, key, ALL_KM, ALL_ENC) {
            let again = jwe::decrypt_compact(token, key, ALL_KM, ALL_ENC).expect("decrypted once");
            assert_eq!(decrypted.plaintext(), again.plaintext());
        }
    }
});
