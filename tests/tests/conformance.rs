//! The conformance suite: one suite, run once per PKCS#11 implementation by
//! `cargo xtask test-hsm --token NAME` (and on SoftHSM with the other suites).
//!
//! For each fixture key of the implementation's profile (`hsm_jose_tests::TOKEN_PROFILES`):
//!
//! * every algorithm `HsmJwk::algorithms()` offers works end to end: signatures are verified in
//!   software against the public JWK alone (HMAC in the token: a secret key has no public JWK),
//!   JWEs made in software to the public JWK decrypt in the token (AES keys: made by the token
//!   key itself), and a tampered signature or ciphertext fails opaquely;
//! * an algorithm is offered exactly when the token's mechanism list (`C_GetMechanismList`,
//!   with the flag the operation needs from `C_GetMechanismInfo`) can run it, directly or
//!   through a fallback this file names (RS* on `CKM_RSA_PKCS` with a software DigestInfo, PS*
//!   on `CKM_RSA_PKCS_PSS` with a software digest, ES* on `CKM_ECDSA_SHA*` where `CKM_ECDSA`
//!   is missing). tpm2-pkcs11's P-521 keys, whose `CKA_EC_POINT` the module stores in a form it
//!   cannot read back, sign ES512 after loading rewrites the point in DER. RSA-OAEP-256 depends on whether the token's
//!   OAEP takes SHA-256, which no mechanism flag tells: it may be offered or not, and works when
//!   offered;
//! * every algorithm not offered fails before any token call, with
//!   `AlgorithmError::NotSupportedByDevice` when the key would fit it and the token lacks the
//!   mechanism, or `AlgorithmError::KeyMismatch` when the key cannot serve it at all;
//! * a fixture key that provisioning could not generate (through hsm-core) is absent only
//!   where generating it again fails with the typed `hsm_core::Error::CannotGenerate`;
//!   a key that was made (by hsm-core or by `pkcs11-tool`) loads.
//!
//! The suite writes what it found, token x operation (direct, fallback, not offered, and
//! failures), to `target/conformance/<implementation>.md` and `.tsv`; `cargo xtask tokens-doc`
//! puts the tables of all five into `docs/tokens.md`.
//!
//! Environment (set by xtask): `HSM_MODULE`, `HSM_PIN`, `HSM_SO_PIN`, the module's own
//! variables, `HSM_TOKEN` (default: `conformance`, the suite's SoftHSM token),
//! `HSM_IMPLEMENTATION` (default `softhsm`) and `HSM_GENERATION_REPORT` (provisioning's
//! record of key generation, `label<TAB>outcome`; optional on SoftHSM, where provisioning
//! stops at the first failure).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use hsm_core::cryptoki::mechanism::{MechanismInfo, MechanismType};
use hsm_core::{EcCurve, EdCurve, KeySpec, SecretSpec, SessionPool};
use hsm_jose::HsmJwk;
use hsm_jose::jose_core::error::{AlgorithmError, Error as JoseError};
use hsm_jose::jose_core::{
    Algorithm, ContentEncryption, JwsAlgorithm, KeyBackend, KeyManagementAlgorithm, SoftwareKey,
    base64url, jwe, jws,
};
use hsm_jose_tests::fixture;
use hsm_jose_tests::fixture_keys::{
    CONFORMANCE_TOKEN, FixtureSpec, TokenProfile, fixture_key, token_profile,
};

use JwsAlgorithm as J;
use KeyManagementAlgorithm as K;

/// The implementation under test and its token.
struct Target {
    implementation: String,
    profile: &'static TokenProfile,
    pool: SessionPool,
    /// The token's mechanisms with their info, read once.
    mechanisms: Vec<(MechanismType, MechanismInfo)>,
    /// Provisioning's record: label -> outcome.
    generation: BTreeMap<String, String>,
}

