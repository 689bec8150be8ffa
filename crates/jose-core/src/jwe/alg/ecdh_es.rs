//! ECDH-ES key agreement, RFC 7518 section 4.6: `ECDH-ES` (the agreed key is the CEK) and
//! `ECDH-ES+A128KW`/`+A192KW`/`+A256KW` (the agreed key wraps the CEK), on P-256, P-384, P-521
//! and X25519 (RFC 8037).
//!
//! The recipient's private key only computes `Z` ([`KeyBackend::derive_ecdh`]); the Concat KDF
//! and the key unwrap run here, in software. The ephemeral public key (`epk`) is validated
//! first: a public JWK of the recipient key's type and curve, with a point on that curve (the
//! JWK parser checks points), which defeats invalid-curve attacks.
//!
//! [`KeyBackend::derive_ecdh`]: crate::KeyBackend::derive_ecdh

use serde_json::Value;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::alg::{ContentEncryption, KeyManagementAlgorithm};
use crate::b64;
use crate::backend::public_only;
use crate::error::{AlgorithmError, Error, KeyError, Malformed, Result};
use crate::header::Header;
use crate::jwk::parsed::{self, Parsed};
use crate::jwk::{EcCurve, Jwk, KeyMaterial, OkpCurve, SecretBytes};
use crate::provider::Provider;

/// The curve of an ECDH-capable key, if it has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Curve {
    Ec(EcCurve),
    X25519,
}

/// The ECDH curve of a (public) JWK.
pub(crate) fn curve_of(jwk: &Jwk) -> Option<Curve> {
    match jwk.material() {
        KeyMaterial::Ec(k) => Some(Curve::Ec(k.crv)),
        KeyMaterial::Okp(k) if k.crv == OkpCurve::X25519 => Some(Curve::X25519),
        _ => None,
    }
}

fn epk_error(reason: &'static str) -> Error {
    Malformed::Header {
        member: "epk".into(),
        reason,
    }
    .into()
}

/// Parses and validates the `epk` of `header` against the recipient's public key.
pub(crate) fn check_epk(header: &Header, recipient: Option<&Jwk>) -> Result<Jwk> {
    let value = header
        .get("epk")
        .ok_or_else(|| epk_error("is required by ECDH-ES"))?;
    // Parsing validates lengths and that the point is on the named curve.
    let epk = Jwk::from_value(value)?;
    if epk.is_private() {
        return Err(epk_error("must be a public key"));
    }
    let recipient = recipient.ok_or_else(|| Error::from(KeyError::NoPublicKey))?;
    let (Some(theirs), Some(ours)) = (curve_of(&epk), curve_of(recipient)) else {
        return Err(epk_error("is not an ECDH key of the recipient's type"));
    };
    if theirs != ours {
        return Err(epk_error("is not on the recipient key's curve"));
    }
    Ok(epk)
}

/// The Concat KDF of NIST SP 800-56A as profiled by RFC 7518 section 4.6.2, with SHA-256.
pub(crate) fn concat_kdf(
    z: &[u8],
    algorithm_id: &str,
    apu: &[u8],
    apv: &[u8],
    key_len: usize,
) -> Result<SecretBytes> {
    let len32 = |n: usize| {
        u32::try_from(n).map(u32::to_be_bytes).map_err(|_| {
            Error::from(Malformed::TooLarge {
                what: "apu/apv",
                limit: u32::MAX as usize,
            })
        })
    };
    let key_bits = len32(key_len * 8)?;
    let mut other = Vec::with_capacity(16 + algorithm_id.len() + apu.len() + apv.len());
    other.extend_from_slice(&len32(algorithm_id.len())?);
    other.extend_from_slice(algorithm_id.as_bytes());
    other.extend_from_slice(&len32(apu.len())?);
    other.extend_from_slice(apu);
    other.extend_from_slice(&len32(apv.len())?);
    other.extend_from_slice(apv);
    other.extend_from_slice(&key_bits);
    let mut out = Zeroizing::new(Vec::with_capacity(key_len + 32));
    let mut counter: u32 = 1;
    while out.len() < key_len {
        let mut h = Sha256::new();
        h.update(counter.to_be_bytes());
        h.update(z);
        h.update(&other);
        let block = Zeroizing::new(h.finalize());
        out.extend_from_slice(&block);
        counter = counter.wrapping_add(1);
    }
    out.truncate(key_len);
    Ok(out)
}

