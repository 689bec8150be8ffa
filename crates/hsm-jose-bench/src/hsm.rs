//! Sections 1, 2, 3 and 5: hsm-jose beside the raw `cryptoki` call that does the same token work
//! on the same key, one thread and several; key loading.

use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
use cryptoki::mechanism::elliptic_curve::{EcKdf, Ecdh1DeriveParams};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use hsm_core::key::{KeySelector, find_key};
use hsm_jose::{HsmJwk, SessionPool};
use jose_core::{
    Algorithm, ContentEncryption as Enc, JwsAlgorithm, KeyBackend, KeyManagementAlgorithm as Kma,
};
use jose_core::{base64url, jwe, jws};
use serde::Serialize;
use sha2::Digest;

use crate::harness::{Ctx, MakeOp, Op, Rate, interleaved, interleaved_threads};
use crate::soft::BenchClaims;
use crate::{fail, ok};

/// One signing algorithm on one token key.
#[derive(Debug, Clone, Copy)]
struct SignCase {
    name: &'static str,
    alg: JwsAlgorithm,
    label: &'static str,
}

const SIGN_CASES: &[SignCase] = &[
    SignCase {
        name: "RS256",
        alg: JwsAlgorithm::RS256,
        label: "rsa-2048",
    },
    SignCase {
        name: "PS256",
        alg: JwsAlgorithm::PS256,
        label: "rsa-2048",
    },
    SignCase {
        name: "ES256",
        alg: JwsAlgorithm::ES256,
        label: "ec-p256",
    },
    SignCase {
        name: "ES384",
        alg: JwsAlgorithm::ES384,
        label: "ec-p384",
    },
    SignCase {
        name: "ES512",
        alg: JwsAlgorithm::ES512,
        label: "ec-p521",
    },
    SignCase {
        name: "EdDSA Ed25519",
        alg: JwsAlgorithm::EdDSA,
        label: "ed25519",
    },
    SignCase {
        name: "EdDSA Ed448",
        alg: JwsAlgorithm::EdDSA,
        label: "ed448",
    },
];

/// Raw and hsm-jose throughput at one thread count.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Pair {
    pub(crate) threads: usize,
    pub(crate) raw: Rate,
    pub(crate) hsm_jose: Rate,
}

impl Pair {
    /// hsm-jose over raw, paired by round (see [`Rate::paired_ratio`]).
    pub(crate) fn ratio(&self) -> f64 {
        self.hsm_jose.paired_ratio(&self.raw)
    }
}

/// Sections 1 and 2 for one algorithm.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct SignRow {
    pub(crate) algorithm: String,
    pub(crate) key: String,
    /// What the raw cell calls, per operation.
    pub(crate) raw_call: String,
    /// `[0]` is one thread; then 2 threads, then one per core when there are more than 2.
    pub(crate) by_threads: Vec<Pair>,
}

impl SignRow {
    pub(crate) fn one(&self) -> &Pair {
        &self.by_threads[0]
    }

    /// Speed-up of raw and hsm-jose at `pair` over one thread.
    pub(crate) fn speedups(&self, pair: &Pair) -> (f64, f64) {
        let one = self.one();
        (
            pair.raw.ops_per_sec / one.raw.ops_per_sec,
            pair.hsm_jose.ops_per_sec / one.hsm_jose.ops_per_sec,
        )
    }
}

/// Section 3: one JWE decryption case.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct JweRow {
    pub(crate) case: String,
    pub(crate) key: String,
    pub(crate) raw_call: String,
    pub(crate) pair: Pair,
}

/// Section 5, timing part.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct LoadRow {
    pub(crate) key: String,
    pub(crate) rate: Rate,
}

pub(crate) fn raw_mechanism(alg: JwsAlgorithm, label: &str) -> Mechanism<'static> {
    match alg {
        JwsAlgorithm::RS256 => Mechanism::Sha256RsaPkcs,
        JwsAlgorithm::PS256 => Mechanism::Sha256RsaPkcsPss(PkcsPssParams {
            hash_alg: MechanismType::SHA256,
            mgf: PkcsMgfType::MGF1_SHA256,
            s_len: 32.into(),
        }),
        JwsAlgorithm::ES256 | JwsAlgorithm::ES384 | JwsAlgorithm::ES512 => Mechanism::Ecdsa,
        _ if label == "ed448" => {
            Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Ed448(&[])))
        }
        _ => Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Pure)),
    }
}

