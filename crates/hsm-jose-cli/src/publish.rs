//! Public JWKs as the command line prints them: the public members only, and `key_ops` limited
//! to what a holder of the public key does with it.
//!
//! A key's `key_ops` come from the private side: for `jwks --all`, an HSM key's flags
//! (`CKA_SIGN`, `CKA_DECRYPT`, `CKA_UNWRAP`, `CKA_DERIVE`, and whatever else a tool set on it);
//! for a JWK file, its own `key_ops`. Published as they are, they would tell a verifier or a
//! sender that the public key signs or decrypts. Each operation is replaced by its public
//! counterpart (`sign` by `verify`, `decrypt` by `encrypt`, `unwrapKey` by `wrapKey`,
//! `deriveKey` by `deriveBits`), and only those a public key of that type performs are kept:
//!
//! | key type | public operations |
//! |---|---|
//! | RSA | `verify`, `encrypt`, `wrapKey` (RSA-OAEP encrypts the content key) |
//! | EC (P-256, P-384, P-521) | `verify`, `deriveBits` (a sender's ECDH-ES) |
//! | OKP Ed25519, Ed448 | `verify` |
//! | OKP X25519 | `deriveBits` |
//!
//! `deriveBits`, not `deriveKey`: the public key takes part in the sender's key agreement, and
//! jose-core accepts either for ECDH-ES, so the narrower one is published.

use hsm_core::{Capabilities, KeyInfo};
use hsm_jose::HsmJwk;
use jose_core::jwk::{KeyMaterial, KeyOp, OkpCurve};
use jose_core::{Jwk, KeyBackend};
use serde_json::Value;

use crate::error::{self, CliError, Result};

/// The public JWK of `key` as printed: its `kid`, the `use` given (else its own), and only
/// public `key_ops` (of that `use`, when there is one).
pub(crate) fn public_jwk(key: &dyn KeyBackend, key_use: Option<&str>) -> Result<Value> {
    let jwk = public_part(key)?;
    let mut value = jwk.to_public_value().map_err(error::producing)?;
    if let Some(u) = key_use {
        value["use"] = Value::from(u);
    }
    if let Some(ops) = jwk.key_ops() {
        // Under a `use`, only the operations of that use (RFC 7517 section 4.3).
        let key_use = value.get("use").and_then(Value::as_str);
        let ops: Vec<&str> = public_ops(jwk.material(), ops)
            .into_iter()
            .filter(|op| key_use.is_none_or(|u| op.key_use() == u))
            .map(KeyOp::as_str)
            .collect();
        value["key_ops"] = Value::from(ops);
    }
    Ok(value)
}

/// The public JWK of an HSM key as `jwks --all` publishes it: `key_ops` are the public
/// counterparts of what the token lets the key do (its `CKA_SIGN`, `CKA_DECRYPT`, ... flags),
/// and `use` is `sig` or `enc` when they all serve one of them.
pub(crate) fn public_jwk_of_token_key(key: &HsmJwk) -> Result<Value> {
    let jwk = public_part(key)?;
    let mut value = jwk.to_public_value().map_err(error::producing)?;
    let granted: Vec<String> = flags(key.info())
        .iter()
        .map(|op| op.as_str().to_owned())
        .collect();
    let ops = public_ops(jwk.material(), &granted);
    let uses: Vec<&str> = ops.iter().map(|op| op.key_use()).collect();
    match uses.first() {
        Some(first) if uses.iter().all(|u| u == first) => value["use"] = Value::from(*first),
        _ => {
            if let Some(members) = value.as_object_mut() {
                members.remove("use");
            }
        }
    }
    value["key_ops"] = Value::from(ops.iter().map(|op| op.as_str()).collect::<Vec<_>>());
    Ok(value)
}

fn public_part(key: &dyn KeyBackend) -> Result<&Jwk> {
    key.public_jwk().ok_or_else(|| {
        CliError::setup(format!("{} has no public key to publish", key.describe()))
            .hint("a secret (AES or HMAC) key is shared, never published")
    })
}

/// The operations a key's PKCS#11 flags allow, by their JWK names: those of the private
/// object, which completes what a holder of the public key starts (a verifier checks what it
/// signs, a sender encrypts what it decrypts); a lone public object's own flags otherwise.
fn flags(info: &KeyInfo) -> Vec<KeyOp> {
    let c: &Capabilities = &info.capabilities;
    let flags = if info.private.is_some() {
        [
            (c.sign, KeyOp::Sign),
            (c.decrypt, KeyOp::Decrypt),
            (c.unwrap, KeyOp::UnwrapKey),
            (c.derive, KeyOp::DeriveKey),
        ]
    } else {
        [
            (c.verify, KeyOp::Verify),
            (c.encrypt, KeyOp::Encrypt),
            (c.wrap, KeyOp::WrapKey),
            (c.derive, KeyOp::DeriveBits),
        ]
    };
    flags
        .into_iter()
        .filter_map(|(on, op)| on.then_some(op))
        .collect()
}

