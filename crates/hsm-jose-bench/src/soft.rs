//! Section 4: jose-core alone, under each of its crypto providers (RustCrypto, aws-lc-rs), beside
//! `jsonwebtoken` (with `rust_crypto`, and with `aws_lc_rs` in a child process: its provider is
//! process-wide) and `josekit` (OpenSSL), on the same keys, claims and tokens; and the "bare
//! primitive" of each provider (the key's own sign/verify/unwrap call, no JOSE), so that the JOSE
//! overhead is visible.
//!
//! Each library does what an application does with it: make a JWT from the claims (sign), or
//! check a JWT's signature and its `exp`, `iss` and `aud` and hand the claims back (verify). Keys
//! are parsed once, outside the loop, in whatever form each library takes them (jsonwebtoken
//! then re-reads its DER key on every operation: that is how its API works).

use std::cell::OnceCell;
use std::time::{SystemTime, UNIX_EPOCH};

use jose_core::jwk::{EcCurve, KeyMaterial};
use jose_core::{
    ContentEncryption as Enc, Header, JwsAlgorithm, KeyBackend, KeyManagementAlgorithm, Provider,
    SoftwareKey,
};
use jose_core::{jwe, jwt};
use serde::{Deserialize, Serialize};

use crate::harness::{Ctx, Op, Plan, Rate, interleaved};
use crate::{fail, ok};

/// The claims every signed token carries (about 200 bytes of JSON).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct BenchClaims {
    iss: String,
    sub: String,
    aud: String,
    iat: i64,
    exp: i64,
    jti: String,
    name: String,
    admin: bool,
}

pub(crate) const ISSUER: &str = "https://issuer.example";
pub(crate) const AUDIENCE: &str = "hsm-jose-bench";

impl BenchClaims {
    pub(crate) fn new() -> Self {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        BenchClaims {
            iss: ISSUER.into(),
            sub: "user-1234567890".into(),
            aud: AUDIENCE.into(),
            iat: now,
            exp: now + 3600,
            jti: "4f1d7c2e-9b8a-4f65-a1d2-0c3b5e6f7a89".into(),
            name: "Benchmark User".into(),
            admin: false,
        }
    }

    pub(crate) fn json(&self) -> Vec<u8> {
        ok(serde_json::to_vec(self), "claims to JSON")
    }
}

/// One row of the software table.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct SoftRow {
    pub(crate) operation: String,
    /// jose-core with the RustCrypto provider.
    pub(crate) jose_core: Rate,
    /// jose-core with the aws-lc-rs provider.
    pub(crate) jose_core_aws_lc: Option<Rate>,
    /// jsonwebtoken with `rust_crypto` (measured interleaved with jose-core).
    pub(crate) jsonwebtoken: Option<Rate>,
    /// jsonwebtoken with `aws_lc_rs` (measured in a child process, interleaved there with
    /// jose-core[aws-lc-rs]).
    pub(crate) jsonwebtoken_aws_lc: Option<Rate>,
    /// jose-core[aws-lc-rs] measured in that child process, round by round with
    /// `jsonwebtoken_aws_lc`: the pair the ratio between the two comes from.
    pub(crate) jose_core_aws_lc_in_child: Option<Rate>,
    pub(crate) josekit: Option<Rate>,
    /// The RustCrypto provider's primitive alone (the key's `KeyBackend` call on the signing
    /// input, the content key, ...).
    pub(crate) bare_rust_crypto: Option<Rate>,
    /// The aws-lc-rs provider's primitive alone.
    pub(crate) bare_aws_lc: Option<Rate>,
}

impl SoftRow {
    /// jose-core[RustCrypto] over jsonwebtoken[rust_crypto], where both do the operation.
    pub(crate) fn ratio(&self) -> Option<f64> {
        self.jsonwebtoken
            .as_ref()
            .map(|j| self.jose_core.paired_ratio(j))
    }

    /// jose-core[aws-lc-rs] over jsonwebtoken[aws_lc_rs], both measured interleaved in the
    /// child process (jsonwebtoken's provider is process-wide).
    pub(crate) fn ratio_aws_lc(&self) -> Option<f64> {
        match (&self.jose_core_aws_lc_in_child, &self.jsonwebtoken_aws_lc) {
            (Some(a), Some(j)) => Some(a.paired_ratio(j)),
            _ => None,
        }
    }

