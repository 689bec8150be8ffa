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

    /// Splits a `CKA_EC_POINT` into `(x, y)`, or `None` when [`parse_point`](Self::parse_point)
    /// refuses it.
    pub fn decode_point(self, ec_point: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
        self.parse_point(ec_point).ok()
    }

    /// Splits a `CKA_EC_POINT` into `(x, y)`, saying what is wrong when it cannot.
    ///
    /// Accepted forms of the uncompressed point `04 || X || Y`:
    /// - a DER OCTET STRING wrapping it (the PKCS#11 form; SoftHSM, kryoptic);
    /// - the raw point, without the OCTET STRING (some tokens);
    /// - tpm2-pkcs11's P-521 encoding bug: an OCTET STRING whose length is written as the one
    ///   byte `0x85` (`04 85 04 ...`) where DER needs `81 85`. Accepted only when that byte
    ///   is exactly the length of an uncompressed point of this curve and exactly that many
    ///   bytes follow.
    ///
    /// In every form the point must be uncompressed, of exactly the curve's length, with both
    /// coordinates below the field prime. (Whether the point lies on the curve is checked
    /// where the public key is built, e.g. when jose-core imports the JWK.)
    ///
    /// # Errors
    /// A sentence naming the curve and what was wrong: wrong length, a compressed point, a
    /// coordinate out of range, a DER length that does not fit.
    pub fn parse_point(self, ec_point: &[u8]) -> Result<(Vec<u8>, Vec<u8>), String> {
        let size = self.coordinate_size();
        let point = unwrap_point(ec_point, 1 + 2 * size)
            .map_err(|e| format!("{}: {e}", self.jwk_name()))?;
        match point.first() {
            Some(0x04) => {}
            Some(0x02 | 0x03) => {
                return Err(format!(
                    "{}: the point is compressed; only uncompressed points (04 || X || Y) are \
                     supported",
                    self.jwk_name()
                ));
            }
            other => {
                return Err(format!(
                    "{}: the point starts with {}, not 04 (uncompressed)",
                    self.jwk_name(),
                    other.map_or_else(|| "nothing".to_owned(), |b| format!("{b:02x}"))
                ));
            }
        }
        let (x, y) = point[1..].split_at(size);
        let p = self.field_prime();
        for (name, c) in [("x", x), ("y", y)] {
            // Equal-length big-endian byte strings compare as the numbers they encode.
            if c >= p {
                return Err(format!(
                    "{}: coordinate {name} is not below the field prime",
                    self.jwk_name()
                ));
            }
        }
        Ok((x.to_vec(), y.to_vec()))
    }

    /// The field prime p, big-endian, [`coordinate_size`](Self::coordinate_size) bytes
    /// (FIPS 186-4, D.1.2).
    fn field_prime(self) -> &'static [u8] {
        match self {
            EcCurve::P256 => P256_PRIME,
            EcCurve::P384 => P384_PRIME,
            EcCurve::P521 => P521_PRIME,
        }
    }
}

const P256_PRIME: &[u8] = &[
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
];
const P384_PRIME: &[u8] = &[
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff,
];
/// 2^521 - 1: `01` then 65 bytes `ff`.
const P521_PRIME: &[u8] = &{
    let mut p = [0xffu8; 66];
    p[0] = 0x01;
    p
};

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
        self.parse_point(ec_point).ok()
    }

    /// The public key bytes in a `CKA_EC_POINT` (raw, or wrapped in a DER OCTET STRING),
    /// saying what is wrong when they cannot be read.
    ///
    /// # Errors
    /// A sentence naming the curve and the length found.
    pub fn parse_point(self, ec_point: &[u8]) -> Result<Vec<u8>, String> {
        unwrap_point(ec_point, self.point_size())
            .map(<[u8]>::to_vec)
            .map_err(|e| format!("{}: {e}", self.jwk_name()))
    }
}

