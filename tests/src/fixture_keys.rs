//! The fixture keys `cargo xtask test-hsm` generates in every suite's token.
//!
//! This file is the one table of them. `xtask` includes it with `#[path]` to generate the keys,
//! and the test crate exports it to check them: a dependency of `xtask` on the test crate would
//! pull the whole JOSE stack into `xtask`.
//!
//! Label = the name below; id = two bytes, family then member:
//!
//! | label               | id      | kind                        | usage (capabilities)                               |
//! |---------------------|---------|-----------------------------|----------------------------------------------------|
//! | `rsa-2048`          | `01 00` | RSA 2048, e = 65537         | sign, encrypt, wrap (sign/verify/encrypt/decrypt/wrap/unwrap) |
//! | `rsa-3072`          | `01 01` | RSA 3072                    | as rsa-2048                                        |
//! | `rsa-4096`          | `01 02` | RSA 4096                    | as rsa-2048                                        |
//! | `ec-p256`           | `02 00` | EC P-256                    | sign, derive (sign/verify/derive)                  |
//! | `ec-p384`           | `02 01` | EC P-384                    | as ec-p256                                         |
//! | `ec-p521`           | `02 02` | EC P-521                    | as ec-p256                                         |
//! | `ed25519`           | `03 00` | Ed25519, EC_PARAMS = OID    | sign (sign/verify)                                 |
//! | `ed448`             | `03 01` | Ed448, EC_PARAMS = OID      | sign                                               |
//! | `ed25519-printable` | `03 02` | Ed25519, EC_PARAMS = PrintableString "edwards25519" | sign                       |
//! | `aes-128`           | `04 00` | AES, 16 bytes               | encrypt, wrap (encrypt/decrypt/wrap/unwrap)        |
//! | `aes-192`           | `04 01` | AES, 24 bytes               | as aes-128                                         |
//! | `aes-256`           | `04 02` | AES, 32 bytes               | as aes-128                                         |
//! | `hmac-256`          | `05 00` | generic secret, 32 bytes    | sign (sign/verify), for HS256                      |
//!
//! Every private and secret key is a private, sensitive, non-extractable token object.

use hsm_core::{EcCurve, KeySpec, KeyUsage, SecretSpec};

/// How a fixture key is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FixtureSpec {
    /// A key pair from `hsm_core::generate_key_pair`.
    Pair(KeySpec),
    /// A secret key from `hsm_core::generate_secret_key`.
    Secret(SecretSpec),
    /// Ed25519 with `CKA_EC_PARAMS` as the PrintableString `edwards25519` (as OpenSC writes it),
    /// from `hsm_core::key::generate_edwards_key_pair_with_params`.
    Ed25519Printable,
}

/// One fixture key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixtureKey {
    /// `CKA_LABEL`.
    pub label: &'static str,
    /// `CKA_ID`.
    pub id: &'static [u8],
    /// How it is made.
    pub spec: FixtureSpec,
    /// What it may do.
    pub usage: KeyUsage,
}

const RSA_USAGE: KeyUsage = KeyUsage::SIGN
    .union(KeyUsage::ENCRYPT)
    .union(KeyUsage::WRAP);
const EC_USAGE: KeyUsage = KeyUsage::SIGN.union(KeyUsage::DERIVE);
const AES_USAGE: KeyUsage = KeyUsage::ENCRYPT.union(KeyUsage::WRAP);

const fn pair(
    label: &'static str,
    id: &'static [u8],
    spec: KeySpec,
    usage: KeyUsage,
) -> FixtureKey {
    FixtureKey {
        label,
        id,
        spec: FixtureSpec::Pair(spec),
        usage,
    }
}

const fn secret(
    label: &'static str,
    id: &'static [u8],
    spec: SecretSpec,
    usage: KeyUsage,
) -> FixtureKey {
    FixtureKey {
        label,
        id,
        spec: FixtureSpec::Secret(spec),
        usage,
    }
}

