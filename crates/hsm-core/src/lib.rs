//! PKCS#11 for services: modules loaded once per process, a thread-safe session pool,
//! PKCS#11 URIs (RFC 7512), key lookup and hardened key generation, on [`cryptoki`].
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
