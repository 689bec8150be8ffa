//! `jwt sign|verify|encrypt|decrypt|nest|unnest`.

use std::time::{SystemTime, UNIX_EPOCH};

use jose_core::jwt::{self, Claims, DEFAULT_LEEWAY, Validation};

use crate::cli::KeySource;
use crate::cli::{
    ChecksArgs, ClaimsArgs, JwtDecryptArgs, JwtEncryptArgs, JwtNestArgs, JwtSignArgs,
    JwtUnnestArgs, JwtVerifyArgs,
};
use crate::cmd::jwe::allowed_names;
use crate::error::{self, CliError, Result};
use crate::io::{self, Stdin};
use crate::keys::{self, Consumer, Hsm, Purpose};

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The claims: `--claims`, then the options over it, then `iat` (now) unless given. An `exp`
/// is required (from --exp-in or --claims) unless --no-exp says that the token never expires.
fn claims(args: &ClaimsArgs) -> Result<Claims> {
    let mut claims = match &args.claims {
        Some(value) => {
            let text = io::json_argument(value, "--claims")?;
            Claims::from_json(&text).map_err(|e| CliError::usage(format!("--claims: {e}")))?
        }
        None => Claims::new(),
    };
    let now = now();
    if let Some(iss) = &args.iss {
        claims.set("iss", iss.as_str());
    }
    if let Some(sub) = &args.sub {
        claims.set("sub", sub.as_str());
    }
    match args.aud.as_slice() {
        [] => {}
        [one] => {
            claims.set("aud", one.as_str());
        }
        many => {
            claims.set("aud", many.to_vec());
        }
    }
    match (args.exp_in, args.no_exp, claims.contains("exp")) {
        (Some(secs), _, _) => {
            let exp = now
                .checked_add(secs)
                .ok_or_else(|| CliError::usage(format!("--exp-in={secs} is out of range")))?;
            claims.set("exp", exp);
        }
        (None, true, true) => {
            return Err(CliError::usage(
                "--no-exp contradicts the `exp` in --claims",
            ));
        }
        (None, false, false) => {
            return Err(CliError::usage(
                "a JWT without `exp` never expires: give --exp-in SECS (or an `exp` in --claims)",
            )
            .hint("--no-exp issues a token that never expires, if that is intended"));
        }
        (None, true, false) | (None, false, true) => {}
    }
    if !claims.contains("iat") {
        claims.set("iat", now);
    }
    // Registered claims of the wrong type (`"exp":"never"`) are refused here, not at signing.
    Claims::from_map(claims.into_map()).map_err(|e| CliError::usage(format!("--claims: {e}")))
}

/// The claim checks.
fn validation(args: &ChecksArgs) -> Validation {
    let mut v = Validation::new().leeway(args.leeway.unwrap_or(DEFAULT_LEEWAY));
    for iss in &args.iss {
        v = v.issuer(iss.as_str());
    }
    for aud in &args.aud {
        v = v.audience(aud.as_str());
    }
    if let Some(sub) = &args.sub {
        v = v.subject(sub.as_str());
    }
    if args.exp_optional {
        v = v.required_claims(&[]);
    }
    v
}

fn print_claims(jwt: &jwt::Jwt) -> Result<()> {
    io::print_line(&jwt.claims().to_json())
}

pub(crate) fn sign(hsm: &Hsm<'_>, args: &JwtSignArgs) -> Result<()> {
    let claims = claims(&args.claims)?;
    let key = args.key.producer(hsm, Stdin::Free, Purpose::Sign)?;
    let token = jwt::sign(&claims, key.as_ref(), args.alg, None).map_err(error::producing)?;
    io::print_line(&token)
}