fn target() -> Target {
    let implementation =
        std::env::var("HSM_IMPLEMENTATION").unwrap_or_else(|_| "softhsm".to_owned());
    let profile = token_profile(&implementation)
        .unwrap_or_else(|| panic!("HSM_IMPLEMENTATION={implementation}: no such profile"));
    let label = std::env::var("HSM_TOKEN").unwrap_or_else(|_| CONFORMANCE_TOKEN.to_owned());
    let pool = match fixture::token(&label).builder().build() {
        Ok(pool) => pool,
        Err(e) => {
            // The table says so too, so that `cargo xtask tokens-doc` shows the token.
            let dir = output_dir();
            let md = format!(
                "# Conformance: {implementation}\n\nThe token `{label}` cannot be opened: {e}\n"
            );
            let tsv = format!("(token)\t-\tnot opened\tFAIL: opening a pool: {e}\n");
            std::fs::write(dir.join(format!("{implementation}.md")), md).unwrap();
            std::fs::write(dir.join(format!("{implementation}.tsv")), tsv).unwrap();
            panic!("{implementation}: cannot open a pool on token {label}: {e}");
        }
    };
    let pkcs11 = pool.module().pkcs11();
    // Asked here rather than taken from the pool, so that the suite checks the library's
    // reading of the token against the token itself.
    let mechanisms = pkcs11
        .get_mechanism_list(pool.slot())
        .unwrap_or_else(|e| panic!("C_GetMechanismList: {e}"))
        .into_iter()
        .map(|m| {
            let info = pkcs11
                .get_mechanism_info(pool.slot(), m)
                .unwrap_or_else(|e| panic!("C_GetMechanismInfo({m}): {e}"));
            (m, info)
        })
        .collect();
    let generation = match std::env::var("HSM_GENERATION_REPORT") {
        Ok(path) => std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
            .lines()
            .filter_map(|l| l.split_once('\t'))
            .map(|(label, outcome)| (label.to_owned(), outcome.replace('\t', ": ")))
            .collect(),
        Err(_) => BTreeMap::new(),
    };
    Target {
        implementation,
        profile,
        pool,
        mechanisms,
        generation,
    }
}

/// What kind of key a fixture is, as the suite states it (independently of the token).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// RSA with this modulus size in bits.
    Rsa(usize),
    Ec(EcCurve),
    Ed(EdCurve),
    Aes(usize),
    Hmac(usize),
}

fn kind_of(spec: FixtureSpec) -> Kind {
    match spec {
        FixtureSpec::Pair(KeySpec::Rsa(bits)) => Kind::Rsa(bits),
        FixtureSpec::Pair(KeySpec::Ec(curve)) => Kind::Ec(curve),
        FixtureSpec::Pair(KeySpec::Ed25519) | FixtureSpec::Ed25519Printable => {
            Kind::Ed(EdCurve::Ed25519)
        }
        FixtureSpec::Pair(KeySpec::Ed448) => Kind::Ed(EdCurve::Ed448),
        FixtureSpec::Secret(SecretSpec::Aes(bytes)) => Kind::Aes(bytes),
        FixtureSpec::Secret(SecretSpec::Hmac(bytes)) => Kind::Hmac(bytes),
    }
}

/// Every key the profile holds: (label, kind).
fn profile_keys(profile: &TokenProfile) -> Vec<(&'static str, Kind)> {
    let mut keys: Vec<(&'static str, Kind)> = profile
        .keys
        .iter()
        .map(|label| {
            let key = fixture_key(label).unwrap_or_else(|| panic!("no fixture key {label}"));
            (key.label, kind_of(key.spec))
        })
        .collect();
    keys.extend(
        profile
            .tool_keys
            .iter()
            .map(|t| (t.label, Kind::Ec(t.curve))),
    );
    keys
}

/// The `C_GetMechanismInfo` flag an operation needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flag {
    Sign,
    Decrypt,
    Derive,
    Unwrap,
    Generate,
    GenerateKeyPair,
}

impl Flag {
    fn of(self, info: &MechanismInfo) -> bool {
        match self {
            Flag::Sign => info.sign(),
            Flag::Decrypt => info.decrypt(),
            Flag::Derive => info.derive(),
            Flag::Unwrap => info.unwrap(),
            Flag::Generate => info.generate(),
            Flag::GenerateKeyPair => info.generate_key_pair(),
        }
    }
}

/// What an algorithm needs from the token on a key that fits it.
struct Needs {
    flag: Flag,
    direct: MechanismType,
    /// A lower-level mechanism with the JOSE work done in software around it.
    fallback: Option<MechanismType>,
    /// Whether the mechanism list cannot tell (RSA-OAEP-256: OAEP with SHA-256).
    uncertain: bool,
}