fn party_info(header: &Header, name: &'static str) -> Result<Vec<u8>> {
    match header.get_str(name) {
        None => Ok(Vec::new()),
        Some(text) => b64::decode(name, text),
    }
}

/// The key the agreement yields: the CEK for `ECDH-ES`, the key-wrap key otherwise
/// (RFC 7518 section 4.6.2: `AlgorithmID` is `enc` or `alg` accordingly).
pub(crate) fn derive(
    alg: KeyManagementAlgorithm,
    enc: ContentEncryption,
    z: &[u8],
    header: &Header,
) -> Result<SecretBytes> {
    let apu = party_info(header, "apu")?;
    let apv = party_info(header, "apv")?;
    match alg.aes_kw_key_len() {
        Some(len) => concat_kdf(z, alg.as_str(), &apu, &apv, len),
        None => concat_kdf(z, enc.as_str(), &apu, &apv, enc.key_len()),
    }
}

/// What the sender computes for one ECDH-ES recipient.
pub(crate) struct SenderAgreement {
    /// The CEK (`ECDH-ES`) or the key-wrap key (`ECDH-ES+A*KW`).
    pub(crate) derived: SecretBytes,
    /// The ephemeral public key for the `epk` header member.
    pub(crate) epk: Value,
}

/// The sender's side: generates (or takes) an ephemeral key on the recipient's curve, agrees
/// on `Z` with the recipient's public key and derives the key. `header` supplies `apu`/`apv`.
pub(crate) fn sender(
    recipient: &Jwk,
    alg: KeyManagementAlgorithm,
    enc: ContentEncryption,
    header: &Header,
    ephemeral: Option<&Jwk>,
    provider: Provider,
) -> Result<SenderAgreement> {
    let curve = curve_of(recipient).ok_or_else(|| AlgorithmError::KeyMismatch {
        alg: alg.to_string(),
        key: recipient.describe(),
    })?;
    let peer = parsed::parse(recipient.to_public()?.material())?;
    // A fresh ephemeral key from the recipient key's provider, when it makes its own.
    if let (None, Some(agreed)) = (ephemeral, provider.imp().ecdh_ephemeral(&peer)) {
        let (z, epk) = agreed?;
        return Ok(SenderAgreement {
            derived: derive(alg, enc, &z, header)?,
            epk: epk_members(&epk)?,
        });
    }
    let eph = match ephemeral {
        Some(jwk) => {
            if curve_of(jwk) != Some(curve) || !jwk.is_private() {
                return Err(KeyError::InvalidMember {
                    member: "crv",
                    reason: "the ephemeral key must be a private key on the recipient's curve",
                }
                .into());
            }
            std::borrow::Cow::Borrowed(jwk)
        }
        None => std::borrow::Cow::Owned(match curve {
            Curve::Ec(c) => Jwk::generate_ec(c)?,
            Curve::X25519 => Jwk::generate_okp(OkpCurve::X25519)?,
        }),
    };
    let z = agree(&parsed::parse(eph.material())?, &peer).map_err(|e| match e {
        Error::Algorithm(AlgorithmError::KeyMismatch { .. }) => AlgorithmError::KeyMismatch {
            alg: alg.to_string(),
            key: recipient.describe(),
        }
        .into(),
        other => other,
    })?;
    let derived = derive(alg, enc, &z, header)?;
    Ok(SenderAgreement {
        derived,
        epk: epk_members(&eph.to_public()?)?,
    })
}

/// The `epk` header member of an ephemeral public key: only the key itself (an ephemeral
/// key's `kid`/`use` would mean nothing to anyone).
fn epk_members(epk: &Jwk) -> Result<Value> {
    let mut public = epk.to_public_value()?;
    if let Value::Object(m) = &mut public {
        m.retain(|k, _| matches!(k.as_str(), "kty" | "crv" | "x" | "y"));
    }
    Ok(public)
}