pub(crate) fn verify(hsm: &Hsm<'_>, args: &JwtVerifyArgs) -> Result<()> {
    let consumer = match args.keys.source() {
        KeySource::JwksUrl(url) => Consumer::Set(crate::jwks_url::fetch(url, args.allow_http)?),
        _ if args.allow_http => {
            return Err(CliError::usage(
                "--allow-http goes with --jwks-url (it allows a plain http JWK Set URL)",
            ));
        }
        _ => args.keys.consumer(hsm, Purpose::Verify)?,
    };
    let algs = consumer.jws_algorithms(&args.algs.alg)?;
    let token = io::read_stdin_token("JWT")?;
    let v = validation(&args.checks).jws_algorithms(&algs);
    let jwt = consumer
        .apply(
            |key| v.verify(&token, key),
            |keys| v.verify_with(&token, keys),
        )
        .map_err(|e| error::consuming_allowed(e, &algs, "--alg"))?;
    print_claims(&jwt)
}

pub(crate) fn encrypt(hsm: &Hsm<'_>, args: &JwtEncryptArgs) -> Result<()> {
    let claims = claims(&args.claims)?;
    let key = args.key.producer(hsm, Stdin::Free, Purpose::Encrypt)?;
    let token = jwt::encrypt(&claims, key.as_ref(), args.algs.alg, args.algs.enc, None)
        .map_err(error::producing)?;
    io::print_line(&token)
}

pub(crate) fn decrypt(hsm: &Hsm<'_>, args: &JwtDecryptArgs) -> Result<()> {
    let consumer = args.keys.consumer(hsm, Purpose::Decrypt)?;
    let algs = consumer.jwe_algorithms(&args.algs.alg)?;
    let encs = keys::content_encryptions(&args.algs.enc);
    let token = io::read_stdin_token("JWT")?;
    let v = validation(&args.checks).jwe_algorithms(&algs, &encs);
    let jwt = consumer
        .apply(
            |key| v.decrypt(&token, key),
            |keys| v.decrypt_with(&token, keys),
        )
        .map_err(|e| {
            error::consuming_allowed(e, &allowed_names(&algs, &encs), "--alg and --enc")
        })?;
    print_claims(&jwt)
}

pub(crate) fn nest(hsm: &Hsm<'_>, args: &JwtNestArgs) -> Result<()> {
    let from_stdin = |source: &KeySource| matches!(source, KeySource::Jwk(path) if path == "-");
    if from_stdin(args.signer.source()) && from_stdin(args.recipient.source()) {
        return Err(CliError::usage(
            "only one of --sign-jwk and --encrypt-jwk can be `-` (standard input)",
        ));
    }
    let claims = claims(&args.claims)?;
    let signer = args.signer.producer(hsm, Stdin::Free, Purpose::Sign)?;
    let recipient = args
        .recipient
        .producer(hsm, Stdin::Free, Purpose::Encrypt)?;
    let token = jwt::sign_then_encrypt(
        &claims,
        signer.as_ref(),
        args.sign_alg,
        recipient.as_ref(),
        args.key_alg,
        args.enc,
    )
    .map_err(error::producing)?;
    io::print_line(&token)
}

pub(crate) fn unnest(hsm: &Hsm<'_>, args: &JwtUnnestArgs) -> Result<()> {
    let decrypter = args.decrypter.consumer(hsm, Purpose::Decrypt)?;
    let verifier = args.verifier.consumer(hsm, Purpose::Verify)?;
    let key_algs = decrypter.jwe_algorithms(&args.key_alg)?;
    let encs = keys::content_encryptions(&args.enc);
    let sign_algs = verifier.jws_algorithms(&args.sign_alg)?;
    let token = io::read_stdin_token("nested JWT")?;
    let v = validation(&args.checks)
        .jwe_algorithms(&key_algs, &encs)
        .jws_algorithms(&sign_algs);
    let jwt = match (&decrypter, &verifier) {
        (Consumer::One(d), Consumer::One(s)) => {
            v.decrypt_and_verify(&token, d.as_ref(), s.as_ref())
        }
        _ => v.decrypt_and_verify_with(&token, &decrypter, &verifier),
    };
    let mut allowed = allowed_names(&key_algs, &encs);
    allowed.extend(sign_algs.iter().map(ToString::to_string));
    let jwt =
        jwt.map_err(|e| error::consuming_allowed(e, &allowed, "--key-alg, --enc and --sign-alg"))?;
    print_claims(&jwt)
}