/// Every fixture key, in the order of the table above.
pub const FIXTURE_KEYS: &[FixtureKey] = &[
    pair("rsa-2048", &[0x01, 0x00], KeySpec::Rsa(2048), RSA_USAGE),
    pair("rsa-3072", &[0x01, 0x01], KeySpec::Rsa(3072), RSA_USAGE),
    pair("rsa-4096", &[0x01, 0x02], KeySpec::Rsa(4096), RSA_USAGE),
    pair(
        "ec-p256",
        &[0x02, 0x00],
        KeySpec::Ec(EcCurve::P256),
        EC_USAGE,
    ),
    pair(
        "ec-p384",
        &[0x02, 0x01],
        KeySpec::Ec(EcCurve::P384),
        EC_USAGE,
    ),
    pair(
        "ec-p521",
        &[0x02, 0x02],
        KeySpec::Ec(EcCurve::P521),
        EC_USAGE,
    ),
    pair("ed25519", &[0x03, 0x00], KeySpec::Ed25519, KeyUsage::SIGN),
    pair("ed448", &[0x03, 0x01], KeySpec::Ed448, KeyUsage::SIGN),
    FixtureKey {
        label: "ed25519-printable",
        id: &[0x03, 0x02],
        spec: FixtureSpec::Ed25519Printable,
        usage: KeyUsage::SIGN,
    },
    secret("aes-128", &[0x04, 0x00], SecretSpec::Aes(16), AES_USAGE),
    secret("aes-192", &[0x04, 0x01], SecretSpec::Aes(24), AES_USAGE),
    secret("aes-256", &[0x04, 0x02], SecretSpec::Aes(32), AES_USAGE),
    secret(
        "hmac-256",
        &[0x05, 0x00],
        SecretSpec::Hmac(32),
        KeyUsage::SIGN,
    ),
];

/// An EC key made outside hsm-core, by OpenSC's `pkcs11-tool --keypairgen` (as a user would make
/// it), to check that keys from other tools load and sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ToolKey {
    /// `CKA_LABEL`.
    pub label: &'static str,
    /// `CKA_ID`.
    pub id: &'static [u8],
    /// The curve.
    pub curve: EcCurve,
}

/// A PKCS#11 implementation that `cargo xtask test-hsm --token NAME` runs the conformance suite
/// on, and the fixture keys its token `conformance` holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenProfile {
    /// The name `--token` takes (`HSM_IMPLEMENTATION` in the suite).
    pub name: &'static str,
    /// Labels of [`FIXTURE_KEYS`] that provisioning generates through hsm-core (a failure is
    /// recorded, not fatal: the suite reports it).
    pub keys: &'static [&'static str],
    /// Keys that provisioning makes with `pkcs11-tool`.
    pub tool_keys: &'static [ToolKey],
}

const EVERY_KEY: &[&str] = &[
    "rsa-2048",
    "rsa-3072",
    "rsa-4096",
    "ec-p256",
    "ec-p384",
    "ec-p521",
    "ed25519",
    "ed448",
    "ed25519-printable",
    "aes-128",
    "aes-192",
    "aes-256",
    "hmac-256",
];

/// The token label of the conformance suite on every implementation.
pub const CONFORMANCE_TOKEN: &str = "conformance";

/// Every implementation of the token matrix. tpm2-pkcs11 on swtpm is slow (about 100
/// signatures a second, seconds per RSA key generation), so its token holds one key of each
/// kind: RSA 2048, the three NIST curves, Ed25519 (no mechanism: checks the error), AES-256,
/// HMAC-256, and a P-521 key made by `pkcs11-tool`.
pub const TOKEN_PROFILES: &[TokenProfile] = &[
    TokenProfile {
        name: "softhsm",
        keys: EVERY_KEY,
        tool_keys: &[],
    },
    TokenProfile {
        name: "kryoptic",
        keys: EVERY_KEY,
        tool_keys: &[],
    },
    TokenProfile {
        name: "opencryptoki",
        keys: EVERY_KEY,
        tool_keys: &[],
    },
    TokenProfile {
        name: "tpm2",
        keys: &[
            "rsa-2048", "ec-p256", "ec-p384", "ec-p521", "ed25519", "aes-256", "hmac-256",
        ],
        tool_keys: &[ToolKey {
            label: "ec-p521-tool",
            id: &[0x02, 0x12],
            curve: EcCurve::P521,
        }],
    },
    TokenProfile {
        name: "p11kit",
        keys: EVERY_KEY,
        tool_keys: &[],
    },
];

/// The profile named `name`.
pub fn token_profile(name: &str) -> Option<&'static TokenProfile> {
    TOKEN_PROFILES.iter().find(|p| p.name == name)
}

/// The fixture key labelled `label`.
pub fn fixture_key(label: &str) -> Option<&'static FixtureKey> {
    FIXTURE_KEYS.iter().find(|k| k.label == label)
}