    /// jose-core[aws-lc-rs] over josekit (OpenSSL).
    pub(crate) fn ratio_aws_lc_josekit(&self) -> Option<f64> {
        match (&self.jose_core_aws_lc, &self.josekit) {
            (Some(a), Some(k)) => Some(a.paired_ratio(k)),
            _ => None,
        }
    }

    /// jose-core over its provider's bare primitive (1.0 = no JOSE overhead), per provider.
    pub(crate) fn overhead(&self) -> [Option<f64>; 2] {
        [
            self.bare_rust_crypto
                .as_ref()
                .map(|b| self.jose_core.paired_ratio(b)),
            match (&self.jose_core_aws_lc, &self.bare_aws_lc) {
                (Some(a), Some(b)) => Some(a.paired_ratio(b)),
                _ => None,
            },
        ]
    }
}

/// The keys of one algorithm in each library's form.
struct Keys {
    jose: SoftwareKey,
    jose_public: SoftwareKey,
    aws: SoftwareKey,
    aws_public: SoftwareKey,
    jwt_enc: jsonwebtoken::EncodingKey,
    jwt_dec: jsonwebtoken::DecodingKey,
    kit_private: josekit::jwk::Jwk,
    kit_public: josekit::jwk::Jwk,
}

/// The keys of one algorithm. jose-core's keys name their provider: this crate enables jose-core's
/// `aws-lc-rs` feature, which makes aws-lc-rs the process default.
fn keys(generated: SoftwareKey) -> Keys {
    let rust_crypto = |jwk: &jose_core::Jwk, what| {
        ok(
            SoftwareKey::from_jwk_with(jwk.clone(), Provider::rust_crypto()),
            what,
        )
    };
    let jose = rust_crypto(generated.jwk(), "RustCrypto key");
    let jwk = jose.jwk();
    let public = jwk.to_public();
    let jose_public = match &public {
        Ok(p) => rust_crypto(p, "public key"),
        Err(_) => rust_crypto(jwk, "secret key"),
    };
    let aws = ok(
        SoftwareKey::from_jwk_with(jwk.clone(), Provider::aws_lc()),
        "aws-lc-rs key",
    );
    let aws_public = ok(
        SoftwareKey::from_jwk_with(jose_public.jwk().clone(), Provider::aws_lc()),
        "aws-lc-rs public key",
    );
    if (jose.provider().name(), aws.provider().name()) != ("rust-crypto", "aws-lc-rs") {
        fail("the bench keys do not use the providers their columns name");
    }
    let kit_private = ok(
        josekit::jwk::Jwk::from_bytes(jwk.to_private_json().as_bytes()),
        "josekit JWK",
    );
    let kit_public = match &public {
        Ok(p) => ok(
            josekit::jwk::Jwk::from_bytes(ok(p.to_public_json(), "public JWK").as_bytes()),
            "josekit public JWK",
        ),
        Err(_) => kit_private.clone(),
    };
    let (jwt_enc, jwt_dec) = match jwk.material() {
        KeyMaterial::Oct(k) => (
            jsonwebtoken::EncodingKey::from_secret(&k.k),
            jsonwebtoken::DecodingKey::from_secret(&k.k),
        ),
        KeyMaterial::Rsa(k) => (
            jsonwebtoken::EncodingKey::from_rsa_der(&crate::der::rsa_pkcs1(k)),
            jsonwebtoken::DecodingKey::from_rsa_raw_components(&k.n, &k.e),
        ),
        KeyMaterial::Ec(k) => (
            jsonwebtoken::EncodingKey::from_ec_der(&crate::der::ec_pkcs8(k)),
            ok(
                jsonwebtoken::DecodingKey::from_ec_components(
                    &jose_core::base64url::encode(&k.x),
                    &jose_core::base64url::encode(&k.y),
                ),
                "jsonwebtoken EC key",
            ),
        ),
        KeyMaterial::Okp(k) => (
            jsonwebtoken::EncodingKey::from_ed_der(&crate::der::ed25519_pkcs8(k)),
            ok(
                jsonwebtoken::DecodingKey::from_ed_components(&jose_core::base64url::encode(&k.x)),
                "jsonwebtoken Ed25519 key",
            ),
        ),
        _ => fail("unexpected key type"),
    };
    Keys {
        jose,
        jose_public,
        aws,
        aws_public,
        jwt_enc,
        jwt_dec,
        kit_private,
        kit_public,
    }
}

