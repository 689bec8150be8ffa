//! Helpers for the async_* suites.

#![allow(dead_code)] // each suite uses a different part of this
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};

use hsm_jose::jose_core::jwk::KeyOp;
use hsm_jose::jose_core::{Algorithm, Jwk, JwsAlgorithm};
use hsm_jose::{HsmJwk, KeyBackend};

/// A key that records the name of every thread that signs with it.
#[derive(Debug)]
pub(crate) struct Where {
    key: Arc<HsmJwk>,
    threads: Mutex<Vec<String>>,
}

impl Where {
    pub(crate) fn new(key: Arc<HsmJwk>) -> Self {
        Where {
            key,
            threads: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn threads(&self) -> Vec<String> {
        self.threads.lock().unwrap().clone()
    }
}

impl KeyBackend for Where {
    fn kid(&self) -> Option<&str> {
        self.key.kid()
    }
    fn public_jwk(&self) -> Option<&Jwk> {
        self.key.public_jwk()
    }
    fn algorithms(&self) -> &[Algorithm] {
        self.key.algorithms()
    }
    fn permits(&self, op: KeyOp) -> bool {
        self.key.permits(op)
    }
    fn describe(&self) -> String {
        self.key.describe()
    }
    fn sign(&self, alg: JwsAlgorithm, input: &[u8]) -> hsm_jose::jose_core::Result<Vec<u8>> {
        let name = std::thread::current()
            .name()
            .unwrap_or("unnamed")
            .to_owned();
        self.threads.lock().unwrap().push(name);
        self.key.sign(alg, input)
    }
    fn verify(
        &self,
        alg: JwsAlgorithm,
        input: &[u8],
        sig: &[u8],
    ) -> hsm_jose::jose_core::Result<()> {
        self.key.verify(alg, input, sig)
    }
}

/// True when every recorded signature ran on an hsm-jose worker thread.
pub(crate) fn all_on_workers(threads: &[String]) -> bool {
    threads
        .iter()
        .all(|name| name.starts_with("hsm-jose-worker-"))
}
