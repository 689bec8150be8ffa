//! JOSE with private keys that never leave a PKCS#11 HSM.
#![forbid(unsafe_code)]