fn jwt_alg(alg: JwsAlgorithm) -> jsonwebtoken::Algorithm {
    match alg {
        JwsAlgorithm::HS256 => jsonwebtoken::Algorithm::HS256,
        JwsAlgorithm::RS256 => jsonwebtoken::Algorithm::RS256,
        JwsAlgorithm::PS256 => jsonwebtoken::Algorithm::PS256,
        JwsAlgorithm::ES256 => jsonwebtoken::Algorithm::ES256,
        JwsAlgorithm::ES384 => jsonwebtoken::Algorithm::ES384,
        JwsAlgorithm::EdDSA => jsonwebtoken::Algorithm::EdDSA,
        _ => fail("no jsonwebtoken counterpart"),
    }
}

fn kit_signer(alg: JwsAlgorithm, jwk: &josekit::jwk::Jwk) -> Box<dyn josekit::jws::JwsSigner> {
    use josekit::jws;
    let s: Box<dyn jws::JwsSigner> = match alg {
        JwsAlgorithm::HS256 => Box::new(ok(jws::HS256.signer_from_jwk(jwk), "josekit HS256")),
        JwsAlgorithm::RS256 => Box::new(ok(jws::RS256.signer_from_jwk(jwk), "josekit RS256")),
        JwsAlgorithm::PS256 => Box::new(ok(jws::PS256.signer_from_jwk(jwk), "josekit PS256")),
        JwsAlgorithm::ES256 => Box::new(ok(jws::ES256.signer_from_jwk(jwk), "josekit ES256")),
        JwsAlgorithm::ES384 => Box::new(ok(jws::ES384.signer_from_jwk(jwk), "josekit ES384")),
        _ => Box::new(ok(jws::EdDSA.signer_from_jwk(jwk), "josekit EdDSA")),
    };
    s
}

fn kit_verifier(alg: JwsAlgorithm, jwk: &josekit::jwk::Jwk) -> Box<dyn josekit::jws::JwsVerifier> {
    use josekit::jws;
    let v: Box<dyn jws::JwsVerifier> = match alg {
        JwsAlgorithm::HS256 => Box::new(ok(jws::HS256.verifier_from_jwk(jwk), "josekit HS256")),
        JwsAlgorithm::RS256 => Box::new(ok(jws::RS256.verifier_from_jwk(jwk), "josekit RS256")),
        JwsAlgorithm::PS256 => Box::new(ok(jws::PS256.verifier_from_jwk(jwk), "josekit PS256")),
        JwsAlgorithm::ES256 => Box::new(ok(jws::ES256.verifier_from_jwk(jwk), "josekit ES256")),
        JwsAlgorithm::ES384 => Box::new(ok(jws::ES384.verifier_from_jwk(jwk), "josekit ES384")),
        _ => Box::new(ok(jws::EdDSA.verifier_from_jwk(jwk), "josekit EdDSA")),
    };
    v
}

/// Signing: each library makes a JWT of the claims.
fn sign_row(plan: &Plan, alg: JwsAlgorithm, k: &Keys, claims: &BenchClaims) -> SoftRow {
    let jose_claims = ok(jwt::Claims::from_serialize(claims), "claims");
    let jwt_header = jsonwebtoken::Header::new(jwt_alg(alg));
    let kit_signer = kit_signer(alg, &k.kit_private);
    let kit_payload = kit_payload(claims);
    let mut kit_header = josekit::jws::JwsHeader::new();
    kit_header.set_token_type("JWT");

    // The bare primitive signs what jose-core signs: the signing input of the same JWT.
    let token = ok(jwt::sign(&jose_claims, &k.jose, alg, None), "token");
    let input = signing_input(&token);
    let mut ops: Vec<Op<'_>> = vec![
        jose_sign(&jose_claims, &k.jose, alg, "jose-core sign"),
        jose_sign(&jose_claims, &k.aws, alg, "jose-core[aws-lc-rs] sign"),
        jwt_sign(&jwt_header, claims, k, "jsonwebtoken sign"),
        Box::new(|| {
            ok(
                josekit::jwt::encode_with_signer(&kit_payload, &kit_header, &*kit_signer),
                "josekit sign",
            );
        }),
        Box::new(|| {
            ok(k.jose.sign(alg, input), "RustCrypto sign");
        }),
        Box::new(|| {
            ok(k.aws.sign(alg, input), "aws-lc-rs sign");
        }),
    ];
    let rates = interleaved(plan, &mut ops);
    row(format!("{alg} sign"), rates, true)
}