/// What the token signs: the JWS signing input, or its digest for ECDSA (hashed in software by
/// hsm-jose too; `CKM_ECDSA` signs a digest).
pub(crate) fn raw_input(alg: JwsAlgorithm, signing_input: &[u8]) -> Vec<u8> {
    match alg {
        JwsAlgorithm::ES256 => sha2::Sha256::digest(signing_input).to_vec(),
        JwsAlgorithm::ES384 => sha2::Sha384::digest(signing_input).to_vec(),
        JwsAlgorithm::ES512 => sha2::Sha512::digest(signing_input).to_vec(),
        _ => signing_input.to_vec(),
    }
}

/// The mechanism the raw cell of a signing row calls.
pub(crate) fn raw_mechanism_type(alg: JwsAlgorithm) -> MechanismType {
    match alg {
        JwsAlgorithm::RS256 => MechanismType::SHA256_RSA_PKCS,
        JwsAlgorithm::PS256 => MechanismType::SHA256_RSA_PKCS_PSS,
        JwsAlgorithm::ES256 | JwsAlgorithm::ES384 | JwsAlgorithm::ES512 => MechanismType::ECDSA,
        _ => MechanismType::EDDSA,
    }
}

/// The key `label` if a row with `alg` (raw cell on `raw`) can run on this token, or why not:
/// the key is absent, hsm-jose does not offer `alg` for it, or the token lacks the raw cell's
/// mechanism. A row is skipped rather than the bench stopped (every token lacks something).
pub(crate) fn usable(
    pool: &SessionPool,
    label: &str,
    alg: Algorithm,
    raw: MechanismType,
) -> Result<HsmJwk, String> {
    let key = HsmJwk::from_label(pool, label)
        .map_err(|e| format!("key `{label}` is not usable on this token: {e}"))?;
    if !key.algorithms().contains(&alg) {
        return Err(format!(
            "hsm-jose does not offer {alg} for `{label}` on this token"
        ));
    }
    if !pool.supports(raw) {
        return Err(format!("the token lacks {raw}, which the raw cell calls"));
    }
    Ok(key)
}

fn raw_call(alg: JwsAlgorithm) -> &'static str {
    match alg {
        JwsAlgorithm::ES256 | JwsAlgorithm::ES384 | JwsAlgorithm::ES512 => {
            "Session::sign(CKM_ECDSA, digest)"
        }
        JwsAlgorithm::RS256 => "Session::sign(CKM_SHA256_RSA_PKCS, signing input)",
        JwsAlgorithm::PS256 => "Session::sign(CKM_SHA256_RSA_PKCS_PSS, signing input)",
        _ => "Session::sign(CKM_EDDSA, signing input)",
    }
}

pub(crate) fn private_handle(pool: &SessionPool, label: &str) -> ObjectHandle {
    let session = ok(pool.session(), "a session");
    let info = ok(find_key(&session, &KeySelector::label(label)), label);
    info.private_or_secret()
        .unwrap_or_else(|| fail(&format!("{label} has no private object")))
}

/// The thread counts measured beyond one: 2, and one per core when there are more.
pub(crate) fn thread_counts() -> Vec<usize> {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let mut counts = vec![2];
    if cores > 2 {
        counts.push(cores);
    }
    counts
}