/// The error for an X25519 agreement with a low-order point, whose all-zero output every
/// party knows (RFC 7748 section 6.1).
pub(crate) fn low_order_x25519() -> Error {
    KeyError::InvalidMember {
        member: "x",
        reason: "is a low-order X25519 point",
    }
    .into()
}

/// ECDH of a software private key with a public key on the same curve (both parsed, so the
/// peer's point has been validated): `Z`, the shared x coordinate (NIST curves) or the X25519
/// output.
pub(crate) fn agree(key: &Parsed, peer: &Parsed) -> Result<SecretBytes> {
    let mismatch = || {
        Error::from(AlgorithmError::KeyMismatch {
            alg: "ECDH-ES".into(),
            key: "a key and a peer on different curves".into(),
        })
    };
    macro_rules! nist {
        ($curve:ident, $private:expr, $public:expr) => {{
            let sk = $private.as_ref().ok_or_else(public_only)?;
            let shared = $curve::ecdh::diffie_hellman(sk.as_nonzero_scalar(), $public.as_affine());
            Ok(Zeroizing::new(shared.raw_secret_bytes().to_vec()))
        }};
    }
    match (key, peer) {
        (Parsed::P256 { private, .. }, Parsed::P256 { public, .. }) => nist!(p256, private, public),
        (Parsed::P384 { private, .. }, Parsed::P384 { public, .. }) => nist!(p384, private, public),
        (Parsed::P521 { private, .. }, Parsed::P521 { public, .. }) => nist!(p521, private, public),
        (Parsed::X25519 { private, .. }, Parsed::X25519 { public, .. }) => {
            let sk = private.as_ref().ok_or_else(public_only)?;
            let shared = sk.diffie_hellman(public);
            // A low-order point gives an all-zero secret that every party knows (RFC 7748
            // section 6.1): refuse it.
            if !shared.was_contributory() {
                return Err(low_order_x25519());
            }
            Ok(Zeroizing::new(shared.as_bytes().to_vec()))
        }
        _ => Err(mismatch()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7518 appendix C: ECDH-ES with A128GCM, apu "Alice", apv "Bob".
    #[test]
    fn rfc7518_appendix_c() {
        let bob = Jwk::from_json(
            r#"{"kty":"EC","crv":"P-256",
            "x":"weNJy2HscCSM6AEDTDg04biOvhFhyyWvOHQfeF_PxMQ",
            "y":"e8lnCO-AlStT-NJVX-crhB7QRYhiix03illJOVAOyck",
            "d":"VEmDZpDXXK8p8N0Cndsxs924q6nS1RXFASRl6BfUqdw"}"#,
        )
        .unwrap();
        let epk = Jwk::from_json(
            r#"{"kty":"EC","crv":"P-256",
            "x":"gI0GAILBdu7T53akrFmMyGcsF3n5dO7MmwNBHKW5SV0",
            "y":"SLW_xSffzlPWrHEVI30DHM_4egVwt3NQqeUD7nMFpps"}"#,
        )
        .unwrap();
        let z = agree(
            &parsed::parse(bob.material()).unwrap(),
            &parsed::parse(epk.material()).unwrap(),
        )
        .unwrap();
        let k = concat_kdf(&z, "A128GCM", b"Alice", b"Bob", 16).unwrap();
        assert_eq!(b64::encode(&k), "VqqN6vgjbSBcIijNcacQGg");
    }

    #[test]
    fn kdf_lengths_span_several_blocks() {
        for len in [16, 24, 32, 48, 64] {
            assert_eq!(concat_kdf(b"z", "A", b"", b"", len).unwrap().len(), len);
        }
        let a = concat_kdf(b"z", "A", b"", b"", 64).unwrap();
        let b = concat_kdf(b"z", "A", b"", b"", 32).unwrap();
        assert_ne!(a[..32], b[..], "SuppPubInfo binds the length");
    }
}
