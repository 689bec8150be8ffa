//! The DER forms `jsonwebtoken` takes private keys in, written from jose-core JWKs, so that
//! both libraries sign with the very same keys.

use jose_core::jwk::{EcCurve, EcKey, OkpCurve, OkpKey, RsaKey};

use crate::fail;

fn len(out: &mut Vec<u8>, n: usize) {
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes: Vec<u8> = n
            .to_be_bytes()
            .into_iter()
            .skip_while(|&b| b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend_from_slice(&bytes);
    }
}

fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    len(&mut out, body.len());
    out.extend_from_slice(body);
    out
}

/// A non-negative INTEGER from big-endian bytes.
fn integer(be: &[u8]) -> Vec<u8> {
    let start = be.iter().position(|&b| b != 0).unwrap_or(be.len());
    let mut body = Vec::with_capacity(be.len() + 1);
    if be.get(start).is_none_or(|&b| b & 0x80 != 0) {
        body.push(0);
    }
    body.extend_from_slice(&be[start..]);
    tlv(0x02, &body)
}

/// PKCS#1 `RSAPrivateKey` (what `EncodingKey::from_rsa_der` reads).
pub(crate) fn rsa_pkcs1(k: &RsaKey) -> Vec<u8> {
    let Some(private) = &k.private else {
        fail("RSA key without private part")
    };
    let Some(crt) = &private.crt else {
        fail("RSA key without CRT values")
    };
    let mut body = integer(&[0]);
    for part in [
        &k.n[..],
        &k.e,
        &private.d,
        &crt.p,
        &crt.q,
        &crt.dp,
        &crt.dq,
        &crt.qi,
    ] {
        body.extend(integer(part));
    }
    tlv(0x30, &body)
}

/// PKCS#8 `PrivateKeyInfo` for a P-256 or P-384 key (what `EncodingKey::from_ec_der` reads).
pub(crate) fn ec_pkcs8(k: &EcKey) -> Vec<u8> {
    // id-ecPublicKey with prime256v1 or secp384r1.
    const P256: &[u8] = &[
        0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86,
        0x48, 0xce, 0x3d, 0x03, 0x01, 0x07,
    ];
    const P384: &[u8] = &[
        0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b, 0x81,
        0x04, 0x00, 0x22,
    ];
    let (alg, d) = match (k.crv, &k.d) {
        (EcCurve::P256, Some(d)) => (P256, d),
        (EcCurve::P384, Some(d)) => (P384, d),
        _ => fail("a private P-256 or P-384 key"),
    };
    let mut point = vec![0u8, 4];
    point.extend_from_slice(&k.x);
    point.extend_from_slice(&k.y);
    let mut ec_private = integer(&[1]);
    ec_private.extend(tlv(0x04, d));
    // [1] publicKey: aws-lc-rs wants it, RustCrypto accepts it.
    ec_private.extend(tlv(0xa1, &tlv(0x03, &point)));
    let ec_private = tlv(0x30, &ec_private);
    let mut body = integer(&[0]);
    body.extend_from_slice(alg);
    body.extend(tlv(0x04, &ec_private));
    tlv(0x30, &body)
}

/// PKCS#8 `PrivateKeyInfo` for an Ed25519 key (what `EncodingKey::from_ed_der` reads).
pub(crate) fn ed25519_pkcs8(k: &OkpKey) -> Vec<u8> {
    let (OkpCurve::Ed25519, Some(d)) = (k.crv, &k.d) else {
        fail("a private Ed25519 key")
    };
    // id-Ed25519
    const ALG: &[u8] = &[0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70];
    let mut body = integer(&[0]);
    body.extend_from_slice(ALG);
    body.extend(tlv(0x04, &tlv(0x04, d)));
    tlv(0x30, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_lengths_and_integers() {
        assert_eq!(integer(&[0]), [0x02, 0x01, 0x00]);
        assert_eq!(integer(&[0x00, 0x80]), [0x02, 0x02, 0x00, 0x80]);
        assert_eq!(integer(&[0x01, 0x00]), [0x02, 0x02, 0x01, 0x00]);
        let long = tlv(0x04, &[0u8; 300]);
        assert_eq!(&long[..4], &[0x04, 0x82, 0x01, 0x2c]);
    }
}