/// Sections 1 and 2.
pub(crate) fn sign(ctx: &Ctx, pool: &SessionPool) -> Vec<SignRow> {
    let plan = &ctx.plan;
    let payload = BenchClaims::new().json();
    let mut rows = Vec::new();
    for case in SIGN_CASES {
        if !ctx.start(&format!("HSM {} sign ({})", case.name, case.label)) {
            continue;
        }
        let name = format!("HSM {} sign ({})", case.name, case.label);
        let raw_type = raw_mechanism_type(case.alg);
        let key = match usable(pool, case.label, Algorithm::Jws(case.alg), raw_type) {
            Ok(key) => key,
            Err(reason) => {
                ctx.skip(&name, &reason);
                continue;
            }
        };
        let handle = private_handle(pool, case.label);
        // The raw call signs exactly what hsm-jose signs.
        let token = match jws::sign_compact(&key, case.alg, &payload, None) {
            Ok(token) => token,
            Err(e) => {
                ctx.skip(
                    &name,
                    &format!("hsm-jose offers it, but signing fails: {e}"),
                );
                continue;
            }
        };
        let signing_input = token
            .rsplit_once('.')
            .map(|(input, _)| input.as_bytes().to_vec())
            .unwrap_or_else(|| fail("compact JWS"));
        let input = raw_input(case.alg, &signing_input);
        let (alg, label) = (case.alg, case.label);
        let trial =
            ok(pool.session(), "a session").sign(&raw_mechanism(alg, label), handle, &input);
        if let Err(e) = trial {
            ctx.skip(&name, &format!("the raw {raw_type} call fails: {e}"));
            continue;
        }

        let mut by_threads = Vec::new();
        {
            let session = ok(pool.session(), "a session");
            let mut ops: Vec<Op<'_>> = vec![
                Box::new(|| {
                    ok(
                        session.sign(&raw_mechanism(alg, label), handle, &input),
                        "raw sign",
                    );
                }),
                Box::new(|| {
                    ok(
                        jws::sign_compact(&key, alg, &payload, None),
                        "hsm-jose sign",
                    );
                }),
            ];
            let rates = interleaved(plan, &mut ops);
            by_threads.push(pair(1, rates));
        }
        for threads in thread_counts() {
            let variants: Vec<MakeOp<'_>> = vec![
                Box::new(|_| {
                    let session = ok(pool.session(), "a session");
                    let input = &input;
                    Box::new(move || {
                        ok(
                            session.sign(&raw_mechanism(alg, label), handle, input),
                            "raw sign",
                        );
                    })
                }),
                Box::new(|_| {
                    let (key, payload) = (&key, &payload);
                    Box::new(move || {
                        ok(jws::sign_compact(key, alg, payload, None), "hsm-jose sign");
                    })
                }),
            ];
            let rates = interleaved_threads(plan, threads, &variants);
            by_threads.push(pair(threads, rates));
        }
        rows.push(SignRow {
            algorithm: case.name.into(),
            key: case.label.into(),
            raw_call: raw_call(case.alg).into(),
            by_threads,
        });
    }
    rows
}

fn pair(threads: usize, rates: Vec<Rate>) -> Pair {
    let mut rates = rates.into_iter();
    let (Some(raw), Some(hsm_jose)) = (rates.next(), rates.next()) else {
        fail("two rates")
    };
    Pair {
        threads,
        raw,
        hsm_jose,
    }
}

/// The template hsm-jose uses for the agreed secret it reads back.
fn ecdh_template(len: usize) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::GENERIC_SECRET),
        Attribute::Token(false),
        Attribute::Private(true),
        Attribute::Sensitive(false),
        Attribute::Extractable(true),
        Attribute::ValueLen((len as u64).into()),
    ]
}

fn oaep_sha1() -> Mechanism<'static> {
    Mechanism::RsaPkcsOaep(PkcsOaepParams::new(
        MechanismType::SHA1,
        PkcsMgfType::MGF1_SHA1,
        PkcsOaepSource::empty(),
    ))
}

/// The raw ECDH step: derive, read the value, destroy the session object.
fn raw_ecdh(session: &Session, handle: ObjectHandle, point: &[u8]) -> Vec<u8> {
    let params = Ecdh1DeriveParams::new(EcKdf::null(), point);
    let obj = ok(
        session.derive_key(&Mechanism::Ecdh1Derive(params), handle, &ecdh_template(32)),
        "C_DeriveKey",
    );
    let value = ok(
        session.get_attributes(obj, &[AttributeType::Value]),
        "read the secret",
    );
    ok(session.destroy_object(obj), "destroy the secret");
    match value.into_iter().next() {
        Some(Attribute::Value(v)) => v,
        _ => fail("no CKA_VALUE"),
    }
}