const fn needs(flag: Flag, direct: MechanismType, fallback: Option<MechanismType>) -> Needs {
    Needs {
        flag,
        direct,
        fallback,
        uncertain: false,
    }
}

/// What `alg` needs on a key of `kind`, or `None` when such a key cannot serve it at all (RFC
/// 7518: key type, curve, HMAC key of at least the hash size, AES key of the algorithm's size;
/// `dir` would need the secret itself out of the token).
fn needs_of(alg: Algorithm, kind: Kind) -> Option<Needs> {
    use MechanismType as M;
    let n = match (alg, kind) {
        (Algorithm::Jws(a), Kind::Rsa(_)) => match a {
            J::RS256 => needs(Flag::Sign, M::SHA256_RSA_PKCS, Some(M::RSA_PKCS)),
            J::RS384 => needs(Flag::Sign, M::SHA384_RSA_PKCS, Some(M::RSA_PKCS)),
            J::RS512 => needs(Flag::Sign, M::SHA512_RSA_PKCS, Some(M::RSA_PKCS)),
            J::PS256 => needs(Flag::Sign, M::SHA256_RSA_PKCS_PSS, Some(M::RSA_PKCS_PSS)),
            J::PS384 => needs(Flag::Sign, M::SHA384_RSA_PKCS_PSS, Some(M::RSA_PKCS_PSS)),
            J::PS512 => needs(Flag::Sign, M::SHA512_RSA_PKCS_PSS, Some(M::RSA_PKCS_PSS)),
            _ => return None,
        },
        (Algorithm::Jws(a), Kind::Ec(curve)) => match (a, curve) {
            // CKM_ECDSA on a software digest, else the token hashing (CKM_ECDSA_SHA*).
            (J::ES256, EcCurve::P256) => needs(Flag::Sign, M::ECDSA, Some(M::ECDSA_SHA256)),
            (J::ES384, EcCurve::P384) => needs(Flag::Sign, M::ECDSA, Some(M::ECDSA_SHA384)),
            (J::ES512, EcCurve::P521) => needs(Flag::Sign, M::ECDSA, Some(M::ECDSA_SHA512)),
            _ => return None,
        },
        (Algorithm::Jws(J::EdDSA), Kind::Ed(_)) => needs(Flag::Sign, M::EDDSA, None),
        (Algorithm::Jws(a), Kind::Hmac(bytes)) => match a {
            J::HS256 if bytes >= 32 => needs(Flag::Sign, M::SHA256_HMAC, None),
            J::HS384 if bytes >= 48 => needs(Flag::Sign, M::SHA384_HMAC, None),
            J::HS512 if bytes >= 64 => needs(Flag::Sign, M::SHA512_HMAC, None),
            _ => return None,
        },
        (Algorithm::Jwe(K::RsaOaep), Kind::Rsa(_)) => needs(Flag::Decrypt, M::RSA_PKCS_OAEP, None),
        (Algorithm::Jwe(K::RsaOaep256), Kind::Rsa(_)) => Needs {
            uncertain: true,
            ..needs(Flag::Decrypt, M::RSA_PKCS_OAEP, None)
        },
        (
            Algorithm::Jwe(K::EcdhEs | K::EcdhEsA128KW | K::EcdhEsA192KW | K::EcdhEsA256KW),
            Kind::Ec(_),
        ) => needs(Flag::Derive, M::ECDH1_DERIVE, None),
        (Algorithm::Jwe(a), Kind::Aes(bytes)) => match (a, bytes) {
            (K::A128KW, 16) | (K::A192KW, 24) | (K::A256KW, 32) => {
                needs(Flag::Unwrap, M::AES_KEY_WRAP, None)
            }
            (K::A128GCMKW, 16) | (K::A192GCMKW, 24) | (K::A256GCMKW, 32) => {
                needs(Flag::Decrypt, M::AES_GCM, None)
            }
            _ => return None,
        },
        _ => return None,
    };
    Some(n)
}

/// How the token can run an algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Direct(MechanismType),
    Fallback(MechanismType),
    Unavailable,
}

