//! `jwk` and `jwks`: public keys to publish.

use hsm_jose::{HsmJwkSet, KidSource};
use serde_json::{Value, json};

use crate::cli::{JwkArgs, JwksArgs};
use crate::error::{self, CliError, Result};
use crate::io::{self, Spinner, Stdin};
use crate::keys::{self, Hsm, Purpose};
use crate::publish::{public_jwk, public_jwk_of_token_key};

pub(crate) fn jwk(hsm: &Hsm<'_>, args: &JwkArgs) -> Result<()> {
    let key = args.key.producer(hsm, Stdin::Free, Purpose::Publish)?;
    let value = public_jwk(key.as_ref(), args.key_use.map(|u| u.as_str()))?;
    io::print_line(&value.to_string())
}

pub(crate) fn jwks(hsm: &Hsm<'_>, args: &JwksArgs) -> Result<()> {
    if args.all {
        let pool = hsm.pool()?;
        let set = {
            let _spinner =
                Spinner::start(format!("reading the keys of token {}", pool.token_label()));
            let set =
                HsmJwkSet::from_token(pool, KidSource::Thumbprint).map_err(error::hsm_jose)?;
            if args.x5c {
                set.with_certificates().map_err(error::hsm_jose)?
            } else {
                set
            }
        };
        let values = set
            .iter()
            .map(public_jwk_of_token_key)
            .collect::<Result<Vec<Value>>>()?;
        return io::print_line(&json!({ "keys": values }).to_string());
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
        let mut key = keys::hsm_key(hsm, reference, None, Purpose::Publish)?;
        if args.x5c {
            key = key.with_certificates().map_err(error::hsm_jose)?;
        }
        values.push(public_jwk(&key, None)?);
    }
    for path in &args.jwk {
        let key = keys::software_key(path, Stdin::Free, None)?;
        values.push(public_jwk(&key, None)?);
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
