//! `keys import`: a private key from a file into the token.

use std::io::Read as _;
use std::path::Path;

use hsm_core::key::{
    KeyUsage, PrivateKeyMaterial, UnwrapMechanism, WrappedKeyKind, import_key_pair, unwrap_key_pair,
};
use hsm_core::{EcCurve, EdCurve, KeyClass, KeySelector, find_key};
use hsm_jose::{HsmJwk, import};
use jose_core::Jwk;
use zeroize::Zeroizing;

use super::keys::{usage_names, usage_of};
use crate::cli::{ImportArgs, ImportFormat, WrapMechanism, WrappedType};
use crate::error::{self, CliError, Result};
use crate::io;
use crate::keys::{Hsm, hex, parse_hex};
use crate::publish::public_jwk;

/// Key files are small; anything larger is not a key.
const MAX_KEY_FILE: u64 = 64 * 1024;

/// Reads a key file into memory that is wiped when dropped.
fn read_key_file(path: &Path, what: &str) -> Result<Zeroizing<Vec<u8>>> {
    let mut bytes = Zeroizing::new(Vec::new());
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_KEY_FILE + 1).read_to_end(&mut bytes))
        .map_err(|e| error::io(format!("cannot read the {what} {}", path.display()), &e))?;
    if bytes.len() as u64 > MAX_KEY_FILE {
        return Err(CliError::setup(format!(
            "the {what} {} is larger than {MAX_KEY_FILE} bytes",
            path.display()
        )));
    }
    Ok(bytes)
}

fn text(bytes: &[u8], path: &Path) -> Result<Zeroizing<String>> {
    std::str::from_utf8(bytes)
        .map(|t| Zeroizing::new(t.to_owned()))
        .map_err(|_| CliError::setup(format!("{} is not UTF-8 text", path.display())))
}

fn clear_key(bytes: &[u8], format: ImportFormat, path: &Path) -> Result<PrivateKeyMaterial> {
    match format {
        ImportFormat::Pem => import::private_key_from_pem(&text(bytes, path)?),
        ImportFormat::Pkcs8 => import::private_key_from_pkcs8_der(bytes),
        ImportFormat::Jwk => {
            let json = text(bytes, path)?;
            let jwk = Jwk::from_json(&json).map_err(error::producing)?;
            import::private_key_from_jwk(&jwk)
        }
    }
    .map_err(error::hsm_jose)
}

fn wrapped_kind(t: WrappedType) -> WrappedKeyKind {
    match t {
        WrappedType::Rsa => WrappedKeyKind::Rsa,
        WrappedType::EcP256 => WrappedKeyKind::Ec(EcCurve::P256),
        WrappedType::EcP384 => WrappedKeyKind::Ec(EcCurve::P384),
        WrappedType::EcP521 => WrappedKeyKind::Ec(EcCurve::P521),
        WrappedType::Ed25519 => WrappedKeyKind::Edwards(EdCurve::Ed25519),
    }
}

pub(crate) fn import(hsm: &Hsm<'_>, args: &ImportArgs) -> Result<()> {
    if args.label.is_empty() {
        return Err(CliError::usage("--label must not be empty"));
    }
    let usage = if args.usage.is_empty() {
        KeyUsage::SIGN
    } else {
        usage_of(&args.usage)
    };
    let id = match &args.id {
        Some(text) => parse_hex(text).map_err(|why| {
            CliError::usage(format!("--id {text:?}: {why}")).hint("an id is hex digits: 0a01")
        })?,
        None => {
            let mut id = vec![0u8; 8];
            getrandom::fill(&mut id)
                .map_err(|e| CliError::setup(format!("the random number generator failed: {e}")))?;
            id
        }
    };
    let bytes = read_key_file(&args.file, "key file")?;
    let format = args.format.unwrap_or_else(|| {
        let start = bytes.iter().find(|b| !b.is_ascii_whitespace());
        match start {
            Some(b'-') => ImportFormat::Pem,
            Some(b'{') => ImportFormat::Jwk,
            _ => ImportFormat::Pkcs8,
        }
    });
    let pool = hsm.pool()?;
    let info = match (&args.wrapped_by, args.wrapped_type) {
        (None, _) => {
            let key = clear_key(&bytes, format, &args.file)?;
            let session = pool.session_rw().map_err(|e| error::hsm(&e))?;
            import_key_pair(&session, &key, &args.label, &id, usage).map_err(|e| error::hsm(&e))?
        }
        (Some(kek), Some(kind)) => {
            if format != ImportFormat::Pkcs8 {
                return Err(CliError::usage(
                    "--wrapped-by takes a wrapped PKCS#8 key: add --format pkcs8",
                ));
            }
            let public = match &args.public_key {
                Some(path) => {
                    let json = read_key_file(path, "public key")?;
                    let jwk = Jwk::from_json(&text(&json, path)?).map_err(error::producing)?;
                    Some(import::public_key_from_jwk(&jwk).map_err(error::hsm_jose)?)
                }
                None => None,
            };
            let mechanism = match args.mechanism {
                WrapMechanism::AesKeyWrapPad => UnwrapMechanism::AesKeyWrapPad,
                WrapMechanism::AesKeyWrap => UnwrapMechanism::AesKeyWrap,
            };
            let session = pool.session_rw().map_err(|e| error::hsm(&e))?;
            let kek = find_key(
                &session,
                &KeySelector::label(kek.as_str()).with_class(KeyClass::Secret),
            )
            .map_err(|e| error::hsm(&e))?;
            let Some(unwrapping_key) = kek.secret else {
                return Err(CliError::setup("--wrapped-by names no secret key"));
            };
            unwrap_key_pair(
                &session,
                unwrapping_key,
                mechanism,
                &bytes,
                wrapped_kind(kind),
                public.as_ref(),
                &args.label,
                &id,
                usage,
            )
            .map_err(|e| error::hsm(&e))?
        }
        (Some(_), None) => return Err(CliError::usage("--wrapped-by needs --type")),
    };
    drop(bytes);
    let selector = KeySelector::label_and_id(info.label.clone(), info.id.clone());
    let key = HsmJwk::load(pool, &selector).map_err(error::hsm_jose)?;
    let key = match key.thumbprint() {
        Some(kid) => key.with_kid(kid),
        None => key,
    };
    eprintln!(
        "imported key `{}` (id {}) into token {}: usage {}; sensitive, not extractable",
        info.label,
        hex(&info.id),
        pool.token_label(),
        usage_names(usage)
    );
    io::print_line(&public_jwk(&key, None)?.to_string())
}