impl Target {
    fn has(&self, mechanism: MechanismType, flag: Flag) -> bool {
        self.mechanisms
            .iter()
            .any(|(m, info)| *m == mechanism && flag.of(info))
    }

    /// True when the token has `mechanism` with `flag` for a key of `kind`: its
    /// `ulMinKeySize`..`ulMaxKeySize` holds the key's size (`0..0`: no range given).
    fn has_for(&self, mechanism: MechanismType, flag: Flag, kind: Kind) -> bool {
        // PKCS#11 units: bits for RSA and EC keys, bytes for AES and HMAC keys; EdDSA either
        // the curve's bits or the encoded key's (SoftHSM: 256..456).
        let sizes: [usize; 2] = match kind {
            Kind::Rsa(bits) => [bits; 2],
            Kind::Ec(EcCurve::P256) => [256; 2],
            Kind::Ec(EcCurve::P384) => [384; 2],
            Kind::Ec(EcCurve::P521) => [521; 2],
            Kind::Ed(EdCurve::Ed25519) => [255, 256],
            Kind::Ed(EdCurve::Ed448) => [448, 456],
            Kind::Aes(bytes) | Kind::Hmac(bytes) => [bytes; 2],
        };
        self.mechanisms.iter().any(|(m, info)| {
            *m == mechanism
                && flag.of(info)
                && (info.max_key_size() == 0
                    || sizes
                        .iter()
                        .any(|s| (info.min_key_size()..=info.max_key_size()).contains(s)))
        })
    }

    fn route(&self, n: &Needs, kind: Kind) -> Route {
        if self.has_for(n.direct, n.flag, kind) {
            Route::Direct(n.direct)
        } else {
            match n.fallback {
                Some(f) if self.has_for(f, n.flag, kind) => Route::Fallback(f),
                _ => Route::Unavailable,
            }
        }
    }
}

fn every_algorithm() -> Vec<Algorithm> {
    JwsAlgorithm::ALL
        .iter()
        .map(|a| Algorithm::Jws(*a))
        .chain(
            KeyManagementAlgorithm::ALL
                .iter()
                .map(|a| Algorithm::Jwe(*a)),
        )
        .collect()
}

/// One row of the table: a key, an algorithm, how the token runs it, what happened.
struct Row {
    key: String,
    alg: Algorithm,
    route: String,
    result: Result<(), String>,
}

fn flip_last_part(token: &str, part: usize) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut bytes = base64url::decode("part", &parts[part]).unwrap();
    bytes[0] ^= 0x01;
    parts[part] = base64url::encode(&bytes);
    parts.join(".")
}