/// Section 3.
pub(crate) fn decrypt(ctx: &Ctx, pool: &SessionPool) -> Vec<JweRow> {
    let plan = &ctx.plan;
    let plaintext = vec![0x5a; 1024];
    let mut rows = Vec::new();
    for enc in [Enc::A256Gcm, Enc::A128CbcHs256] {
        if !ctx.start(&format!("HSM RSA-OAEP + {enc} decrypt")) {
            continue;
        }
        let name = format!("HSM RSA-OAEP + {enc} decrypt");
        let oaep = Algorithm::Jwe(Kma::RsaOaep);
        let key = match usable(pool, "rsa-2048", oaep, MechanismType::RSA_PKCS_OAEP) {
            Ok(key) => key,
            Err(reason) => {
                ctx.skip(&name, &reason);
                continue;
            }
        };
        let handle = private_handle(pool, "rsa-2048");
        let token = ok(
            jwe::encrypt_compact(&key, Kma::RsaOaep, enc, &plaintext, None),
            "JWE",
        );
        let encrypted_key = part(&token, 1);
        let decrypter = jwe::Decrypter::new(&[Kma::RsaOaep], &[enc]);
        if let Err(e) = decrypter.decrypt(&token, &key) {
            ctx.skip(
                &name,
                &format!("hsm-jose offers it, but decrypting fails: {e}"),
            );
            continue;
        }
        let session = ok(pool.session(), "a session");
        let mut ops: Vec<Op<'_>> = vec![
            Box::new(|| {
                let cek = ok(
                    session.decrypt(&oaep_sha1(), handle, &encrypted_key),
                    "raw C_Decrypt",
                );
                assert_eq!(cek.len(), enc.key_len());
            }),
            Box::new(|| {
                let d = ok(decrypter.decrypt(&token, &key), "hsm-jose decrypt");
                assert_eq!(d.plaintext().len(), plaintext.len());
            }),
        ];
        let rates = interleaved(plan, &mut ops);
        rows.push(JweRow {
            case: format!("RSA-OAEP + {enc}, 1 KiB"),
            key: "rsa-2048".into(),
            raw_call: "Session::decrypt(CKM_RSA_PKCS_OAEP SHA-1, encrypted key)".into(),
            pair: pair(1, rates),
        });
    }

    let name = "HSM ECDH-ES + A256GCM decrypt";
    if !ctx.start(name) {
        return rows;
    }
    let ecdh = Algorithm::Jwe(Kma::EcdhEs);
    let key = match usable(pool, "ec-p256", ecdh, MechanismType::ECDH1_DERIVE) {
        Ok(key) => key,
        Err(reason) => {
            ctx.skip(name, &reason);
            return rows;
        }
    };
    let handle = private_handle(pool, "ec-p256");
    let token = ok(
        jwe::encrypt_compact(&key, Kma::EcdhEs, Enc::A256Gcm, &plaintext, None),
        "JWE",
    );
    let trial = jwe::Decrypter::new(&[Kma::EcdhEs], &[Enc::A256Gcm]).decrypt(&token, &key);
    if let Err(e) = trial {
        ctx.skip(
            name,
            &format!("hsm-jose offers it, but decrypting fails: {e}"),
        );
        return rows;
    }
    let header: serde_json::Value = ok(serde_json::from_slice(&part(&token, 0)), "JWE header");
    let coordinate = |name: &str| {
        let text = header["epk"][name]
            .as_str()
            .unwrap_or_else(|| fail("epk coordinate"));
        ok(base64url::decode("epk", text), "epk coordinate")
    };
    let mut point = vec![4];
    point.extend(coordinate("x"));
    point.extend(coordinate("y"));
    let decrypter = jwe::Decrypter::new(&[Kma::EcdhEs], &[Enc::A256Gcm]);
    let session = ok(pool.session(), "a session");
    let mut ops: Vec<Op<'_>> = vec![
        Box::new(|| {
            let z = raw_ecdh(&session, handle, &point);
            assert_eq!(z.len(), 32);
        }),
        Box::new(|| {
            let d = ok(decrypter.decrypt(&token, &key), "hsm-jose decrypt");
            assert_eq!(d.plaintext().len(), plaintext.len());
        }),
    ];
    let rates = interleaved(plan, &mut ops);
    rows.push(JweRow {
        case: "ECDH-ES + A256GCM, 1 KiB".into(),
        key: "ec-p256".into(),
        raw_call: "C_DeriveKey(CKM_ECDH1_DERIVE) + C_GetAttributeValue + C_DestroyObject".into(),
        pair: pair(1, rates),
    });
    rows
}

fn part(token: &str, index: usize) -> Vec<u8> {
    let text = token
        .split('.')
        .nth(index)
        .unwrap_or_else(|| fail("compact JWE"));
    ok(base64url::decode("JWE part", text), "JWE part")
}

/// The keys whose loading is timed and counted.
pub(crate) const LOAD_KEYS: &[&str] = &["rsa-2048", "ec-p256", "ed25519"];

/// Section 5, timing: `HsmJwk::from_label` on a warm pool (an idle session is there).
pub(crate) fn load(ctx: &Ctx, pool: &SessionPool) -> Vec<LoadRow> {
    let plan = &ctx.plan;
    if !ctx.start("HSM key loading") {
        return Vec::new();
    }
    LOAD_KEYS
        .iter()
        .filter(|label| match HsmJwk::from_label(pool, label) {
            Ok(_) => true,
            Err(e) => {
                ctx.skip(&format!("HSM key loading ({label})"), &e.to_string());
                false
            }
        })
        .map(|label| {
            let mut ops: Vec<Op<'_>> = vec![Box::new(|| {
                std::hint::black_box(ok(HsmJwk::from_label(pool, label), "load"));
            })];
            let rate = interleaved(plan, &mut ops)
                .pop()
                .unwrap_or_else(|| fail("rate"));
            LoadRow {
                key: (*label).into(),
                rate,
            }
        })
        .collect()
}