fn kit_payload(claims: &BenchClaims) -> josekit::jwt::JwtPayload {
    let value = ok(serde_json::to_value(claims), "claims");
    let serde_json::Value::Object(map) = value else {
        fail("claims are an object")
    };
    ok(josekit::jwt::JwtPayload::from_map(map), "josekit payload")
}

/// Verification: each library checks the signature of the same token (made by jose-core) and
/// the claims `exp`, `iss` and `aud`, and returns the claims.
fn verify_row(plan: &Plan, alg: JwsAlgorithm, k: &Keys, claims: &BenchClaims) -> SoftRow {
    let jose_claims = ok(jwt::Claims::from_serialize(claims), "claims");
    let token = ok(jwt::sign(&jose_claims, &k.jose, alg, None), "token");
    let jose_validation = jwt::Validation::new()
        .jws_algorithms(&[alg])
        .issuer(ISSUER)
        .audience(AUDIENCE);
    let mut jwt_validation = jsonwebtoken::Validation::new(jwt_alg(alg));
    jwt_validation.set_issuer(&[ISSUER]);
    jwt_validation.set_audience(&[AUDIENCE]);
    let kit_verifier = kit_verifier(alg, &k.kit_public);

    // Every library accepts the token before anything is timed.
    let check = |v: &BenchClaims| v.sub == claims.sub;
    let decoded = ok(
        jsonwebtoken::decode::<BenchClaims>(&token, &k.jwt_dec, &jwt_validation),
        "jsonwebtoken accepts jose-core's token",
    );
    assert!(check(&decoded.claims));
    let (payload, _) = ok(
        josekit::jwt::decode_with_verifier(&token, &*kit_verifier),
        "josekit accepts jose-core's token",
    );
    ok(kit_validator().validate(&payload), "josekit claims");

    let input = signing_input(&token);
    let signature = ok(
        jose_core::base64url::decode("signature", token.rsplit('.').next().unwrap_or("")),
        "signature",
    );
    let mut ops: Vec<Op<'_>> = vec![
        jose_verify(&jose_validation, &token, &k.jose_public, "jose-core verify"),
        jose_verify(
            &jose_validation,
            &token,
            &k.aws_public,
            "jose-core[aws-lc-rs] verify",
        ),
        jwt_verify(&jwt_validation, &token, k, "jsonwebtoken verify"),
        Box::new(|| {
            let (payload, _) = ok(
                josekit::jwt::decode_with_verifier(&token, &*kit_verifier),
                "josekit verify",
            );
            ok(kit_validator().validate(&payload), "josekit claims");
            std::hint::black_box(payload.subject());
        }),
        Box::new(|| {
            ok(
                k.jose_public.verify(alg, input, &signature),
                "RustCrypto verify",
            );
        }),
        Box::new(|| {
            ok(
                k.aws_public.verify(alg, input, &signature),
                "aws-lc-rs verify",
            );
        }),
    ];
    let rates = interleaved(plan, &mut ops);
    row(format!("{alg} verify"), rates, true)
}

/// jose-core making a JWT of `claims` with `key` (one bench operation).
fn jose_sign<'a>(
    claims: &'a jwt::Claims,
    key: &'a SoftwareKey,
    alg: JwsAlgorithm,
    what: &'static str,
) -> Op<'a> {
    Box::new(move || {
        ok(jwt::sign(claims, key, alg, None), what);
    })
}

/// jsonwebtoken making a JWT of the bench's claims (one bench operation).
fn jwt_sign<'a>(
    header: &'a jsonwebtoken::Header,
    claims: &'a BenchClaims,
    k: &'a Keys,
    what: &'static str,
) -> Op<'a> {
    Box::new(move || {
        ok(jsonwebtoken::encode(header, claims, &k.jwt_enc), what);
    })
}