/// The point inside `value`: exactly `len` raw bytes, a DER OCTET STRING of exactly `len`
/// content bytes, or tpm2-pkcs11's OCTET STRING whose length `len` (0x80 or more) is written
/// in one byte without the `0x81` prefix.
/// For a `CKA_EC_POINT` in tpm2-pkcs11's short-form encoding (`04 85 <133 bytes>`, see
/// [`EcCurve::parse_point`]) of a valid point of `curve`: the same point in DER
/// (`04 81 85 <133 bytes>`). `None` for every other value.
pub(super) fn short_form_point(curve: EcCurve, value: &[u8]) -> Option<Vec<u8>> {
    let len = 1 + 2 * curve.coordinate_size();
    match value {
        [0x04, short, rest @ ..]
            if *short >= 0x80 && usize::from(*short) == len && rest.len() == len =>
        {
            curve.parse_point(value).ok()?;
            let mut der = vec![0x04, 0x81, *short];
            der.extend_from_slice(rest);
            Some(der)
        }
        _ => None,
    }
}

fn unwrap_point(value: &[u8], len: usize) -> Result<&[u8], String> {
    if value.len() == len {
        return Ok(value);
    }
    if let Some(content) = der_content(value, 0x04) {
        return if content.len() == len {
            Ok(content)
        } else {
            Err(format!(
                "the OCTET STRING holds {} bytes; a point has {len}",
                content.len()
            ))
        };
    }
    // tpm2-pkcs11 1.9: `04 85 <133 bytes>` for a P-521 point. Only the exact point length
    // written as the single length byte, followed by exactly that many bytes.
    if let [0x04, short, rest @ ..] = value {
        if *short >= 0x80 && usize::from(*short) == len && rest.len() == len {
            return Ok(rest);
        }
    }
    Err(format!(
        "{} bytes that are neither a {len}-byte point nor a DER OCTET STRING holding one",
        value.len()
    ))
}

/// The public key inside a DER SubjectPublicKeyInfo (`CKA_PUBLIC_KEY_INFO`): the content of its
/// BIT STRING (without the unused-bits byte, which must be 0). For EC and EdDSA keys that is
/// the raw public point.
pub(super) fn spki_public_key(spki: &[u8]) -> Option<&[u8]> {
    let outer = der_content(spki, 0x30)?;
    let (algorithm, rest) = der_element(outer)?;
    if algorithm.first() != Some(&0x30) {
        return None;
    }
    let bits = der_content(rest, 0x03)?;
    match bits.split_first()? {
        (0, key) => Some(key),
        _ => None,
    }
}

/// The text of a DER PrintableString (tag 0x13) that fills all of `value`.
fn printable_string(value: &[u8]) -> Option<&str> {
    std::str::from_utf8(der_content(value, 0x13)?).ok()
}

/// The content of a DER element with this tag that fills all of `value` (definite lengths up
/// to 65535 bytes, the minimal encoding required).
fn der_content(value: &[u8], tag: u8) -> Option<&[u8]> {
    let (element, rest) = der_element(value)?;
    if element.first() != Some(&tag) || !rest.is_empty() {
        return None;
    }
    element.get(1 + der_length_size(element.get(1..)?)?..)
}

/// Splits the first DER element off `value`: `(element with tag and length, rest)`.
fn der_element(value: &[u8]) -> Option<(&[u8], &[u8])> {
    let after_tag = value.get(1..)?;
    let content = der_content_len(after_tag)?;
    let end = (1 + der_length_size(after_tag)?).checked_add(content)?;
    (value.len() >= end).then(|| value.split_at(end))
}

/// The content length written at the start of `bytes` (minimal definite form, up to 65535).
fn der_content_len(bytes: &[u8]) -> Option<usize> {
    match *bytes.first()? {
        len @ 0..=0x7f => Some(usize::from(len)),
        0x81 => {
            let l = *bytes.get(1)?;
            (l >= 0x80).then_some(usize::from(l))
        }
        0x82 => {
            let l = usize::from(*bytes.get(1)?) << 8 | usize::from(*bytes.get(2)?);
            (l >= 0x100).then_some(l)
        }
        _ => None,
    }
}

