//! Section 4: jose-core alone beside `jsonwebtoken` (RustCrypto provider) and, as a reference,
//! `josekit` (OpenSSL), on the same keys, claims and tokens.
//!
//! Each library does what an application does with it: make a JWT from the claims (sign), or
//! check a JWT's signature and its `exp`, `iss` and `aud` and hand the claims back (verify). Keys
//! are parsed once, outside the loop, in whatever form each library takes them (jsonwebtoken
//! then re-reads its DER key on every operation: that is how its API works).

use std::cell::OnceCell;
use std::time::{SystemTime, UNIX_EPOCH};

use jose_core::jwk::{EcCurve, KeyMaterial};
use jose_core::{ContentEncryption as Enc, JwsAlgorithm, KeyManagementAlgorithm, SoftwareKey};
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
    pub(crate) jose_core: Rate,
    pub(crate) jsonwebtoken: Option<Rate>,
    pub(crate) josekit: Option<Rate>,
}

impl SoftRow {
    /// jose-core over jsonwebtoken, where both do the operation.
    pub(crate) fn ratio(&self) -> Option<f64> {
        self.jsonwebtoken
            .as_ref()
            .map(|j| self.jose_core.paired_ratio(j))
    }
}

/// The keys of one algorithm in each library's form.
struct Keys {
    jose: SoftwareKey,
    jose_public: SoftwareKey,
    jwt_enc: jsonwebtoken::EncodingKey,
    jwt_dec: jsonwebtoken::DecodingKey,
    kit_private: josekit::jwk::Jwk,
    kit_public: josekit::jwk::Jwk,
}

fn keys(jose: SoftwareKey) -> Keys {
    let jwk = jose.jwk();
    let public = jwk.to_public();
    let jose_public = match &public {
        Ok(p) => ok(SoftwareKey::from_jwk(p.clone()), "public key"),
        Err(_) => ok(SoftwareKey::from_jwk(jwk.clone()), "secret key"),
    };
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
            jsonwebtoken::EncodingKey::from_ec_der(&crate::der::p256_pkcs8(k)),
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
        JwsAlgorithm::ES256 => jsonwebtoken::Algorithm::ES256,
        JwsAlgorithm::EdDSA => jsonwebtoken::Algorithm::EdDSA,
        _ => fail("no jsonwebtoken counterpart"),
    }
}

fn kit_signer(alg: JwsAlgorithm, jwk: &josekit::jwk::Jwk) -> Box<dyn josekit::jws::JwsSigner> {
    use josekit::jws;
    let s: Box<dyn jws::JwsSigner> = match alg {
        JwsAlgorithm::HS256 => Box::new(ok(jws::HS256.signer_from_jwk(jwk), "josekit HS256")),
        JwsAlgorithm::RS256 => Box::new(ok(jws::RS256.signer_from_jwk(jwk), "josekit RS256")),
        JwsAlgorithm::ES256 => Box::new(ok(jws::ES256.signer_from_jwk(jwk), "josekit ES256")),
        _ => Box::new(ok(jws::EdDSA.signer_from_jwk(jwk), "josekit EdDSA")),
    };
    s
}

