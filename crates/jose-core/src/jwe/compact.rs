//! One-recipient compact encryption in one pass, for the common case of [`encrypt_compact`]
//! (RSA-OAEP, AES key wrap or `dir`; extra protected members that the algorithm does not set,
//! such as a JWT's `typ` and `cty`): the protected header is written directly and every part is
//! encoded into one buffer, with the same checks and the same bytes as
//! [`JweBuilder`](super::JweBuilder), which serves every other case.
//!
//! [`encrypt_compact`]: super::encrypt_compact

use crate::alg::{Algorithm, ContentEncryption, KeyManagementAlgorithm};
use crate::b64;
use crate::backend::{KeyBackend, WrappedKey, check_key};
use crate::error::{AlgorithmError, Error, KeyError, Result};
use crate::header::Header;
use crate::json;
use crate::jwe::enc;
use crate::jwe::encrypt::{join_compact, rsa_oaep_to_jwk};
use crate::jwk::SecretBytes;
use crate::rng;

use KeyManagementAlgorithm as K;

/// Whether this path serves `alg` with the caller's extra protected members: algorithms that
/// add no header member, and extra members that the builder would not check or move (nothing
/// it sets itself, nothing it refuses, no `crit`).
pub(crate) fn serves(alg: KeyManagementAlgorithm, extra: Option<&Header>) -> bool {
    const SET_OR_CHECKED: &[&str] = &[
        "alg", "enc", "kid", "zip", "crit", "epk", "apu", "apv", "iv", "tag", "p2s", "p2c",
    ];
    matches!(
        alg,
        K::Dir | K::RsaOaep | K::RsaOaep256 | K::A128KW | K::A192KW | K::A256KW
    ) && extra.is_none_or(|h| h.names().all(|k| !SET_OR_CHECKED.contains(&k)))
}

/// What the one-pass path gives: the token, or (a key wrap that added header members, from a
/// backend of its own) the content key and wrapped key for the general builder to place.
pub(crate) enum OnePass {
    Token(String),
    Builder(SecretBytes, WrappedKey),
}