/// How many bytes the length at the start of `bytes` takes.
fn der_length_size(bytes: &[u8]) -> Option<usize> {
    match *bytes.first()? {
        0..=0x7f => Some(1),
        0x81 => Some(2),
        0x82 => Some(3),
        _ => None,
    }
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
        // P-521: 133-byte point, long-form length. (Coordinates below 2^521 - 1: 01 ...)
        let mut raw521 = vec![0x04, 0x01];
        raw521.extend(std::iter::repeat_n(7u8, 65));
        raw521.push(0x01);
        raw521.extend(std::iter::repeat_n(7u8, 65));
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

    /// A real P-521 public key (SubjectPublicKeyInfo, from OpenSSL); its last 133 bytes are
    /// the uncompressed point.
    const P521_SPKI: &str = "30819b301006072a8648ce3d020106052b81040023038186000400a4b72ddb6f9588e8\
        43d8ec0671e6ef6d4e0ef6d5868b9bb10bf7225c646bbfd8fa69dd69f571a924bd8d1f8365d5c360e5143fafc2\
        22d500ea4bde75a45535860201bac5302ee4c3bc36bd50c1bb3794ab862e97e5402f8475f3dc06fc56e2900020\
        0091d9f0d7ec095b6218039af5f27988167cba20f2eac6617c3012f0766372a0c8";
    /// A real Ed25519 public key (SubjectPublicKeyInfo).
    const ED25519_SPKI: &str =
        "302a300506032b6570032100652612cc8f003b5d2c60a1c5bcb605b06fda254c56833d85340b27e64218a2c9";

    fn unhex(text: &str) -> Vec<u8> {
        let text: String = text.split_whitespace().collect();
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    fn p521_point() -> Vec<u8> {
        let spki = unhex(P521_SPKI);
        spki[spki.len() - 133..].to_vec()
    }

    #[test]
    fn only_the_short_form_of_a_valid_point_is_rewritten_in_der() {
        let point = p521_point();
        let mut tpm2 = vec![0x04, 0x85];
        tpm2.extend(&point);
        let mut der = vec![0x04, 0x81, 0x85];
        der.extend(&point);
        assert_eq!(short_form_point(EcCurve::P521, &tpm2), Some(der.clone()));
        // Already DER, the raw point, another curve, a broken point: nothing to rewrite.
        assert_eq!(short_form_point(EcCurve::P521, &der), None);
        assert_eq!(short_form_point(EcCurve::P521, &point), None);
        assert_eq!(short_form_point(EcCurve::P384, &tpm2), None);
        let mut compressed = tpm2.clone();
        compressed[2] = 0x02;
        assert_eq!(short_form_point(EcCurve::P521, &compressed), None);
        let mut too_big = tpm2.clone();
        too_big[3] = 0x02;
        assert_eq!(short_form_point(EcCurve::P521, &too_big), None);
        assert_eq!(
            short_form_point(EcCurve::P521, &tpm2[..tpm2.len() - 1]),
            None
        );
    }

    #[test]
    fn tpm2_short_form_p521_length_is_accepted_for_a_valid_point_only() {
        let point = p521_point();
        let (x, y) = EcCurve::P521.parse_point(&point).unwrap();
        // tpm2-pkcs11: 04 85 <133 bytes>, where DER needs 04 81 85.
        let mut tpm2 = vec![0x04, 0x85];
        tpm2.extend(&point);
        assert_eq!(EcCurve::P521.parse_point(&tpm2), Ok((x.clone(), y.clone())));
        let mut der = vec![0x04, 0x81, 0x85];
        der.extend(&point);
        assert_eq!(EcCurve::P521.parse_point(&der), Ok((x, y)));
        // The same bug with one byte missing or one too many: not a point.
        let short = &tpm2[..tpm2.len() - 1];
        let error = EcCurve::P521.parse_point(short).unwrap_err();
        assert!(error.starts_with("P-521: 134 bytes"), "{error}");
        let mut long = tpm2.clone();
        long.push(0);
        assert!(
            matches!(EcCurve::P521.parse_point(&long), Err(e) if e.starts_with("P-521: 136 bytes"))
        );
        // The length byte naming another length.
        let mut wrong = tpm2.clone();
        wrong[1] = 0x86;
        assert!(
            matches!(EcCurve::P521.parse_point(&wrong), Err(e) if e.starts_with("P-521: 135 bytes"))
        );
        // The bug's form holding a compressed point or a coordinate out of range: refused,
        // saying why.
        let mut compressed = tpm2.clone();
        compressed[2] = 0x02;
        let error = EcCurve::P521.parse_point(&compressed).unwrap_err();
        assert!(error.contains("compressed"), "{error}");
        let mut too_big = tpm2.clone();
        too_big[3] = 0x02; // x >= 2^521
        let error = EcCurve::P521.parse_point(&too_big).unwrap_err();
        assert!(
            error.contains("coordinate x is not below the field prime"),
            "{error}"
        );
        // P-256 cannot have the bug (65 < 0x80): 04 41 is plain DER.
        assert!(matches!(
            EcCurve::P256.parse_point(&[0x04, 0xc1]),
            Err(e) if e.starts_with("P-256: 2 bytes")
        ));
    }

    #[test]
    fn field_primes_bound_the_coordinates() {
        for curve in [EcCurve::P256, EcCurve::P384, EcCurve::P521] {
            let size = curve.coordinate_size();
            assert_eq!(curve.field_prime().len(), size);
            let mut at_p = vec![0x04];
            at_p.extend(curve.field_prime());
            at_p.extend(std::iter::repeat_n(0u8, size));
            assert!(matches!(curve.parse_point(&at_p), Err(e) if e.contains("coordinate x")));
            let mut below = vec![0x04];
            below.extend(curve.field_prime());
            below[size] -= 1; // p - 1
            below.extend(curve.field_prime());
            assert!(matches!(curve.parse_point(&below), Err(e) if e.contains("coordinate y")));
        }
    }

    #[test]
    fn public_keys_inside_subject_public_key_infos() {
        let spki = unhex(P521_SPKI);
        assert_eq!(spki_public_key(&spki), Some(&p521_point()[..]));
        let ed = unhex(ED25519_SPKI);
        let key = spki_public_key(&ed).unwrap();
        assert_eq!(
            EdCurve::Ed25519.parse_point(key).unwrap(),
            ed[12..].to_vec()
        );
        // Truncated, trailing bytes, unused bits, not a SEQUENCE.
        assert_eq!(spki_public_key(&spki[..spki.len() - 1]), None);
        let mut trailing = spki.clone();
        trailing.push(0);
        assert_eq!(spki_public_key(&trailing), None);
        let mut unused_bits = ed.clone();
        unused_bits[11] = 1;
        assert_eq!(spki_public_key(&unused_bits), None);
        assert_eq!(spki_public_key(&[0x04, 0x00]), None);
        assert_eq!(spki_public_key(&[]), None);
    }

    #[test]
    fn edwards_points_say_what_is_wrong() {
        let error = EdCurve::Ed448.parse_point(&[0u8; 32]).unwrap_err();
        assert_eq!(
            error,
            "Ed448: 32 bytes that are neither a 57-byte point nor a DER OCTET STRING holding one"
        );
        let mut wrapped = vec![0x04, 0x20];
        wrapped.extend([5u8; 32]);
        let error = EdCurve::Ed448.parse_point(&wrapped).unwrap_err();
        assert_eq!(
            error,
            "Ed448: the OCTET STRING holds 32 bytes; a point has 57"
        );
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