fn kit_verifier(alg: JwsAlgorithm, jwk: &josekit::jwk::Jwk) -> Box<dyn josekit::jws::JwsVerifier> {
    use josekit::jws;
    let v: Box<dyn jws::JwsVerifier> = match alg {
        JwsAlgorithm::HS256 => Box::new(ok(jws::HS256.verifier_from_jwk(jwk), "josekit HS256")),
        JwsAlgorithm::RS256 => Box::new(ok(jws::RS256.verifier_from_jwk(jwk), "josekit RS256")),
        JwsAlgorithm::ES256 => Box::new(ok(jws::ES256.verifier_from_jwk(jwk), "josekit ES256")),
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

    let mut ops: Vec<Op<'_>> = vec![
        Box::new(|| {
            ok(
                jwt::sign(&jose_claims, &k.jose, alg, None),
                "jose-core sign",
            );
        }),
        Box::new(|| {
            ok(
                jsonwebtoken::encode(&jwt_header, claims, &k.jwt_enc),
                "jsonwebtoken sign",
            );
        }),
        Box::new(|| {
            ok(
                josekit::jwt::encode_with_signer(&kit_payload, &kit_header, &*kit_signer),
                "josekit sign",
            );
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

    let mut ops: Vec<Op<'_>> = vec![
        Box::new(|| {
            let jwt = ok(
                jose_validation.verify(&token, &k.jose_public),
                "jose-core verify",
            );
            std::hint::black_box(jwt.claims().sub());
        }),
        Box::new(|| {
            let data = ok(
                jsonwebtoken::decode::<BenchClaims>(&token, &k.jwt_dec, &jwt_validation),
                "jsonwebtoken verify",
            );
            std::hint::black_box(&data.claims.sub);
        }),
        Box::new(|| {
            let (payload, _) = ok(
                josekit::jwt::decode_with_verifier(&token, &*kit_verifier),
                "josekit verify",
            );
            ok(kit_validator().validate(&payload), "josekit claims");
            std::hint::black_box(payload.subject());
        }),
    ];
    let rates = interleaved(plan, &mut ops);
    row(format!("{alg} verify"), rates, true)
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
    let key = ok(SoftwareKey::generate_oct(enc.key_len()), "content key");
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
    let decrypter = jwe::Decrypter::new(&[KeyManagementAlgorithm::Dir], &[enc]);
    let mut ops: Vec<Op<'_>> = vec![
        Box::new(|| {
            let d = ok(decrypter.decrypt(&token, &key), "jose-core decrypt");
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
        jsonwebtoken: None,
        josekit: rates.next(),
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

fn row(operation: String, rates: Vec<Rate>, with_jwt: bool) -> SoftRow {
    let mut rates = rates.into_iter();
    let jose_core = rates.next().unwrap_or_else(|| fail("rate"));
    let jsonwebtoken = if with_jwt { rates.next() } else { None };
    SoftRow {
        operation,
        jose_core,
        jsonwebtoken,
        josekit: rates.next(),
    }
}

/// Every row of section 4.
pub(crate) fn run(ctx: &Ctx) -> Vec<SoftRow> {
    let plan = &ctx.plan;
    let claims = BenchClaims::new();
    // Keys are made when a row first needs them (RSA generation takes a while).
    let (hs, rsa, ec, ed) = (
        OnceCell::new(),
        OnceCell::new(),
        OnceCell::new(),
        OnceCell::new(),
    );
    let hs = || hs.get_or_init(|| keys(ok(SoftwareKey::generate_oct(32), "HMAC key")));
    let rsa = || rsa.get_or_init(|| keys(ok(SoftwareKey::generate_rsa(2048), "RSA key")));
    let ec = || ec.get_or_init(|| keys(ok(SoftwareKey::generate_ec(EcCurve::P256), "P-256 key")));
    let ed = || ed.get_or_init(|| keys(ok(SoftwareKey::generate_ed25519(), "Ed25519 key")));
    let mut rows = Vec::new();
    let mut step = |name: &str, f: &mut dyn FnMut() -> SoftRow| {
        if ctx.start(&format!("software {name}")) {
            rows.push(f());
        }
    };
    step("HS256 sign", &mut || {
        sign_row(plan, JwsAlgorithm::HS256, hs(), &claims)
    });
    step("HS256 verify", &mut || {
        verify_row(plan, JwsAlgorithm::HS256, hs(), &claims)
    });
    step("RS256 verify", &mut || {
        verify_row(plan, JwsAlgorithm::RS256, rsa(), &claims)
    });
    step("ES256 sign", &mut || {
        sign_row(plan, JwsAlgorithm::ES256, ec(), &claims)
    });
    step("ES256 verify", &mut || {
        verify_row(plan, JwsAlgorithm::ES256, ec(), &claims)
    });
    step("EdDSA sign", &mut || {
        sign_row(plan, JwsAlgorithm::EdDSA, ed(), &claims)
    });
    step("EdDSA verify", &mut || {
        verify_row(plan, JwsAlgorithm::EdDSA, ed(), &claims)
    });
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
