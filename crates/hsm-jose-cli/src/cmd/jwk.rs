//! `jwk` and `jwks`: public keys to publish.

use hsm_jose::{HsmJwkSet, KidSource};
use jose_core::{Jwk, KeyBackend};
use serde_json::{Value, json};

use crate::cli::{JwkArgs, JwksArgs};
use crate::error::{self, CliError, Result};
use crate::io::{self, Spinner, Stdin};
use crate::keys::{self, Hsm, Role};

/// The public JWK of a key, with its `kid` and the `use` asked for.
fn public(key: &dyn KeyBackend, key_use: Option<&str>) -> Result<Value> {
    let jwk: &Jwk = key.public_jwk().ok_or_else(|| {
        CliError::setup(format!("{} has no public key to publish", key.describe()))
            .hint("a secret (AES or HMAC) key is shared, never published")
    })?;
    let jwk = match key_use {
        Some(u) => jwk.clone().with_use(u),
        None => jwk.clone(),
    };
    jwk.to_public_value().map_err(error::producing)
}

pub(crate) fn jwk(hsm: &Hsm<'_>, args: &JwkArgs) -> Result<()> {
    let key = keys::producer(
        hsm,
        args.key.key.as_deref(),
        args.key.jwk.as_deref(),
        args.kid.as_deref(),
        Stdin::Free,
    )?;
    let value = public(key.as_ref(), args.key_use.map(|u| u.as_str()))?;
    io::print_line(&value.to_string())
}

pub(crate) fn jwks(hsm: &Hsm<'_>, args: &JwksArgs) -> Result<()> {
    if args.all {
        let pool = hsm.pool()?;
        let set = {
            let _spinner =
                Spinner::start(format!("reading the keys of token {}", pool.token_label()));
            HsmJwkSet::from_token(pool, KidSource::Thumbprint).map_err(error::hsm_jose)?
        };
        return io::print_line(&set.jwks_json());
    }
    let mut values: Vec<Value> = Vec::new();
    let mut kids: Vec<String> = Vec::new();
    let stdin_users = args.jwk.iter().filter(|p| *p == "-").count();
    if stdin_users > 1 {
        return Err(CliError::usage(
            "only one --jwk can be `-` (standard input)",
        ));
    }
    for reference in &args.key {
        let key = keys::hsm_key(hsm, reference, None, Role::Produce)?;
        values.push(public(&key, None)?);
    }
    for path in &args.jwk {
        let key = keys::software_key(path, Stdin::Free, None)?;
        values.push(public(&key, None)?);
    }
    for value in &values {
        if let Some(kid) = value.get("kid").and_then(Value::as_str) {
            if kids.iter().any(|k| k == kid) {
                return Err(CliError::setup(format!(
                    "two keys have the kid `{kid}`: a verifier could not tell them apart"
                )));
            }
            kids.push(kid.to_owned());
        }
    }
    io::print_line(&json!({ "keys": values }).to_string())
}
