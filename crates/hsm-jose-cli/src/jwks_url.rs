//! `jwt verify --jwks-url URL`: an issuer's JWK Set fetched once with jose-jwks (over rustls;
//! plain http only with --allow-http), parsed leniently: keys this verifier cannot use are
//! skipped, and each is reported on standard error.

use jose_core::KeySet;
use jose_jwks::JwksClient;

use crate::error::{CliError, Result};

/// Fetches the set at `url` and returns its usable keys.
pub(crate) fn fetch(url: &str, allow_http: bool) -> Result<KeySet> {
    let client = JwksClient::builder(url)
        .allow_http(allow_http)
        .build()
        .map_err(|e| {
            let e = CliError::usage(format!("--jwks-url: {e}"));
            if url.starts_with("http:") && !allow_http {
                e.hint("--allow-http accepts a plain http URL (an issuer on loopback, tests)")
            } else {
                e
            }
        })?;
    // One request, on this thread: a current-thread runtime for the client's I/O and timers.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::setup(format!("cannot start the HTTP client: {e}")))?;
    let keys = runtime
        .block_on(client.keys())
        .map_err(|e| CliError::setup(format!("--jwks-url: {e}")))?;
    for skipped in client.status().skipped {
        eprintln!("hsm-jose: --jwks-url: skipped {skipped}");
    }
    Ok((*keys).clone())
}