/// jose-core's verification of a JWT with `key`, returning the claims (one bench operation).
fn jose_verify<'a>(
    validation: &'a jwt::Validation,
    token: &'a str,
    key: &'a SoftwareKey,
    what: &'static str,
) -> Op<'a> {
    Box::new(move || {
        let jwt = ok(validation.verify(token, key), what);
        std::hint::black_box(jwt.claims().sub());
    })
}

/// jsonwebtoken's verification of a JWT into the bench's claims type (one bench operation).
fn jwt_verify<'a>(
    validation: &'a jsonwebtoken::Validation,
    token: &'a str,
    k: &'a Keys,
    what: &'static str,
) -> Op<'a> {
    Box::new(move || {
        let data = ok(
            jsonwebtoken::decode::<BenchClaims>(token, &k.jwt_dec, validation),
            what,
        );
        std::hint::black_box(&data.claims.sub);
    })
}

fn kit_validator() -> josekit::jwt::JwtPayloadValidator {
    let mut v = josekit::jwt::JwtPayloadValidator::new();
    v.set_base_time(SystemTime::now());
    v.set_issuer(ISSUER);
    v.set_audience(AUDIENCE);
    v
}

/// JWE content decryption (`dir`, so only the content algorithm works): jose-core and josekit
/// open the same token (jsonwebtoken has no JWE).
fn decrypt_row(plan: &Plan, enc: Enc) -> SoftRow {
    let key = ok(
        SoftwareKey::from_jwk_with(
            ok(jose_core::Jwk::generate_oct(enc.key_len()), "content key"),
            Provider::rust_crypto(),
        ),
        "content key",
    );
    let KeyMaterial::Oct(k) = key.jwk().material() else {
        fail("oct key")
    };
    let kit_decrypter = ok(
        josekit::jwe::Dir.decrypter_from_bytes(&k.k),
        "josekit dir decrypter",
    );
    let plaintext = vec![0x5a; 1024];
    let token = ok(
        jwe::encrypt_compact(&key, KeyManagementAlgorithm::Dir, enc, &plaintext, None),
        "JWE",
    );
    let (opened, _) = ok(
        josekit::jwe::deserialize_compact(&token, &kit_decrypter),
        "josekit opens jose-core's JWE",
    );
    assert_eq!(opened, plaintext);
    let aws = ok(
        SoftwareKey::from_jwk_with(key.jwk().clone(), Provider::aws_lc()),
        "aws-lc-rs key",
    );
    let decrypter = jwe::Decrypter::new(&[KeyManagementAlgorithm::Dir], &[enc]);
    let mut ops: Vec<Op<'_>> = vec![
        Box::new(|| {
            let d = ok(decrypter.decrypt(&token, &key), "jose-core decrypt");
            std::hint::black_box(d.plaintext().len());
        }),
        Box::new(|| {
            let d = ok(
                decrypter.decrypt(&token, &aws),
                "jose-core[aws-lc-rs] decrypt",
            );
            std::hint::black_box(d.plaintext().len());
        }),
        Box::new(|| {
            let (p, _) = ok(
                josekit::jwe::deserialize_compact(&token, &kit_decrypter),
                "josekit decrypt",
            );
            std::hint::black_box(p.len());
        }),
    ];
    let rates = interleaved(plan, &mut ops);
    let mut rates = rates.into_iter();
    SoftRow {
        operation: format!("{enc} decrypt 1 KiB (dir)"),
        jose_core: rates.next().unwrap_or_else(|| fail("rate")),
        jose_core_aws_lc: rates.next(),
        jsonwebtoken: None,
        jsonwebtoken_aws_lc: None,
        jose_core_aws_lc_in_child: None,
        josekit: rates.next(),
        bare_rust_crypto: None,
        bare_aws_lc: None,
    }
}

/// `BASE64URL(header) '.' BASE64URL(payload)` of a compact token.
fn signing_input(token: &str) -> &[u8] {
    let end = token.rfind('.').unwrap_or(token.len());
    &token.as_bytes()[..end]
}