/// Signs with the token key and verifies in software against the public JWK (HMAC: in the
/// token); a flipped signature bit fails with `Error::Verification`.
fn sign_end_to_end(key: &HsmJwk, alg: JwsAlgorithm) -> Result<(), String> {
    let payload = format!(r#"{{"conformance":"{alg}","key":"{}"}}"#, key.label());
    let token = jws::sign_compact(key, alg, payload.as_bytes(), None)
        .map_err(|e| format!("signing: {e}"))?;
    let software;
    let verifier: &dyn KeyBackend = match key.public_json() {
        Ok(json) => {
            software = SoftwareKey::from_json(&json).map_err(|e| format!("public JWK: {e}"))?;
            &software
        }
        Err(_) => key,
    };
    let verified =
        jws::verify_compact(&token, verifier, &[alg]).map_err(|e| format!("verifying: {e}"))?;
    if verified.payload() != payload.as_bytes() {
        return Err("the verified payload differs".into());
    }
    match jws::verify_compact(&flip_last_part(&token, 2), verifier, &[alg]) {
        Err(JoseError::Verification) => Ok(()),
        other => Err(format!(
            "a tampered signature gave {other:?}, not Verification"
        )),
    }
}

/// Encrypts in software to the public JWK (AES keys: with the token key itself), decrypts in
/// the token; a flipped ciphertext bit fails with `Error::Decryption`.
fn decrypt_end_to_end(key: &HsmJwk, alg: KeyManagementAlgorithm) -> Result<(), String> {
    let enc = ContentEncryption::A256Gcm;
    let plaintext = format!("{alg} to {}", key.label());
    let software;
    let sender: &dyn KeyBackend = match key.public_json() {
        Ok(json) => {
            software = SoftwareKey::from_json(&json).map_err(|e| format!("public JWK: {e}"))?;
            &software
        }
        Err(_) => key,
    };
    let token = jwe::encrypt_compact(sender, alg, enc, plaintext.as_bytes(), None)
        .map_err(|e| format!("encrypting: {e}"))?;
    let d = jwe::decrypt_compact(&token, key, &[alg], &[enc])
        .map_err(|e| format!("decrypting: {e}"))?;
    if d.plaintext() != plaintext.as_bytes() {
        return Err("the decrypted plaintext differs".into());
    }
    match jwe::decrypt_compact(&flip_last_part(&token, 3), key, &[alg], &[enc]) {
        Err(JoseError::Decryption) => Ok(()),
        other => Err(format!(
            "a tampered ciphertext gave {other:?}, not Decryption"
        )),
    }
}

/// A compact JWE naming `alg` with well-formed parts: jose-core checks the key against `alg`
/// before it reads anything else, so this reaches the refusal of an algorithm not offered.
fn jwe_naming(alg: KeyManagementAlgorithm) -> String {
    let header = format!(r#"{{"alg":"{alg}","enc":"A256GCM"}}"#);
    [
        base64url::encode(header.as_bytes()),
        base64url::encode(&[7u8; 32]),
        base64url::encode(&[1u8; 12]),
        base64url::encode(b"ciphertext"),
        base64url::encode(&[2u8; 16]),
    ]
    .join(".")
}

/// The error using `key` with an algorithm it does not offer gives.
fn refusal(key: &HsmJwk, alg: Algorithm) -> Result<(), JoseError> {
    match alg {
        Algorithm::Jws(a) => jws::sign_compact(key, a, b"not offered", None).map(|_| ()),
        Algorithm::Jwe(a) => {
            jwe::decrypt_compact(&jwe_naming(a), key, &[a], &[ContentEncryption::A256Gcm])
                .map(|_| ())
        }
        #[allow(unreachable_patterns)]
        other => panic!("no refusal check for {other:?}"),
    }
}

/// Checks one algorithm on one key; returns the route label and the outcome.
fn check(
    target: &Target,
    key: &HsmJwk,
    kind: Kind,
    alg: Algorithm,
) -> (String, Result<(), String>) {
    let offered = key.algorithms().contains(&alg);
    let Some(n) = needs_of(alg, kind) else {
        // The key cannot serve it: never offered, refused as a key mismatch.
        let result = if offered {
            Err("offered, but this kind of key cannot serve it".to_owned())
        } else {
            match refusal(key, alg) {
                Err(JoseError::Algorithm(AlgorithmError::KeyMismatch { .. })) => Ok(()),
                other => Err(format!("expected KeyMismatch, got {other:?}")),
            }
        };
        return ("misfit".to_owned(), result);
    };
    let route = target.route(&n, kind);
    let label = match (offered, route) {
        (true, Route::Direct(m)) => format!("direct ({m})"),
        (true, Route::Fallback(m)) => format!("fallback ({m})"),
        (true, Route::Unavailable) => "offered without mechanism".to_owned(),
        (false, Route::Unavailable) => "not offered".to_owned(),
        (false, Route::Direct(m) | Route::Fallback(m)) if n.uncertain => {
            format!("not offered ({m} lacks it)")
        }
        (false, Route::Direct(m) | Route::Fallback(m)) => format!("not offered, has {m}"),
    };
    let result = match (offered, route) {
        (true, Route::Unavailable) => Err(format!(
            "offered although the token lacks {} (flag {:?}){}",
            n.direct,
            n.flag,
            n.fallback.map(|f| format!(" and {f}")).unwrap_or_default()
        )),
        (true, _) => match alg {
            Algorithm::Jws(a) => sign_end_to_end(key, a),
            Algorithm::Jwe(a) => decrypt_end_to_end(key, a),
            #[allow(unreachable_patterns)]
            other => Err(format!("no end-to-end check for {other:?}")),
        },
        (false, Route::Direct(m) | Route::Fallback(m)) if !n.uncertain => Err(format!(
            "not offered although the token has {m} (flag {:?})",
            n.flag
        )),
        (false, _) => match refusal(key, alg) {
            Err(JoseError::Algorithm(AlgorithmError::NotSupportedByDevice { .. })) => Ok(()),
            other => Err(format!("expected NotSupportedByDevice, got {other:?}")),
        },
    };
    (label, result)
}

fn output_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("target")
        .join("conformance");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn cell(result: &Result<(), String>) -> String {
    match result {
        Ok(()) => "ok".to_owned(),
        Err(e) => format!("FAIL: {}", e.replace('|', "\\|").replace('\n', " ")),
    }
}

/// Writes `target/conformance/<implementation>.md` (for people) and `.tsv` (for
/// `cargo xtask tokens-doc`).
fn write_table(target: &Target, rows: &[Row], load_failures: &[String]) {
    let dir = output_dir();
    let mut md = String::new();
    writeln!(
        md,
        "# Conformance: {} (token `{}`, module `{}`)\n",
        target.implementation,
        target.pool.token_label(),
        target.pool.module().path().display()
    )
    .unwrap();
    if let Ok(info) = target.pool.module().pkcs11().get_library_info() {
        writeln!(
            md,
            "Library: `{}` by `{}`, version {}.\n",
            info.library_description(),
            info.manufacturer_id(),
            info.library_version()
        )
        .unwrap();
    }
    writeln!(
        md,
        "{} mechanisms listed. Misfits (algorithms a key of that kind can never serve) are \
         counted, not listed.\n",
        target.mechanisms.len()
    )
    .unwrap();
    md.push_str("| key | algorithm | route | result |\n|---|---|---|---|\n");
    let mut tsv = String::new();
    let mut misfits = (0, 0);
    for row in rows {
        if row.route == "misfit" {
            misfits.0 += 1;
            if row.result.is_err() {
                misfits.1 += 1;
            } else {
                continue;
            }
        }
        let alg = row.alg.to_string();
        writeln!(
            md,
            "| {} | {alg} | {} | {} |",
            row.key,
            row.route,
            cell(&row.result)
        )
        .unwrap();
        writeln!(
            tsv,
            "{}\t{alg}\t{}\t{}",
            row.key,
            row.route,
            cell(&row.result)
        )
        .unwrap();
    }
    writeln!(
        md,
        "\n{} misfit checks, {} failed (listed above when they did).",
        misfits.0, misfits.1
    )
    .unwrap();
    for failure in load_failures {
        writeln!(md, "\nKey not checked: {failure}").unwrap();
        let (label, error) = failure.split_once(": ").unwrap_or((failure, ""));
        writeln!(tsv, "{label}\t(load)\tnot loaded\tFAIL: {error}").unwrap();
    }
    md.push_str(
        "\n## Mechanism information\n\n| mechanism | flags | key sizes (min..max) |\n|---|---|---|\n",
    );
    for (m, info) in &target.mechanisms {
        let flags: Vec<&str> = [
            (info.sign(), "sign"),
            (info.verify(), "verify"),
            (info.encrypt(), "encrypt"),
            (info.decrypt(), "decrypt"),
            (info.wrap(), "wrap"),
            (info.unwrap(), "unwrap"),
            (info.derive(), "derive"),
            (info.generate(), "generate"),
            (info.generate_key_pair(), "generate_key_pair"),
        ]
        .into_iter()
        .filter_map(|(set, name)| set.then_some(name))
        .collect();
        writeln!(
            md,
            "| {m} | {} | {}..{} |",
            flags.join(" "),
            info.min_key_size(),
            info.max_key_size()
        )
        .unwrap();
    }
    std::fs::write(dir.join(format!("{}.md", target.implementation)), md).unwrap();
    std::fs::write(dir.join(format!("{}.tsv", target.implementation)), tsv).unwrap();
}

#[test]
fn every_offered_algorithm_works_and_every_other_is_refused_before_the_token() {
    let _t = fixture::shared();
    let target = target();
    let mut rows = Vec::new();
    let mut load_failures = Vec::new();
    for (label, kind) in profile_keys(target.profile) {
        let key = match HsmJwk::from_label(&target.pool, label) {
            Ok(key) => key,
            Err(e) => {
                let recorded = target.generation.get(label);
                // A key that was never made is the generation test's business.
                if recorded.is_some_and(|o| o.starts_with("failed")) {
                    continue;
                }
                load_failures.push(format!("{label}: loading failed: {e}"));
                continue;
            }
        };
        for alg in every_algorithm() {
            let (route, result) = check(&target, &key, kind, alg);
            rows.push(Row {
                key: label.to_owned(),
                alg,
                route,
                result,
            });
        }
    }
    write_table(&target, &rows, &load_failures);
    let failures: Vec<String> = rows
        .iter()
        .filter_map(|r| {
            r.result
                .as_ref()
                .err()
                .map(|e| format!("{} {}: {e}", r.key, r.alg))
        })
        .chain(load_failures)
        .collect();
    assert!(
        failures.is_empty(),
        "{}: {} of {} checks failed (table in target/conformance/{}.md):\n  {}",
        target.implementation,
        failures.len(),
        rows.len(),
        target.implementation,
        failures.join("\n  ")
    );
}

/// The mechanism that generates a key of `kind`, with its flag.
fn generation_mechanism(kind: Kind) -> (MechanismType, Flag) {
    match kind {
        Kind::Rsa(_) => (MechanismType::RSA_PKCS_KEY_PAIR_GEN, Flag::GenerateKeyPair),
        Kind::Ec(_) => (MechanismType::ECC_KEY_PAIR_GEN, Flag::GenerateKeyPair),
        Kind::Ed(_) => (
            MechanismType::ECC_EDWARDS_KEY_PAIR_GEN,
            Flag::GenerateKeyPair,
        ),
        Kind::Aes(_) => (MechanismType::AES_KEY_GEN, Flag::Generate),
        Kind::Hmac(_) => (MechanismType::GENERIC_SECRET_KEY_GEN, Flag::Generate),
    }
}

#[test]
fn fixture_keys_are_missing_only_where_generation_is_refused_as_not_supported() {
    let _t = fixture::shared();
    let target = target();
    let mut failures = Vec::new();
    for (label, kind) in profile_keys(target.profile) {
        let recorded = target
            .generation
            .get(label)
            .cloned()
            .unwrap_or_else(|| "(no record)".to_owned());
        let load_error = match HsmJwk::from_label(&target.pool, label) {
            Ok(_) => continue,
            Err(e) => e,
        };
        if recorded.starts_with("generated") {
            failures.push(format!(
                "{label}: {recorded}, but it does not load: {load_error}"
            ));
            continue;
        }
        let (mechanism, flag) = generation_mechanism(kind);
        let listed = if target.has(mechanism, flag) {
            format!("the token lists {mechanism}")
        } else {
            format!("the token lacks {mechanism}")
        };
        // Generating it again must fail with the typed error, before the token is asked to
        // do what it cannot (nothing is made).
        let Some(key) = fixture_key(label) else {
            failures.push(format!(
                "{label}: pkcs11-tool could not make it: {recorded}"
            ));
            continue;
        };
        let session = target.pool.session_rw().unwrap();
        let probe = format!("probe-{label}");
        let outcome = match key.spec {
            FixtureSpec::Pair(spec) => {
                hsm_core::generate_key_pair(&session, spec, &probe, b"probe", key.usage).map(|_| ())
            }
            FixtureSpec::Secret(spec) => {
                hsm_core::generate_secret_key(&session, spec, &probe, b"probe", key.usage)
                    .map(|_| ())
            }
            FixtureSpec::Ed25519Printable => hsm_core::key::generate_edwards_key_pair_with_params(
                &session,
                EdCurve::Ed25519.printable_ec_params(),
                &probe,
                b"probe",
                key.usage,
            )
            .map(|_| ()),
        };
        match outcome {
            Err(
                hsm_core::Error::CannotGenerate { .. }
                | hsm_core::Error::MechanismNotSupported { .. },
            ) => {}
            other => failures.push(format!(
                "{label}: {listed}; generating gave {other:?}, not CannotGenerate \
                 (provisioning: {recorded})"
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{}: {} fixture keys:\n  {}",
        target.implementation,
        failures.len(),
        failures.join("\n  ")
    );
}
