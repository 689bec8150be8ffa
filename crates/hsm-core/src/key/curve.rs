//! Elliptic curves: `CKA_EC_PARAMS` encodings and `CKA_EC_POINT` decoding.

/// A NIST prime curve (JOSE `crv` P-256, P-384, P-521).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EcCurve {
    /// secp256r1 / prime256v1, OID 1.2.840.10045.3.1.7.
    P256,
    /// secp384r1, OID 1.3.132.0.34.
    P384,
    /// secp521r1, OID 1.3.132.0.35.
    P521,
}

/// An Edwards curve for EdDSA (RFC 8032; JOSE `OKP` keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EdCurve {
    /// Ed25519, OID 1.3.101.112.
    Ed25519,
    /// Ed448, OID 1.3.101.113.
    Ed448,
}

const P256_OID: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const P384_OID: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
const P521_OID: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23];
const ED25519_OID: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];
const ED448_OID: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x71];
const ED25519_PRINTABLE: &[u8] = b"\x13\x0cedwards25519";
const ED448_PRINTABLE: &[u8] = b"\x13\x0aedwards448";

impl EcCurve {
    /// The JOSE/JWK curve name (`"P-256"`).
    pub fn jwk_name(self) -> &'static str {
        match self {
            EcCurve::P256 => "P-256",
            EcCurve::P384 => "P-384",
            EcCurve::P521 => "P-521",
        }
    }

    /// The size in bytes of one coordinate (and of `r` and `s` in a raw ECDSA signature).
    pub fn coordinate_size(self) -> usize {
        match self {
            EcCurve::P256 => 32,
            EcCurve::P384 => 48,
            EcCurve::P521 => 66,
        }
    }

    /// `CKA_EC_PARAMS` as this crate writes it: the DER-encoded named-curve OID.
    pub fn ec_params(self) -> &'static [u8] {
        match self {
            EcCurve::P256 => P256_OID,
            EcCurve::P384 => P384_OID,
            EcCurve::P521 => P521_OID,
        }
    }

    /// The curve named by a `CKA_EC_PARAMS` value: the OID, or the PrintableString curve names
    /// some tools write (`prime256v1`, `secp384r1`, `secp521r1`).
    pub fn from_ec_params(params: &[u8]) -> Option<EcCurve> {
        match params {
            P256_OID => Some(EcCurve::P256),
            P384_OID => Some(EcCurve::P384),
            P521_OID => Some(EcCurve::P521),
            _ => match printable_string(params)? {
                "prime256v1" | "secp256r1" | "P-256" => Some(EcCurve::P256),
                "secp384r1" | "P-384" => Some(EcCurve::P384),
                "secp521r1" | "P-521" => Some(EcCurve::P521),
                _ => None,
            },
        }
    }

    /// Splits a `CKA_EC_POINT` into `(x, y)`. The value may be the raw uncompressed point
    /// (`04 || X || Y`) or a DER OCTET STRING wrapping it (SoftHSM); the two are told apart by
    /// length. Compressed or malformed points give `None`.
    pub fn decode_point(self, ec_point: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
        let size = self.coordinate_size();
        let point = unwrap_point(ec_point, 1 + 2 * size)?;
        if point[0] != 0x04 {
            return None;
        }
        Some((point[1..1 + size].to_vec(), point[1 + size..].to_vec()))
    }
}

impl EdCurve {
    /// The JOSE/JWK curve name (`"Ed25519"`).
    pub fn jwk_name(self) -> &'static str {
        match self {
            EdCurve::Ed25519 => "Ed25519",
            EdCurve::Ed448 => "Ed448",
        }
    }

    /// The size in bytes of a public key (an encoded point): 32 or 57.
    pub fn point_size(self) -> usize {
        match self {
            EdCurve::Ed25519 => 32,
            EdCurve::Ed448 => 57,
        }
    }

    /// `CKA_EC_PARAMS` as this crate writes it: the DER-encoded OID (RFC 8410).
    pub fn ec_params(self) -> &'static [u8] {
        match self {
            EdCurve::Ed25519 => ED25519_OID,
            EdCurve::Ed448 => ED448_OID,
        }
    }

    /// `CKA_EC_PARAMS` as a DER PrintableString curve name (`13 0c "edwards25519"`), the form
    /// OpenSC's `pkcs11-tool` writes.
    pub fn printable_ec_params(self) -> &'static [u8] {
        match self {
            EdCurve::Ed25519 => ED25519_PRINTABLE,
            EdCurve::Ed448 => ED448_PRINTABLE,
        }
    }

    /// The curve named by a `CKA_EC_PARAMS` value, in either form: the OID or the
    /// PrintableString curve name.
    pub fn from_ec_params(params: &[u8]) -> Option<EdCurve> {
        match params {
            ED25519_OID => Some(EdCurve::Ed25519),
            ED448_OID => Some(EdCurve::Ed448),
            _ => match printable_string(params)? {
                "edwards25519" | "Ed25519" => Some(EdCurve::Ed25519),
                "edwards448" | "Ed448" => Some(EdCurve::Ed448),
                _ => None,
            },
        }
    }

    /// The public key bytes in a `CKA_EC_POINT`: raw, or wrapped in a DER OCTET STRING.
    pub fn decode_point(self, ec_point: &[u8]) -> Option<Vec<u8>> {
        unwrap_point(ec_point, self.point_size()).map(<[u8]>::to_vec)
    }
}