/// RSA-OAEP-256 with A256GCM, 1 KiB: encryption to the public key (jose-core under each
/// provider, josekit) and decryption with the private key; the bare primitive is the RSA step.
fn oaep_row(plan: &Plan, k: &Keys, decrypt: bool) -> SoftRow {
    use josekit::jwe::{JweHeader, RSA_OAEP_256};
    let alg = KeyManagementAlgorithm::RsaOaep256;
    let enc = Enc::A256Gcm;
    let plaintext = vec![0x5a; 1024];
    let kit_encrypter = ok(
        RSA_OAEP_256.encrypter_from_jwk(&k.kit_public),
        "josekit encrypter",
    );
    let kit_decrypter = ok(
        RSA_OAEP_256.decrypter_from_jwk(&k.kit_private),
        "josekit decrypter",
    );
    let mut kit_header = JweHeader::new();
    kit_header.set_content_encryption("A256GCM");
    let token = ok(
        jwe::encrypt_compact(&k.jose_public, alg, enc, &plaintext, None),
        "JWE",
    );
    let (opened, _) = ok(
        josekit::jwe::deserialize_compact(&token, &kit_decrypter),
        "josekit opens jose-core's JWE",
    );
    assert_eq!(opened, plaintext);
    let encrypted_key = ok(
        jose_core::base64url::decode("encrypted key", token.split('.').nth(1).unwrap_or("")),
        "encrypted key",
    );
    let cek = [7u8; 32];
    let decrypter = jwe::Decrypter::new(&[alg], &[enc]);
    let header = Header::new();
    let mut ops: Vec<Op<'_>> = if decrypt {
        vec![
            Box::new(|| {
                let d = ok(decrypter.decrypt(&token, &k.jose), "jose-core decrypt");
                std::hint::black_box(d.plaintext().len());
            }),
            Box::new(|| {
                let d = ok(
                    decrypter.decrypt(&token, &k.aws),
                    "jose-core[aws-lc-rs] decrypt",
                );
                std::hint::black_box(d.plaintext().len());
            }),
            Box::new(|| {
                let (p, _) = ok(
                    josekit::jwe::deserialize_compact(&token, &kit_decrypter),
                    "josekit decrypt",
                );
                std::hint::black_box(p.len());
            }),
            Box::new(|| {
                let c = ok(
                    k.jose.unwrap_key(alg, &encrypted_key, &header, enc),
                    "RustCrypto unwrap",
                );
                std::hint::black_box(c.len());
            }),
            Box::new(|| {
                let c = ok(
                    k.aws.unwrap_key(alg, &encrypted_key, &header, enc),
                    "aws-lc-rs unwrap",
                );
                std::hint::black_box(c.len());
            }),
        ]
    } else {
        vec![
            Box::new(|| {
                let t = ok(
                    jwe::encrypt_compact(&k.jose_public, alg, enc, &plaintext, None),
                    "jose-core encrypt",
                );
                std::hint::black_box(t.len());
            }),
            Box::new(|| {
                let t = ok(
                    jwe::encrypt_compact(&k.aws_public, alg, enc, &plaintext, None),
                    "jose-core[aws-lc-rs] encrypt",
                );
                std::hint::black_box(t.len());
            }),
            Box::new(|| {
                let t = ok(
                    josekit::jwe::serialize_compact(&plaintext, &kit_header, &*kit_encrypter),
                    "josekit encrypt",
                );
                std::hint::black_box(t.len());
            }),
            Box::new(|| {
                let w = ok(k.jose_public.wrap_key(alg, &cek), "RustCrypto wrap");
                std::hint::black_box(w.encrypted_key.len());
            }),
            Box::new(|| {
                let w = ok(k.aws_public.wrap_key(alg, &cek), "aws-lc-rs wrap");
                std::hint::black_box(w.encrypted_key.len());
            }),
        ]
    };
    let rates = interleaved(plan, &mut ops);
    let mut rates = rates.into_iter();
    let mut next = || rates.next();
    SoftRow {
        operation: format!(
            "RSA-OAEP-256 {} A256GCM 1 KiB",
            if decrypt { "decrypt" } else { "encrypt" }
        ),
        jose_core: next().unwrap_or_else(|| fail("rate")),
        jose_core_aws_lc: next(),
        jsonwebtoken: None,
        jsonwebtoken_aws_lc: None,
        jose_core_aws_lc_in_child: None,
        josekit: next(),
        bare_rust_crypto: next(),
        bare_aws_lc: next(),
    }
}

