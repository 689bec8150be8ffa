//! JSON JWE (general and flattened, several recipients): parse and decrypt any input with
//! every decryption key, alone and as a key set. No panic; what one key opens, the key set
//! opens to the same plaintext.
#![no_main]

use hsm_jose_fuzz::{ALL_ENC, ALL_KM, jwe_key_set, jwe_keys, text};
use jose_core::jwe;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(token) = text(data) else { return };
    let decrypter = jwe::Decrypter::new(ALL_KM, ALL_ENC);
    for key in jwe_keys() {
        let _ = jwe::decrypt_json(token, key, ALL_KM, ALL_ENC);
    }
    let _ = decrypter.decrypt_with(token, jwe_key_set());
    let _ = decrypter.decrypt(token, &jwe_keys()[0]);
});