/// The point inside `value`, which is either exactly `len` bytes or a DER OCTET STRING of
/// exactly `len` content bytes.
fn unwrap_point(value: &[u8], len: usize) -> Option<&[u8]> {
    if value.len() == len {
        return Some(value);
    }
    let content = der_content(value, 0x04)?;
    (content.len() == len).then_some(content)
}

/// The text of a DER PrintableString (tag 0x13) that fills all of `value`.
fn printable_string(value: &[u8]) -> Option<&str> {
    std::str::from_utf8(der_content(value, 0x13)?).ok()
}

/// The content of a DER element with this tag that fills all of `value` (definite lengths up
/// to 65535 bytes, the minimal encoding required).
fn der_content(value: &[u8], tag: u8) -> Option<&[u8]> {
    let (&first, rest) = value.split_first()?;
    if first != tag {
        return None;
    }
    let (&len0, rest) = rest.split_first()?;
    let (len, rest) = match len0 {
        0..=0x7f => (usize::from(len0), rest),
        0x81 => {
            let (&l, rest) = rest.split_first()?;
            if l < 0x80 {
                return None;
            }
            (usize::from(l), rest)
        }
        0x82 => {
            let l = usize::from(*rest.first()?) << 8 | usize::from(*rest.get(1)?);
            if l < 0x100 {
                return None;
            }
            (l, rest.get(2..)?)
        }
        _ => return None,
    };
    (rest.len() == len).then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curves_from_params() {
        for curve in [EcCurve::P256, EcCurve::P384, EcCurve::P521] {
            assert_eq!(EcCurve::from_ec_params(curve.ec_params()), Some(curve));
            assert_eq!(EdCurve::from_ec_params(curve.ec_params()), None);
        }
        for curve in [EdCurve::Ed25519, EdCurve::Ed448] {
            assert_eq!(EdCurve::from_ec_params(curve.ec_params()), Some(curve));
            assert_eq!(
                EdCurve::from_ec_params(curve.printable_ec_params()),
                Some(curve)
            );
            assert_eq!(EcCurve::from_ec_params(curve.ec_params()), None);
        }
        assert_eq!(
            EdCurve::printable_ec_params(EdCurve::Ed25519),
            b"\x13\x0cedwards25519"
        );
        assert_eq!(
            EcCurve::from_ec_params(b"\x13\x0aprime256v1"),
            Some(EcCurve::P256)
        );
        assert_eq!(
            EdCurve::from_ec_params(b"\x13\x0dedwards25519"),
            None,
            "length lies"
        );
        assert_eq!(EdCurve::from_ec_params(&[]), None);
        assert_eq!(EdCurve::from_ec_params(&[0x13]), None);
        assert_eq!(
            EdCurve::from_ec_params(&[0x06, 0x03, 0x2b, 0x65, 0x6e]),
            None,
            "X25519"
        );
    }

    #[test]
    fn points_raw_and_wrapped() {
        let mut raw = vec![0x04];
        raw.extend(1..=64u8);
        let (x, y) = EcCurve::P256.decode_point(&raw).unwrap();
        assert_eq!((x.len(), y.len()), (32, 32));
        assert_eq!(x[0], 1);
        assert_eq!(y[31], 64);
        let mut wrapped = vec![0x04, 0x41];
        wrapped.extend(&raw);
        assert_eq!(EcCurve::P256.decode_point(&wrapped), Some((x, y)));
        // P-521: 133-byte point, long-form length.
        let mut raw521 = vec![0x04];
        raw521.extend(std::iter::repeat_n(7u8, 132));
        let mut wrapped521 = vec![0x04, 0x81, 0x85];
        wrapped521.extend(&raw521);
        assert!(EcCurve::P521.decode_point(&raw521).is_some());
        assert!(EcCurve::P521.decode_point(&wrapped521).is_some());
        // Compressed, truncated, wrong curve.
        let mut compressed = vec![0x02];
        compressed.extend(1..=32u8);
        assert_eq!(EcCurve::P256.decode_point(&compressed), None);
        assert_eq!(EcCurve::P256.decode_point(&wrapped[..60]), None);
        assert_eq!(EcCurve::P384.decode_point(&wrapped), None);
        // Edwards.
        let ed = [9u8; 32];
        let mut ed_wrapped = vec![0x04, 0x20];
        ed_wrapped.extend(ed);
        assert_eq!(EdCurve::Ed25519.decode_point(&ed), Some(ed.to_vec()));
        assert_eq!(
            EdCurve::Ed25519.decode_point(&ed_wrapped),
            Some(ed.to_vec())
        );
        assert_eq!(EdCurve::Ed448.decode_point(&ed_wrapped), None);
        assert_eq!(EdCurve::Ed25519.decode_point(&[]), None);
    }

    #[test]
    fn der_rejects_non_minimal_and_overlong() {
        assert_eq!(der_content(&[0x04, 0x81, 0x05, 1, 2, 3, 4, 5], 0x04), None);
        assert_eq!(
            der_content(&[0x04, 0x82, 0x00, 0x05, 1, 2, 3, 4, 5], 0x04),
            None
        );
        assert_eq!(der_content(&[0x04, 0x83, 0, 0, 1, 0], 0x04), None);
        assert_eq!(der_content(&[0x04, 0x02, 1], 0x04), None);
        assert_eq!(der_content(&[0x04, 0x01, 1, 2], 0x04), None);
        assert_eq!(der_content(&[0x04, 0x00], 0x04), Some(&[][..]));
    }
}