/// JWS JSON verification of a token near the signature cap (16): 15 HS256 signatures by other
/// keys, then one by the verifier's key, over a payload of `len` bytes; and the same token
/// with all 16 signatures forged (no `kid`, so every one is tried and fails). jose-core alone
/// (the peers have no general JSON serialization). The cost must grow with the token's size:
/// the rows at 64 KiB and 1 MiB differ by about 16x, and the forged token costs at most the
/// cap times one HMAC over the payload.
fn json_many_signatures_row(plan: &Plan, len: usize, forged: bool) -> SoftRow {
    use jose_core::{Header, jws};
    let payload = vec![0x5a; len];
    let mine = ok(SoftwareKey::generate_oct(32), "HMAC key").with_kid("mine");
    let mut builder = jws::JwsBuilder::new(&payload);
    for i in 0..jws::DEFAULT_MAX_SIGNATURES {
        // The builder puts each key's `kid` into its header; a forged signature's key has
        // none, so a verifier must try it.
        let other = ok(SoftwareKey::generate_oct(32), "HMAC key");
        let other = if forged {
            other
        } else {
            other.with_kid(format!("other-{i}"))
        };
        let key = if !forged && i + 1 == jws::DEFAULT_MAX_SIGNATURES {
            &mine
        } else {
            &other
        };
        builder = ok(
            builder.add_signature(key, JwsAlgorithm::HS256, Header::new(), None),
            "signature",
        );
    }
    let token = ok(builder.general_json(), "JWS JSON");
    let verify = || jws::verify_json(&token, &mine, &[JwsAlgorithm::HS256]);
    match (forged, verify()) {
        (false, Ok(v)) => assert_eq!(v.payload().len(), len),
        (true, Err(jose_core::Error::Verification)) => {}
        (_, other) => fail(&format!("unexpected verification result: {other:?}")),
    }
    let mut ops: Vec<Op<'_>> = vec![Box::new(|| {
        let _ = std::hint::black_box(verify());
    })];
    let rates = interleaved(plan, &mut ops);
    let what = if forged {
        "16 forged signatures, refused"
    } else {
        "16 signatures"
    };
    row(
        format!("HS256 JSON verify, {what}, {} KiB", len / 1024),
        rates,
        false,
    )
}

/// A row from rates in the order jose-core, jose-core[aws-lc-rs], jsonwebtoken, josekit, bare
/// RustCrypto, bare aws-lc-rs (`full`), or jose-core alone.
fn row(operation: String, rates: Vec<Rate>, full: bool) -> SoftRow {
    let mut rates = rates.into_iter();
    let jose_core = rates.next().unwrap_or_else(|| fail("rate"));
    let mut next = || if full { rates.next() } else { None };
    SoftRow {
        operation,
        jose_core,
        jose_core_aws_lc: next(),
        jsonwebtoken: next(),
        jsonwebtoken_aws_lc: None,
        jose_core_aws_lc_in_child: None,
        josekit: next(),
        bare_rust_crypto: next(),
        bare_aws_lc: next(),
    }
}

/// The algorithms of the signing rows, in table order, with the key type each needs.
const SIGNING: [JwsAlgorithm; 6] = [
    JwsAlgorithm::HS256,
    JwsAlgorithm::RS256,
    JwsAlgorithm::PS256,
    JwsAlgorithm::ES256,
    JwsAlgorithm::ES384,
    JwsAlgorithm::EdDSA,
];

/// Keys made when a row first needs them (RSA generation takes a while).
#[derive(Default)]
struct KeyCache {
    hs: OnceCell<Keys>,
    rsa: OnceCell<Keys>,
    p256: OnceCell<Keys>,
    p384: OnceCell<Keys>,
    ed: OnceCell<Keys>,
}

impl KeyCache {
    fn for_alg(&self, alg: JwsAlgorithm) -> &Keys {
        fn make<'c>(
            cell: &'c OnceCell<Keys>,
            f: &dyn Fn() -> jose_core::Result<SoftwareKey>,
        ) -> &'c Keys {
            cell.get_or_init(|| keys(ok(f(), "bench key")))
        }
        match alg {
            JwsAlgorithm::HS256 => make(&self.hs, &|| SoftwareKey::generate_oct(32)),
            JwsAlgorithm::RS256 | JwsAlgorithm::PS256 => {
                make(&self.rsa, &|| SoftwareKey::generate_rsa(2048))
            }
            JwsAlgorithm::ES256 => make(&self.p256, &|| SoftwareKey::generate_ec(EcCurve::P256)),
            JwsAlgorithm::ES384 => make(&self.p384, &|| SoftwareKey::generate_ec(EcCurve::P384)),
            JwsAlgorithm::EdDSA => make(&self.ed, &|| SoftwareKey::generate_ed25519()),
            other => fail(&format!("no bench key for {other}")),
        }
    }
}