/// Encrypts `plaintext` to `key` with `alg` (one that [`serves`]) and `enc`, with a random
/// content key and IV, or the given ones (test vectors and the builder comparison tests).
pub(crate) fn encrypt(
    key: &dyn KeyBackend,
    alg: KeyManagementAlgorithm,
    enc: ContentEncryption,
    plaintext: &[u8],
    extra: Option<&Header>,
    fixed: Option<(&[u8], &[u8])>,
) -> Result<OnePass> {
    // The builder's checks (`add_recipient`, then the header's member types), in its order.
    check_key(key, Algorithm::Jwe(alg), true)?;
    let rsa = matches!(alg, K::RsaOaep | K::RsaOaep256);
    if rsa && key.public_jwk().is_none() {
        return Err(KeyError::NoPublicKey.into());
    }
    // The random content key (unless `dir`) and IV, drawn in one call to the RNG (a call costs
    // about as much as the bytes of both).
    let key_len = if alg == K::Dir { 0 } else { enc.key_len() };
    let drawn = match fixed {
        Some(_) => zeroize::Zeroizing::new(Vec::new()),
        None => zeroize::Zeroizing::new(rng::bytes(key_len + enc.iv_len())?),
    };
    let (cek, encrypted_key): (SecretBytes, Vec<u8>) = match alg {
        K::Dir => {
            let k = key.unwrap_key(K::Dir, &[], &Header::new(), enc)?;
            if k.len() != enc.key_len() {
                return Err(AlgorithmError::KeyMismatch {
                    alg: format!("dir with {enc}"),
                    key: key.describe(),
                }
                .into());
            }
            (k, Vec::new())
        }
        _ => {
            let cek = zeroize::Zeroizing::new(match fixed {
                Some((cek, _)) => cek.to_vec(),
                None => drawn.get(..key_len).unwrap_or_default().to_vec(),
            });
            let encrypted_key = if rsa {
                // Hybrid use: encrypt to the public key, wherever the private key lives.
                match key.wrap_key(alg, &cek) {
                    Ok(w) => w.encrypted_key,
                    Err(Error::Algorithm(AlgorithmError::Unsupported(_))) => {
                        rsa_oaep_to_jwk(key, alg, &cek)?
                    }
                    Err(e) => return Err(e),
                }
            } else {
                let wrapped = key.wrap_key(alg, &cek)?;
                if !wrapped.header.is_empty() {
                    return Ok(OnePass::Builder(cek, wrapped));
                }
                wrapped.encrypted_key
            };
            (cek, encrypted_key)
        }
    };
    if let Some(extra) = extra {
        extra.check_types()?;
    }
    let iv = match fixed {
        Some((_, iv)) => iv.to_vec(),
        None => drawn.get(key_len..).unwrap_or_default().to_vec(),
    };
    // The builder's header for one recipient: `alg`, the key's `kid`, the caller's members in
    // their order, `enc`, as serde_json writes them.
    let mut header = Vec::with_capacity(96);
    header.extend_from_slice(b"{\"alg\":");
    json::write_string(&mut header, alg.as_str());
    if let Some(kid) = key.kid() {
        header.extend_from_slice(b",\"kid\":");
        json::write_string(&mut header, kid);
    }
    if let Some(extra) = extra.filter(|h| !h.is_empty()) {
        // `{"a":1,"b":2}` spliced in as `,"a":1,"b":2`.
        let mut members = Vec::with_capacity(64);
        extra.write_json(&mut members);
        if let Some(inner) = members.get(1..members.len().saturating_sub(1)) {
            header.push(b',');
            header.extend_from_slice(inner);
        }
    }
    header.extend_from_slice(b",\"enc\":");
    json::write_string(&mut header, enc.as_str());
    header.push(b'}');
    let protected_b64 = b64::encode(&header);
    let sealed = enc::encrypt(
        key.provider(),
        enc,
        &cek,
        &iv,
        protected_b64.as_bytes(),
        plaintext,
    )?;
    Ok(OnePass::Token(join_compact(
        &protected_b64,
        [&encrypted_key, &iv, &sealed.ciphertext, &sealed.tag],
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SoftwareKey;
    use crate::jwe::{JweBuilder, decrypt_compact};
    use ContentEncryption as E;

    fn one_pass(
        key: &dyn KeyBackend,
        alg: KeyManagementAlgorithm,
        enc: E,
        fixed: Option<(&[u8], &[u8])>,
    ) -> String {
        match encrypt(key, alg, enc, b"the same plaintext", None, fixed).unwrap() {
            OnePass::Token(t) => t,
            OnePass::Builder(..) => panic!("{alg} went to the builder"),
        }
    }

    fn builder(
        key: &dyn KeyBackend,
        alg: KeyManagementAlgorithm,
        enc: E,
        cek: &[u8],
        iv: &[u8],
    ) -> String {
        let mut b = JweBuilder::new(enc).add_recipient(key, alg, None).unwrap();
        if alg != K::Dir {
            b = b.with_cek(cek);
        }
        b.with_iv(iv)
            .encrypt(b"the same plaintext")
            .unwrap()
            .compact()
            .unwrap()
    }

    /// AES key wrap and `dir` are deterministic given the content key and IV: the one-pass
    /// token is the builder's, byte for byte, with and without a `kid` (escaped as JSON).
    #[test]
    fn the_same_bytes_as_the_builder() {
        for (alg, enc, len) in [
            (K::A128KW, E::A128Gcm, 16),
            (K::A192KW, E::A192CbcHs384, 24),
            (K::A256KW, E::A256Gcm, 32),
            (K::Dir, E::A256Gcm, 32),
            (K::Dir, E::A128CbcHs256, 32),
        ] {
            for kid in [None, Some("k\"1/é")] {
                let mut key = SoftwareKey::generate_oct(len).unwrap();
                if let Some(kid) = kid {
                    key = key.with_kid(kid);
                }
                let cek = vec![7u8; enc.key_len()];
                let iv = vec![9u8; enc.iv_len()];
                let fast = one_pass(&key, alg, enc, Some((&cek, &iv)));
                assert_eq!(
                    fast,
                    builder(&key, alg, enc, &cek, &iv),
                    "{alg} {enc} {kid:?}"
                );
                let opened = decrypt_compact(&fast, &key, &[alg], &[enc]).unwrap();
                assert_eq!(opened.plaintext(), b"the same plaintext");
                assert_eq!(opened.kid(), kid);
            }
        }
    }

    /// RSA-OAEP is randomized: the header, IV, ciphertext and tag are the builder's, and the
    /// private key opens the token.
    #[test]
    fn rsa_oaep_matches_the_builder_but_for_the_encrypted_key() {
        let private = SoftwareKey::generate_rsa(2048).unwrap().with_kid("rsa");
        let public = SoftwareKey::from_jwk(private.jwk().to_public().unwrap()).unwrap();
        for alg in [K::RsaOaep, K::RsaOaep256] {
            let (cek, iv) = (vec![3u8; 32], vec![5u8; 12]);
            let fast = one_pass(&public, alg, E::A256Gcm, Some((&cek, &iv)));
            let general = builder(&public, alg, E::A256Gcm, &cek, &iv);
            let parts = |t: &str| -> Vec<String> { t.split('.').map(str::to_owned).collect() };
            let (f, g) = (parts(&fast), parts(&general));
            assert_eq!((f.len(), &f[0], &f[2..]), (5, &g[0], &g[2..]), "{alg}");
            let opened = decrypt_compact(&fast, &private, &[alg], &[E::A256Gcm]).unwrap();
            assert_eq!(opened.plaintext(), b"the same plaintext");
        }
    }

    /// The builder's refusals, unchanged: a key that does not serve the algorithm, a member of
    /// the wrong type, a `dir` key of the wrong size.
    #[test]
    fn the_same_refusals_as_the_builder() {
        let ec = SoftwareKey::generate_ec(crate::jwk::EcCurve::P256).unwrap();
        let fast = encrypt(&ec, K::A128KW, E::A128Gcm, b"x", None, None)
            .err()
            .unwrap();
        let general = JweBuilder::new(E::A128Gcm)
            .add_recipient(&ec, K::A128KW, None)
            .err()
            .unwrap();
        assert_eq!(fast.to_string(), general.to_string());
        let oct = SoftwareKey::generate_oct(32).unwrap();
        let bad = Header::new().with("typ", 5);
        assert!(serves(K::A256KW, Some(&bad)));
        let fast = encrypt(&oct, K::A256KW, E::A256Gcm, b"x", Some(&bad), None)
            .err()
            .unwrap();
        let general = JweBuilder::new(E::A256Gcm)
            .protected(bad)
            .add_recipient(&oct, K::A256KW, None)
            .unwrap()
            .encrypt(b"x")
            .err()
            .unwrap();
        assert_eq!(fast.to_string(), general.to_string());
        assert!(
            matches!(
                fast,
                Error::Malformed(crate::error::Malformed::Header { .. })
            ),
            "{fast:?}"
        );
        let short = SoftwareKey::generate_oct(16).unwrap();
        let fast = encrypt(&short, K::Dir, E::A256Gcm, b"x", None, None)
            .err()
            .unwrap();
        assert!(
            matches!(fast, Error::Algorithm(AlgorithmError::KeyMismatch { .. })),
            "{fast:?}"
        );
    }

    /// A JWT's `typ` and `cty`, and an extension member, go between `kid` and `enc`, as the
    /// builder places them.
    #[test]
    fn extra_members_in_the_builders_place() {
        let key = SoftwareKey::generate_oct(32).unwrap().with_kid("k");
        let extra = Header::new()
            .with("typ", "JWT")
            .with("cty", "JWT")
            .with("x-ext", serde_json::json!([1, {"b": true}]));
        assert!(serves(K::A256KW, Some(&extra)));
        let (cek, iv) = (vec![1u8; 32], vec![2u8; 12]);
        let OnePass::Token(fast) = encrypt(
            &key,
            K::A256KW,
            E::A256Gcm,
            b"the same plaintext",
            Some(&extra),
            Some((&cek, &iv)),
        )
        .unwrap() else {
            panic!("A256KW went to the builder")
        };
        let general = JweBuilder::new(E::A256Gcm)
            .protected(extra)
            .add_recipient(&key, K::A256KW, None)
            .unwrap()
            .with_cek(&cek)
            .with_iv(&iv)
            .encrypt(b"the same plaintext")
            .unwrap()
            .compact()
            .unwrap();
        assert_eq!(fast, general);
        let header = crate::base64url::decode("h", fast.split('.').next().unwrap()).unwrap();
        assert_eq!(
            std::str::from_utf8(&header).unwrap(),
            r#"{"alg":"A256KW","kid":"k","typ":"JWT","cty":"JWT","x-ext":[1,{"b":true}],"enc":"A256GCM"}"#
        );
    }

    #[test]
    fn only_the_algorithms_and_members_the_builder_does_not_place() {
        assert!(!serves(K::A128GCMKW, None));
        assert!(!serves(K::EcdhEs, None));
        assert!(!serves(K::EcdhEsA128KW, None));
        assert!(serves(K::RsaOaep256, None) && serves(K::Dir, None) && serves(K::A256KW, None));
        for member in ["alg", "enc", "kid", "zip", "crit", "apu"] {
            let extra = Header::new().with(member, "x");
            assert!(!serves(K::A256KW, Some(&extra)), "{member}");
        }
    }

    /// A backend whose AES key wrap adds a header member of its own.
    #[derive(Debug)]
    struct Annotating(SoftwareKey);

    impl KeyBackend for Annotating {
        fn kid(&self) -> Option<&str> {
            self.0.kid()
        }
        fn public_jwk(&self) -> Option<&crate::Jwk> {
            self.0.public_jwk()
        }
        fn algorithms(&self) -> &[Algorithm] {
            self.0.algorithms()
        }
        fn permits(&self, op: crate::jwk::KeyOp) -> bool {
            self.0.permits(op)
        }
        fn describe(&self) -> String {
            self.0.describe()
        }
        fn sign(&self, alg: crate::JwsAlgorithm, input: &[u8]) -> Result<Vec<u8>> {
            self.0.sign(alg, input)
        }
        fn verify(&self, alg: crate::JwsAlgorithm, input: &[u8], sig: &[u8]) -> Result<()> {
            self.0.verify(alg, input, sig)
        }
        fn wrap_key(&self, alg: KeyManagementAlgorithm, cek: &[u8]) -> Result<WrappedKey> {
            let mut wrapped = self.0.wrap_key(alg, cek)?;
            wrapped
                .header
                .insert("x-wrapped-by".into(), "annotating".into());
            Ok(wrapped)
        }
    }

    /// A key wrap that adds header members goes to the builder, which places them: the token
    /// carries the member and opens with the key.
    #[test]
    fn a_wrap_with_header_members_goes_to_the_builder() {
        let jwk = SoftwareKey::generate_oct(32).unwrap().jwk().clone();
        let inner = SoftwareKey::from_jwk(jwk.clone()).unwrap();
        let key = Annotating(SoftwareKey::from_jwk(jwk).unwrap());
        let went = encrypt(&key, K::A256KW, E::A256Gcm, b"x", None, None).ok();
        assert!(matches!(went, Some(OnePass::Builder(..))));
        let token = crate::jwe::encrypt_compact(&key, K::A256KW, E::A256Gcm, b"x", None).unwrap();
        let opened = decrypt_compact(&token, &inner, &[K::A256KW], &[E::A256Gcm]).unwrap();
        assert_eq!(opened.plaintext(), b"x");
        assert_eq!(
            opened.header().get("x-wrapped-by").and_then(|v| v.as_str()),
            Some("annotating")
        );
    }
}