/// The operations a public key of this type performs, in the order they are printed.
fn performed_by(material: &KeyMaterial) -> &'static [KeyOp] {
    match material {
        KeyMaterial::Rsa(_) => &[KeyOp::Verify, KeyOp::Encrypt, KeyOp::WrapKey],
        KeyMaterial::Ec(_) => &[KeyOp::Verify, KeyOp::DeriveBits],
        KeyMaterial::Okp(k) => match k.crv {
            OkpCurve::Ed25519 | OkpCurve::Ed448 => &[KeyOp::Verify],
            OkpCurve::X25519 => &[KeyOp::DeriveBits],
        },
        // A secret key has no public part; a key type this program does not know publishes
        // no operation rather than a guessed one.
        _ => &[],
    }
}

/// The public counterpart of an operation named in `key_ops`; `None` for a name that is not
/// a registered operation.
fn counterpart(name: &str) -> Option<KeyOp> {
    match name {
        "sign" | "verify" => Some(KeyOp::Verify),
        "decrypt" | "encrypt" => Some(KeyOp::Encrypt),
        "unwrapKey" | "wrapKey" => Some(KeyOp::WrapKey),
        "deriveKey" | "deriveBits" => Some(KeyOp::DeriveBits),
        _ => None,
    }
}

/// `key_ops` for the public key: the counterparts of `ops` that a key of this type performs.
fn public_ops(material: &KeyMaterial, ops: &[String]) -> Vec<KeyOp> {
    let wanted: Vec<KeyOp> = ops.iter().filter_map(|op| counterpart(op)).collect();
    performed_by(material)
        .iter()
        .copied()
        .filter(|op| wanted.contains(op))
        .collect()
}

#[cfg(test)]
mod tests {
    use jose_core::SoftwareKey;
    use jose_core::jwk::EcCurve;

    use super::*;

    fn names(ops: &[KeyOp]) -> Vec<&'static str> {
        ops.iter().map(|op| op.as_str()).collect()
    }

    fn all_ops() -> Vec<String> {
        KeyOp::ALL.iter().map(|op| op.as_str().to_owned()).collect()
    }

    #[test]
    fn private_operations_become_their_public_counterparts() {
        let rsa = SoftwareKey::generate_rsa(2048).unwrap();
        let ops = ["sign", "decrypt", "unwrapKey", "deriveKey"].map(String::from);
        assert_eq!(
            names(&public_ops(rsa.jwk().material(), &ops)),
            ["verify", "encrypt", "wrapKey"]
        );
        let ec = SoftwareKey::generate_ec(EcCurve::P256).unwrap();
        assert_eq!(
            names(&public_ops(ec.jwk().material(), &ops)),
            ["verify", "deriveBits"]
        );
    }

    #[test]
    fn an_eddsa_key_publishes_verify_only() {
        let ed = SoftwareKey::generate_ed25519().unwrap();
        assert_eq!(
            names(&public_ops(ed.jwk().material(), &all_ops())),
            ["verify"]
        );
        let no_sign = ["encrypt", "wrapKey", "decrypt"].map(String::from);
        assert!(public_ops(ed.jwk().material(), &no_sign).is_empty());
    }

    #[test]
    fn unknown_operations_are_dropped() {
        let ec = SoftwareKey::generate_ec(EcCurve::P384).unwrap();
        let ops = ["sign", "launchMissiles"].map(String::from);
        assert_eq!(names(&public_ops(ec.jwk().material(), &ops)), ["verify"]);
    }

    #[test]
    fn a_printed_jwk_carries_only_public_key_ops() {
        let key = SoftwareKey::generate_ec(EcCurve::P256).unwrap();
        let jwk = key
            .jwk()
            .clone()
            .with_key_ops(&[KeyOp::Sign, KeyOp::DeriveKey]);
        let key = SoftwareKey::from_jwk(jwk).unwrap();
        let value = public_jwk(&key, None).unwrap();
        assert_eq!(
            value["key_ops"],
            serde_json::json!(["verify", "deriveBits"])
        );
        assert!(value.get("d").is_none());
        // Under a `use`, the operations of that use only.
        let value = public_jwk(&key, Some("sig")).unwrap();
        assert_eq!(value["key_ops"], serde_json::json!(["verify"]));
        assert_eq!(value["use"], "sig");
        // No key_ops on the key: none printed (the key is not restricted).
        let plain = SoftwareKey::generate_ec(EcCurve::P256).unwrap();
        assert!(public_jwk(&plain, None).unwrap().get("key_ops").is_none());
    }
}