/// Every row of section 4. jsonwebtoken[aws_lc_rs] is filled in by [`jsonwebtoken_aws_lc`]
/// from a child process.
pub(crate) fn run(ctx: &Ctx) -> Vec<SoftRow> {
    let plan = &ctx.plan;
    let claims = BenchClaims::new();
    let cache = KeyCache::default();
    let mut rows = Vec::new();
    let mut step = |name: &str, f: &mut dyn FnMut() -> SoftRow| {
        if ctx.start(&format!("software {name}")) {
            rows.push(f());
        }
    };
    for alg in SIGNING {
        step(&format!("{alg} sign"), &mut || {
            sign_row(plan, alg, cache.for_alg(alg), &claims)
        });
        step(&format!("{alg} verify"), &mut || {
            verify_row(plan, alg, cache.for_alg(alg), &claims)
        });
    }
    for decrypt in [false, true] {
        let what = if decrypt { "decrypt" } else { "encrypt" };
        step(&format!("RSA-OAEP-256 {what}"), &mut || {
            oaep_row(plan, cache.for_alg(JwsAlgorithm::RS256), decrypt)
        });
    }
    for (len, forged) in [(64 << 10, false), (1 << 20, false), (1 << 20, true)] {
        step(
            &format!(
                "HS256 JSON verify {} KiB{}",
                len >> 10,
                if forged { " forged" } else { "" }
            ),
            &mut || json_many_signatures_row(plan, len, forged),
        );
    }
    step("A256GCM decrypt", &mut || decrypt_row(plan, Enc::A256Gcm));
    step("A128CBC-HS256 decrypt", &mut || {
        decrypt_row(plan, Enc::A128CbcHs256)
    });
    rows
}

/// The child side of the jsonwebtoken[aws_lc_rs] column: installs jsonwebtoken's aws-lc-rs
/// provider (process-wide) and measures its sign and verify rows interleaved with jose-core's
/// (aws-lc-rs provider), keyed by operation name: (operation, jose-core, jsonwebtoken).
pub(crate) fn jsonwebtoken_only(plan: &Plan) -> Vec<(String, Rate, Rate)> {
    if jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER
        .install_default()
        .is_err()
    {
        fail("jsonwebtoken's provider was already installed");
    }
    let claims = BenchClaims::new();
    let cache = KeyCache::default();
    let mut out = Vec::new();
    for alg in SIGNING {
        let k = cache.for_alg(alg);
        let header = jsonwebtoken::Header::new(jwt_alg(alg));
        let jose_claims = ok(jwt::Claims::from_serialize(&claims), "claims");
        let mut ops: Vec<Op<'_>> = vec![
            jose_sign(&jose_claims, &k.aws, alg, "jose-core[aws-lc-rs] sign"),
            jwt_sign(&header, &claims, k, "jsonwebtoken[aws_lc_rs] sign"),
        ];
        if let [jose, jwt] = &interleaved(plan, &mut ops)[..] {
            out.push((format!("{alg} sign"), jose.clone(), jwt.clone()));
        }
        let token = ok(jwt::sign(&jose_claims, &k.jose, alg, None), "token");
        let jose_validation = jwt::Validation::new()
            .jws_algorithms(&[alg])
            .issuer(ISSUER)
            .audience(AUDIENCE);
        let mut validation = jsonwebtoken::Validation::new(jwt_alg(alg));
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        let mut ops: Vec<Op<'_>> = vec![
            jose_verify(
                &jose_validation,
                &token,
                &k.aws_public,
                "jose-core[aws-lc-rs] verify",
            ),
            jwt_verify(&validation, &token, k, "jsonwebtoken[aws_lc_rs] verify"),
        ];
        if let [jose, jwt] = &interleaved(plan, &mut ops)[..] {
            out.push((format!("{alg} verify"), jose.clone(), jwt.clone()));
        }
    }
    out
}
