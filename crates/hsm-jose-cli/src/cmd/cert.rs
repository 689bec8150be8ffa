//! `cert self-sign`, `cert csr`, `cert show`, `cert import`: certificates for token keys.

use hsm_jose::{HsmJwk, cert};

use crate::cli::{CertImportArgs, CertMakeArgs, CertShowArgs};
use crate::error::{self, CliError, Result};
use crate::io::{self, Stdin};
use crate::keys::Hsm;

fn load(hsm: &Hsm<'_>, reference: &str) -> Result<HsmJwk> {
    let (pool, selector) = hsm.locate(reference)?;
    HsmJwk::load(&pool, &selector).map_err(error::hsm_jose)
}

pub(crate) fn self_sign(hsm: &Hsm<'_>, args: &CertMakeArgs) -> Result<()> {
    if args.days == 0 {
        return Err(CliError::usage("--days must be at least 1"));
    }
    let params =
        cert::params(&args.subject, args.days).map_err(|e| CliError::usage(e.to_string()))?;
    let key = load(hsm, &args.key)?;
    let certificate = cert::self_signed(&key, &params).map_err(error::hsm_jose)?;
    if !args.no_store {
        cert::store(&key, certificate.der()).map_err(error::hsm_jose)?;
        eprintln!(
            "stored the certificate next to key `{}` in token {}",
            key.label(),
            key.pool().token_label()
        );
    }
    io::write_stdout(certificate.pem().as_bytes())
}

pub(crate) fn csr(hsm: &Hsm<'_>, args: &CertMakeArgs) -> Result<()> {
    let params =
        cert::params(&args.subject, args.days).map_err(|e| CliError::usage(e.to_string()))?;
    let key = load(hsm, &args.key)?;
    let request = cert::signing_request(&key, &params).map_err(error::hsm_jose)?;
    let pem = request
        .pem()
        .map_err(|_| CliError::setup("the request cannot be encoded as PEM"))?;
    io::write_stdout(pem.as_bytes())
}

pub(crate) fn show(hsm: &Hsm<'_>, args: &CertShowArgs) -> Result<()> {
    let key = load(hsm, &args.key)?;
    if args.jwk {
        let key = key.with_certificates().map_err(error::hsm_jose)?;
        let key = match key.thumbprint() {
            Some(kid) => key.with_kid(kid),
            None => key,
        };
        return io::print_line(&key.public_json().map_err(error::hsm_jose)?);
    }
    let chain = cert::chain(&key).map_err(error::hsm_jose)?;
    if chain.is_empty() {
        return Err(CliError::setup(format!(
            "key `{}` has no certificate in token {}",
            key.label(),
            key.pool().token_label()
        ))
        .hint("make one with `hsm-jose cert self-sign`"));
    }
    let mut text = String::new();
    for der in &chain {
        text.push_str(&cert::to_pem(der).map_err(error::hsm_jose)?);
    }
    io::write_stdout(text.as_bytes())
}

pub(crate) fn import(hsm: &Hsm<'_>, args: &CertImportArgs) -> Result<()> {
    let pem = io::read_small_file(&args.file, Stdin::Free, "certificate file")?;
    // Read before the token is opened: a wrong file fails fast.
    let chain = cert::read_pem_chain(&pem).map_err(|e| CliError::setup(e.to_string()))?;
    let key = load(hsm, &args.key)?;
    let stored = if args.replace {
        cert::replace_chain(&key, &chain)
    } else {
        cert::store_chain(&key, &chain).map(|()| 0)
    };
    let replaced = stored.map_err(|e| match e {
        hsm_jose::Error::Token(ref inner) if matches!(**inner, hsm_core::Error::Config { .. }) => {
            error::hsm_jose(e).hint(
                "the key has a certificate already: `hsm-jose cert show` prints it; \
                 --replace stores the new one in its place",
            )
        }
        other => error::hsm_jose(other),
    })?;
    let what = match chain.len() {
        1 => "1 certificate".to_owned(),
        n => format!("{n} certificates (the key's and its CA chain)"),
    };
    let replaced = match replaced {
        0 => String::new(),
        1 => ", replacing 1".to_owned(),
        n => format!(", replacing {n}"),
    };
    io::print_line(&format!(
        "stored {what} for key `{}` in token {}{replaced}",
        key.label(),
        key.pool().token_label()
    ))
}
