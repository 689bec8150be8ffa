//! `hsm-jose` against SoftHSM: help, `keys list|generate|delete`, `jwk`, `jwks`, and the
//! failures of the token options: token, PIN and key errors exit 3, usage errors exit 2.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{BIN, Cli, Run, assert_failed, cli, fixture, plant_key_pair};
use hsm_core::cryptoki::mechanism::Mechanism;
use hsm_core::cryptoki::object::Attribute;
use hsm_core::{EdCurve, KeySelector, find_key};
use hsm_jose_tests::FIXTURE_KEYS;
use jose_core::{Jwk, SoftwareKey};
use serde_json::Value;

/// Every command path, for the help test.
const COMMANDS: &[&[&str]] = &[
    &[],
    &["keys"],
    &["keys", "list"],
    &["keys", "generate"],
    &["keys", "import"],
    &["keys", "delete"],
    &["jwk"],
    &["jwks"],
    &["sign"],
    &["verify"],
    &["encrypt"],
    &["decrypt"],
    &["jwt"],
    &["jwt", "sign"],
    &["jwt", "verify"],
    &["jwt", "encrypt"],
    &["jwt", "decrypt"],
    &["jwt", "nest"],
    &["jwt", "unnest"],
    &["cert"],
    &["cert", "self-sign"],
    &["cert", "csr"],
    &["cert", "show"],
    &["cert", "import"],
];

#[test]
fn help_on_every_command_shows_an_example_and_exits_0() {
    let cli = cli("help");
    for path in COMMANDS {
        let mut args = path.to_vec();
        args.push("--help");
        let run = cli.ok(&args, "");
        let text = run.text();
        assert!(text.contains("Usage: hsm-jose"), "{args:?}:\n{text}");
        assert!(
            text.contains("Example:"),
            "{args:?} has no example:\n{text}"
        );
        assert!(run.stderr.is_empty(), "{args:?}: {}", run.stderr);
    }
    // The top-level help documents the exit statuses.
    let top = cli.ok(&["--help"], "").text();
    for line in ["1  a signature", "2  usage", "3  token, PIN"] {
        assert!(top.contains(line), "{line:?} missing from:\n{top}");
    }
    assert!(cli.ok(&["--version"], "").text().starts_with("hsm-jose "));
}

/// Issue 14: the command line is built with aws-lc-rs, installs it as jose-core's process
/// default, and says so in `--version`.
#[test]
fn version_names_the_crypto_provider() {
    let cli = cli("version");
    let expected = format!(
        "hsm-jose {} (crypto provider: aws-lc-rs)\n",
        env!("CARGO_PKG_VERSION")
    );
    let run = cli.ok(&["--version"], "");
    assert_eq!(run.text(), expected);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    assert_eq!(cli.ok(&["-V"], "").text(), expected);
}

/// Usage errors, each with the message part that names it: the command line is wrong.
#[test]
fn usage_errors_exit_2() {
    let cli = cli("usage");
    let not_provided = "error: the following required arguments were not provided";
    let cases: &[(&[&str], &str)] = &[
        (
            &[],
            "error: 'hsm-jose' requires a subcommand but one was not provided",
        ),
        (
            &["no-such-command"],
            "error: unrecognized subcommand 'no-such-command'",
        ),
        (&["keys"], "error: 'hsm-jose keys' requires a subcommand"),
        (&["sign", "--key", "ec-p256"], not_provided),
        (
            &[
                "sign", "--key", "ec-p256", "--jwk", "x.jwk", "--alg", "ES256",
            ],
            "error: the argument '--key <REF>' cannot be used with '--jwk <FILE>'",
        ),
        (
            &["sign", "--key", "ec-p256", "--alg", "none"],
            "error: invalid value 'none' for '--alg <ALG>'",
        ),
        (
            &[
                "sign", "--key", "ec-p256", "--alg", "ES256", "--alg", "ES256",
            ],
            "error: give one --alg per key (1 key(s), 2 --alg)",
        ),
        (
            &[
                "sign", "--key", "ec-p256", "--key", "ec-p384", "--alg", "ES256", "--alg", "ES384",
            ],
            "error: several signatures need the JSON serialization: add --json",
        ),
        (
            &[
                "sign",
                "--key",
                "ec-p256",
                "--alg",
                "ES256",
                "--header",
                "{not json",
            ],
            "error: --header is not valid JSON",
        ),
        (
            &["verify", "--jwk", "-"],
            "error: JWK cannot come from standard input (`-`): this command reads its input there",
        ),
        (
            &["decrypt", "--key", "rsa-2048", "--alg", "RSA1_5"],
            "error: invalid value 'RSA1_5' for '--alg <ALG>'",
        ),
        (
            &["encrypt", "--key", "rsa-2048", "--alg", "RSA-OAEP"],
            not_provided,
        ),
        (
            &["jwk", "--key", "id:zz"],
            "error: --key \"id:zz\": not hex digits",
        ),
        (
            &["jwk", "--key", "pkcs11:token=x"],
            "error: invalid PKCS#11 URI: the URI names no key",
        ),
        (
            &["jwk", "--key", "rsa-2048", "--use", "both"],
            "error: invalid value 'both' for '--use <USE>'",
        ),
        (
            &["keys", "generate", "--type", "rsa-1024", "--label", "x"],
            "error: invalid value 'rsa-1024' for '--type <TYPE>'",
        ),
        (
            &[
                "keys", "generate", "--type", "ec-p256", "--label", "x", "--usage", "encrypt",
            ],
            "error: ec-p256 keys cannot have usage encrypt; they can have: sign, derive",
        ),
        (
            &[
                "keys", "generate", "--type", "ed25519", "--label", "x", "--id", "0g",
            ],
            "error: --id \"0g\": not hex digits",
        ),
        (
            &["--pin", "a", "--pin-source", "file:/p", "keys", "list"],
            "error: the argument '--pin <PIN>' cannot be used with '--pin-source <file:PATH>'",
        ),
        (
            &[
                "jwt", "sign", "--key", "ec-p256", "--alg", "ES256", "--claims", "[1]",
            ],
            "error: --claims: JWT claims: the claims are not a JSON object",
        ),
        (
            &[
                "jwt",
                "sign",
                "--key",
                "ec-p256",
                "--alg",
                "ES256",
                "--claims",
                "{\"exp\":\"never\"}",
            ],
            "error: --claims: JWT claims: claim `exp` has the wrong type",
        ),
        // A negative duration is written --exp-in=-5: a separate `-5` is an unknown option.
        (
            &[
                "jwt", "sign", "--key", "ec-p256", "--alg", "ES256", "--exp-in", "-5",
            ],
            "error: unexpected argument '-5' found",
        ),
    ];
    for (args, message) in cases {
        cli.fails(2, args, "payload", message);
    }
}

#[test]
fn keys_list_shows_kind_label_id_capabilities_protection_and_algorithms() {
    let _t = fixture::shared();
    let cli = cli("list");
    let keys = cli.ok(&["keys", "list", "--json"], "").json();
    let keys = keys.as_array().unwrap();
    let find = |label: &str| -> &Value {
        keys.iter()
            .find(|k| k["label"] == label)
            .unwrap_or_else(|| panic!("{label} not listed"))
    };
    for fixture in FIXTURE_KEYS {
        let key = find(fixture.label);
        assert_eq!(key["id"], hex(fixture.id), "{}", fixture.label);
        assert_eq!(key["protection"]["never_extractable"], true);
        assert_eq!(key["protection"]["extractable"], false);
        assert_eq!(key["protection"]["sensitive"], true);
        assert!(!key["algorithms"].as_array().unwrap().is_empty(), "{key}");
    }
    let algs = |label: &str| -> Vec<String> {
        find(label)["algorithms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_owned())
            .collect()
    };
    let has = |label: &str, want: &[&str]| {
        let got = algs(label);
        for w in want {
            assert!(got.iter().any(|g| g == w), "{label}: {w} not in {got:?}");
        }
    };
    has("rsa-2048", &["RS256", "PS512", "RSA-OAEP"]);
    has("ec-p256", &["ES256", "ECDH-ES", "ECDH-ES+A256KW"]);
    has("ec-p521", &["ES512"]);
    has("ed448", &["EdDSA"]);
    has("aes-256", &["A256KW", "A256GCMKW"]);
    has("hmac-256", &["HS256"]);
    assert!(!algs("ec-p256").contains(&"ES384".to_owned()));
    assert_eq!(find("rsa-3072")["kind"], "RSA 3072");
    assert_eq!(find("ec-p384")["kind"], "EC P-384");
    assert_eq!(find("ed25519")["kind"], "Ed25519");
    assert_eq!(find("aes-192")["kind"], "AES-192");
    assert_eq!(
        find("ec-p256")["capabilities"],
        serde_json::json!(["sign", "verify", "derive"])
    );
    assert_eq!(
        find("rsa-2048")["objects"],
        serde_json::json!(["private", "public"])
    );

    // The table: a header, then one line per key with the same facts.
    let table = cli.ok(&["keys", "list"], "").text();
    let mut lines = table.lines();
    let header = lines.next().unwrap();
    for column in [
        "KIND",
        "LABEL",
        "ID",
        "CAPABILITIES",
        "PROTECTION",
        "ALGORITHMS",
    ] {
        assert!(header.contains(column), "{header}");
    }
    let rsa = table.lines().find(|l| l.contains(" rsa-2048 ")).unwrap();
    for word in [
        "RSA 2048",
        "0100",
        "sign,verify,encrypt,decrypt",
        "never-extractable",
        "RS256",
    ] {
        assert!(rsa.contains(word), "{word:?} not in {rsa:?}");
    }
    assert_eq!(table.lines().count(), keys.len() + 1);
    // Progress goes to a terminal only: here standard error stays empty.
    assert!(cli.ok(&["keys", "list"], "").stderr.is_empty());
}

/// A `keys generate --type` case: the type, the public JWK's `kty` and `crv` (none for a
/// secret key), the capabilities the token must report.
type Generated = (
    &'static str,
    Option<(&'static str, &'static str)>,
    &'static [&'static str],
);

/// `keys generate --type T` for every type: the public JWK (or a description of a secret
/// key), and a key the token holds as sensitive, never extractable, with the default usage.
#[test]
fn keys_generate_every_type_inside_the_token_then_delete() {
    let _t = fixture::exclusive();
    let cli = cli("generate");
    let pool = cli.token.pool();
    let cases: &[Generated] = &[
        ("rsa-2048", Some(("RSA", "")), &["sign", "decrypt"]),
        ("rsa-3072", Some(("RSA", "")), &["sign", "decrypt"]),
        ("rsa-4096", Some(("RSA", "")), &["sign", "decrypt"]),
        ("ec-p256", Some(("EC", "P-256")), &["sign", "derive"]),
        ("ec-p384", Some(("EC", "P-384")), &["sign", "derive"]),
        ("ec-p521", Some(("EC", "P-521")), &["sign", "derive"]),
        ("ed25519", Some(("OKP", "Ed25519")), &["sign"]),
        ("ed448", Some(("OKP", "Ed448")), &["sign"]),
        ("aes-128", None, &["encrypt", "decrypt", "wrap", "unwrap"]),
        ("aes-192", None, &["encrypt", "unwrap"]),
        ("aes-256", None, &["encrypt", "unwrap"]),
        ("hmac-256", None, &["sign"]),
        ("hmac-512", None, &["sign"]),
    ];
    for (key_type, public, capabilities) in cases {
        let label = format!("generated-{key_type}");
        let out = cli
            .ok(
                &["keys", "generate", "--type", key_type, "--label", &label],
                "",
            )
            .text();
        assert!(
            out.ends_with('\n') && out.matches('\n').count() == 1,
            "{out:?}"
        );
        match public {
            Some((kty, crv)) => {
                let jwk: Value = serde_json::from_str(&out).unwrap();
                assert_eq!(jwk["kty"], *kty, "{key_type}");
                if !crv.is_empty() {
                    assert_eq!(jwk["crv"], *crv, "{key_type}");
                }
                for private in ["d", "p", "q", "dp", "dq", "qi"] {
                    assert!(jwk.get(private).is_none(), "{key_type}: {private} printed");
                }
                // The kid is the RFC 7638 thumbprint.
                let parsed = Jwk::from_json(&out).unwrap();
                assert_eq!(jwk["kid"], parsed.thumbprint());
            }
            None => {
                assert!(out.starts_with("generated "), "{out}");
                assert!(
                    out.contains(&label) && out.contains("never extractable"),
                    "{out}"
                );
            }
        }
        // What the token holds, read with hsm-core directly.
        let info = {
            let session = pool.session().unwrap();
            find_key(&session, &KeySelector::label(label.as_str())).unwrap()
        };
        let p = info.protection;
        assert!(
            p.sensitive && !p.extractable && p.always_sensitive && p.never_extractable,
            "{key_type}: {p:?}"
        );
        let c = info.capabilities;
        for capability in *capabilities {
            let on = match *capability {
                "sign" => c.sign,
                "decrypt" => c.decrypt,
                "derive" => c.derive,
                "encrypt" => c.encrypt,
                "wrap" => c.wrap,
                "unwrap" => c.unwrap,
                other => panic!("{other}"),
            };
            assert!(on, "{key_type}: not {capability}: {c:?}");
        }
        assert_eq!(info.id.len(), 8, "a random 8-byte id by default");

        let deleted = cli
            .ok(&["keys", "delete", "--key", &label, "--yes"], "")
            .text();
        assert!(
            deleted.starts_with("deleted ") && deleted.contains(&label),
            "{deleted}"
        );
        cli.fails(
            3,
            &["jwk", "--key", &label],
            "",
            &format!("error: no key found: label \"{label}\""),
        );
    }
}

#[test]
fn keys_generate_with_id_and_usage_and_refusals() {
    let _t = fixture::exclusive();
    let cli = cli("generate-options");
    let out = cli.ok(
        &[
            "keys",
            "generate",
            "--type",
            "ec-p384",
            "--label",
            "sign-only",
            "--id",
            "0A0B",
            "--usage",
            "sign",
        ],
        "",
    );
    let jwk = out.json();
    assert_eq!(jwk["crv"], "P-384");
    let listed = cli.ok(&["keys", "list", "--json"], "").json();
    let key = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["label"] == "sign-only")
        .unwrap()
        .clone();
    assert_eq!(key["id"], "0a0b");
    assert_eq!(key["capabilities"], serde_json::json!(["sign", "verify"]));
    assert!(
        key["algorithms"]
            .as_array()
            .unwrap()
            .contains(&"ES384".into())
    );
    // By id, and by URI with label and id.
    assert_eq!(
        cli.ok(&["jwk", "--key", "id:0a0b"], "").json(),
        jwk,
        "the same key by id"
    );
    // A key that may only sign cannot decrypt: exit 3, nothing done.
    let plaintext = b"for ecdh";
    let public = cli.write("sign-only.jwk", jwk.to_string());
    let jwe = cli
        .ok(
            &[
                "encrypt", "--jwk", &public, "--alg", "ECDH-ES", "--enc", "A128GCM",
            ],
            plaintext,
        )
        .text();
    cli.fails(
        3,
        &["decrypt", "--key", "sign-only"],
        &jwe,
        "error: key: the key may not be used to deriveKey",
    );

    // An existing label or id is refused by the token layer: exit 3, the key is untouched.
    cli.fails(
        3,
        &[
            "keys",
            "generate",
            "--type",
            "ec-p256",
            "--label",
            "sign-only",
        ],
        "",
        "error: configuration error: the token already has an object with label \"sign-only\"",
    );
    cli.fails(
        3,
        &[
            "keys", "generate", "--type", "ec-p256", "--label", "other", "--id", "0a0b",
        ],
        "",
        "error: configuration error: the token already has an object with id 0a0b",
    );
    assert_eq!(cli.ok(&["jwk", "--key", "sign-only"], "").json(), jwk);

    cli.ok(
        &[
            "keys",
            "delete",
            "--key",
            "pkcs11:object=sign-only;id=%0a%0b",
            "--yes",
        ],
        "",
    );
    let stderr = cli.fails(
        3,
        &["keys", "delete", "--key", "sign-only", "--yes"],
        "",
        "error: no key found: label \"sign-only\"",
    );
    assert!(stderr.contains("hint: `hsm-jose keys list`"), "{stderr}");
}

#[test]
fn jwk_by_label_id_and_uri_with_kid_and_use() {
    let _t = fixture::shared();
    let cli = cli("jwk");
    let by_label = cli.ok(&["jwk", "--key", "ec-p256"], "");
    assert!(by_label.text().ends_with("}\n"));
    let by_label = by_label.json();
    assert_eq!(by_label["kty"], "EC");
    assert!(by_label.get("d").is_none());
    let thumbprint = Jwk::from_value(&by_label).unwrap().thumbprint();
    assert_eq!(by_label["kid"], thumbprint);
    assert_eq!(cli.ok(&["jwk", "--key", "id:0200"], "").json(), by_label);
    assert_eq!(
        cli.ok(&["jwk", "--key", "label:ec-p256"], "").json(),
        by_label
    );
    let uri = format!(
        "pkcs11:token={};object=ec-p256;type=private",
        cli.token.label
    );
    assert_eq!(cli.ok(&["jwk", "--key", &uri], "").json(), by_label);

    let custom = cli
        .ok(
            &[
                "jwk", "--key", "rsa-2048", "--kid", "rsa-2026", "--use", "sig",
            ],
            "",
        )
        .json();
    assert_eq!(custom["kid"], "rsa-2026");
    assert_eq!(custom["use"], "sig");
    assert_eq!(custom["e"], "AQAB");

    // A secret key has no public JWK: exit 3.
    cli.fails(
        3,
        &["jwk", "--key", "aes-128"],
        "",
        "error: AES-128 `aes-128` in the HSM has no public key to publish",
    );
}

#[test]
fn jwk_of_a_software_key_prints_only_its_public_part() {
    let cli = cli("jwk-software");
    let key = SoftwareKey::generate_ed25519().unwrap().with_kid("soft-1");
    let private = key.jwk().to_private_json();
    let path = cli.write("private.jwk", private.as_bytes());
    let from_file = cli.ok(&["jwk", "--jwk", &path], "").json();
    let from_stdin = cli.ok(&["jwk", "--jwk", "-"], private.as_bytes()).json();
    assert_eq!(from_file, from_stdin);
    assert_eq!(from_file["kid"], "soft-1");
    assert_eq!(from_file["crv"], "Ed25519");
    assert!(from_file.get("d").is_none());
    // A JWK Set given as a JWK: exit 3, with the way out.
    let set = cli.write("set.json", format!("{{\"keys\":[{}]}}", from_file));
    let stderr = cli.fails(
        3,
        &["jwk", "--jwk", &set],
        "",
        &format!("error: the JWK {set} cannot be used: key: the JWK lacks the member `kty`"),
    );
    assert!(
        stderr.contains("hint: this file is a JWK Set: give it with --jwks"),
        "{stderr}"
    );
    cli.fails(
        3,
        &["jwk", "--jwk", "no-such-file.jwk"],
        "",
        "error: cannot read the JWK no-such-file.jwk: No such file or directory",
    );
}

#[test]
fn jwks_of_chosen_keys_and_of_the_whole_token() {
    let _t = fixture::shared();
    let cli = cli("jwks");
    let soft = SoftwareKey::generate_ec(jose_core::jwk::EcCurve::P256)
        .unwrap()
        .with_kid("soft");
    let soft_path = cli.write("soft.jwk", soft.jwk().to_private_json().as_bytes());
    let set = cli
        .ok(
            &[
                "jwks", "--key", "rsa-2048", "--key", "ed448", "--jwk", &soft_path,
            ],
            "",
        )
        .json();
    let keys = set["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 3);
    assert_eq!(keys[0], cli.ok(&["jwk", "--key", "rsa-2048"], "").json());
    assert_eq!(keys[2]["kid"], "soft");
    assert!(keys.iter().all(|k| k.get("d").is_none()));
    // It parses as a JWK Set.
    jose_core::JwkSet::from_json(&set.to_string()).unwrap();

    // --all: every key pair of the token (no secret keys), kid = thumbprint.
    let all = cli.ok(&["jwks", "--all"], "").json();
    let all = all["keys"].as_array().unwrap();
    let pairs = FIXTURE_KEYS
        .iter()
        .filter(|k| !k.label.starts_with("aes") && !k.label.starts_with("hmac"))
        .count();
    assert_eq!(all.len(), pairs);
    for key in all {
        assert_eq!(key["kid"], Jwk::from_value(key).unwrap().thumbprint());
    }
    assert!(all.iter().any(|k| k["kid"] == keys[0]["kid"]));

    cli.fails(
        3,
        &["jwks", "--key", "rsa-2048", "--key", "aes-256"],
        "",
        "error: AES-256 `aes-256` in the HSM has no public key to publish",
    );
    cli.fails(
        3,
        &["jwks", "--key", "rsa-2048", "--key", "rsa-2048"],
        "",
        &format!(
            "error: two keys have the kid `{}`: a verifier could not tell them apart",
            keys[0]["kid"].as_str().unwrap()
        ),
    );
    cli.fails(
        2,
        &["jwks", "--all", "--key", "rsa-2048"],
        "",
        "error: the argument '--all' cannot be used with '--key <REF>'",
    );
    cli.fails(
        2,
        &["jwks"],
        "",
        "error: the following required arguments were not provided",
    );
}

/// Issue 13 item 11: `jwks --all` publishes only what a public key does (`verify`, `encrypt`,
/// `wrapKey`, `deriveBits`), never `sign`, `decrypt`, `unwrapKey` or `deriveKey` from the
/// private objects' flags, nor `encrypt`/`wrapKey` on an EdDSA key, here one made with every
/// flag on, as `pkcs11-tool` makes it. What it publishes is usable by a sender.
#[test]
fn jwks_all_publishes_only_operations_a_public_key_performs() {
    let _t = fixture::exclusive();
    let cli = cli("jwks-key-ops");
    let label = "ed25519-every-flag";
    let _planted = plant_key_pair(
        &cli,
        label,
        &[0x0e, 0x01],
        Mechanism::EccEdwardsKeyPairGen,
        &[
            Attribute::EcParams(EdCurve::Ed25519.ec_params().to_vec()),
            Attribute::Verify(true),
            Attribute::Encrypt(true),
            Attribute::Wrap(true),
        ],
        &[
            Attribute::Extractable(false),
            Attribute::Sign(true),
            Attribute::Decrypt(true),
            Attribute::Unwrap(true),
            Attribute::Derive(true),
        ],
    );
    let planted = cli.ok(&["jwk", "--key", label], "").json();
    let all = cli.ok(&["jwks", "--all"], "").json();
    jose_core::JwkSet::from_json(&all.to_string()).unwrap();
    let keys = all["keys"].as_array().unwrap();
    let ops = |key: &Value| -> Vec<String> {
        key["key_ops"]
            .as_array()
            .unwrap_or_else(|| panic!("no key_ops: {key}"))
            .iter()
            .map(|op| op.as_str().unwrap().to_owned())
            .collect()
    };
    let by_kid = |kid: &Value| keys.iter().find(|k| k["kid"] == *kid).unwrap();
    let planted = by_kid(&planted["kid"]);
    assert_eq!(ops(planted), ["verify"], "the EdDSA key: {planted}");
    assert_eq!(planted["use"], "sig", "{planted}");
    for key in keys {
        let (expected, key_use): (&[&str], Option<&str>) =
            match (key["kty"].as_str().unwrap(), key["crv"].as_str()) {
                ("RSA", _) => (&["verify", "encrypt", "wrapKey"], None),
                ("EC", _) => (&["verify", "deriveBits"], None),
                ("OKP", Some("Ed25519" | "Ed448")) => (&["verify"], Some("sig")),
                other => panic!("unexpected key {other:?}: {key}"),
            };
        assert_eq!(ops(key), expected, "{key}");
        assert_eq!(key["use"].as_str(), key_use, "{key}");
    }
    // What is published serves a sender: ECDH-ES and RSA-OAEP to the published keys, decrypted
    // in the token.
    for (label, alg) in [("ec-p256", "ECDH-ES"), ("rsa-2048", "RSA-OAEP")] {
        let kid = cli.ok(&["jwk", "--key", label], "").json()["kid"].clone();
        let published = cli.write("published.jwk", by_kid(&kid).to_string());
        let jwe = cli
            .ok(
                &[
                    "encrypt", "--jwk", &published, "--alg", alg, "--enc", "A128GCM",
                ],
                b"to the published key",
            )
            .stdout;
        let plaintext = cli.ok(&["decrypt", "--key", label], &jwe).stdout;
        assert_eq!(plaintext, b"to the published key", "{label}");
    }
    // A private JWK's key_ops are published as their public counterparts.
    let software = SoftwareKey::generate_ec(jose_core::jwk::EcCurve::P384).unwrap();
    let jwk = software.jwk().clone().with_key_ops(&[
        jose_core::jwk::KeyOp::Sign,
        jose_core::jwk::KeyOp::DeriveKey,
    ]);
    let path = cli.write("private.jwk", jwk.to_private_json().as_bytes());
    let public = cli.ok(&["jwk", "--jwk", &path], "").json();
    assert_eq!(ops(&public), ["verify", "deriveBits"]);
    assert!(public.get("d").is_none());
}

/// Issue 13 item 12: `keys delete` asks first. Without a terminal to ask on (here standard
/// input is a pipe), it refuses before opening the token, exit 2, unless --yes.
#[test]
fn keys_delete_refuses_without_a_terminal_unless_yes() {
    let _t = fixture::exclusive();
    let cli = cli("delete-confirm");
    let label = "to-delete";
    let jwk = cli
        .ok(
            &["keys", "generate", "--type", "ec-p256", "--label", label],
            "",
        )
        .json();
    let refused =
        "error: keys delete needs --yes when standard input is not a terminal to confirm on";
    // A `y` on a pipe is not a confirmation.
    let stderr = cli.fails(2, &["keys", "delete", "--key", label], "y\n", refused);
    assert!(
        stderr.contains("hint: deleting a key cannot be undone"),
        "{stderr}"
    );
    assert_eq!(
        cli.ok(&["jwk", "--key", label], "").json(),
        jwk,
        "still there"
    );
    // Refused before the token is opened: no token or PIN is needed to be told.
    let mut cmd = bare(&cli);
    cmd.args(["keys", "delete", "--key", label]);
    let run = Cli::run_command(cmd, b"");
    assert_failed(
        &run,
        2,
        refused,
        "delete without a token",
        cli.token.pin.expose_secret(),
    );

    let deleted = cli.ok(&["keys", "delete", "--key", label, "-y"], "").text();
    assert!(
        deleted.starts_with("deleted EC P-256 key `to-delete`"),
        "{deleted}"
    );
    cli.fails(
        3,
        &["jwk", "--key", label],
        "",
        "error: no key found: label \"to-delete\"",
    );
}

/// Issue 13 item 13: a token that cannot be read (SoftHSM rereading its files while another
/// process writes them) is said to be unreadable and maybe busy, not missing: the operator is
/// not sent to check --token.
#[test]
fn an_unreadable_token_is_said_to_be_busy_not_missing() {
    let cli = cli("unreadable");
    let busy = "error: the token could not be read and may be busy";
    let hint = "hint: another process may be using the token right now: try again";
    let pin = cli.token.pin.expose_secret().to_owned();

    // The module reads no token at all (`tokens present: none`).
    let tokens = cli.path("no-tokens");
    std::fs::create_dir_all(&tokens).unwrap();
    let conf = cli.write(
        "softhsm2.conf",
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens.display()
        ),
    );
    let mut cmd = cli.command();
    cmd.env("SOFTHSM2_CONF", &conf).args(["keys", "list"]);
    let run = Cli::run_command(cmd, b"");
    assert_failed(&run, 3, busy, "with no readable token", &pin);
    assert!(
        run.stderr.contains(&format!(
            "no token \"{}\" in this module; tokens present: none",
            cli.token.label
        )),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains(hint), "{}", run.stderr);
    assert!(!run.stderr.contains("check --token"), "{}", run.stderr);

    // C_GetTokenInfo fails with CKR_GENERAL_ERROR, as SoftHSM's does for a moment: hsm-core
    // reads it again a few times, a pause apart, then says the token may be busy.
    let shim = p11_fault::harness::shim_path().expect("the p11-fault shim, built for this suite");
    let rules = cli.write("rules", "C_GetTokenInfo always rv=CKR_GENERAL_ERROR\n");
    let mut cmd = cli.command();
    cmd.env("HSM_MODULE", &shim)
        .env(p11_fault::harness::ENV_TARGET, &cli.token.module)
        .env(p11_fault::harness::ENV_CONFIG, &rules)
        .args(["jwk", "--key", "ec-p256"]);
    let run = Cli::run_command(cmd, b"");
    assert_failed(
        &run,
        3,
        "error: could not read the token information (C_GetTokenInfo returned \
         CKR_GENERAL_ERROR 5 times); the token may be busy",
        "with C_GetTokenInfo failing",
        &pin,
    );
    assert!(
        run.stderr
            .contains("C_GetTokenInfo returned CKR_GENERAL_ERROR"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains(hint), "{}", run.stderr);
    assert!(!run.stderr.contains("check --token"), "{}", run.stderr);
}

/// The token options: flags, environment, pin-source files and URI attributes that override
/// them; each failure exits 3 with a message that never shows the PIN.
#[test]
fn token_pin_and_configuration_errors_exit_3_and_never_show_the_pin() {
    let _t = fixture::shared();
    let cli = cli("token");
    let pin = cli.token.pin.expose_secret().to_owned();
    let label = cli.token.label.clone();
    let expected = cli.ok(&["jwk", "--key", "ec-p384"], "").json();

    // The PIN from a file, by flag, and the token by flag (no environment).
    let pin_file = cli.write("pin", format!("{pin}\n"));
    let mut cmd = bare(&cli);
    cmd.args(["--token", &label, "--pin-source"])
        .arg(format!("file:{pin_file}"))
        .args(["jwk", "--key", "ec-p384"]);
    assert_eq!(ok(cmd).json(), expected);
    let mut cmd = bare(&cli);
    cmd.args(["jwk", "--key", "ec-p384", "--token", &label, "--pin", &pin]);
    assert_eq!(ok(cmd).json(), expected, "global options after the command");

    // A wrong PIN: exit 3, tried once, never shown.
    let wrong = "wrong-pin-4321";
    let mut cmd = bare(&cli);
    cmd.args(["--token", &label, "--pin", wrong, "jwk", "--key", "ec-p384"]);
    let run = Cli::run_command(cmd, b"");
    assert_failed(
        &run,
        3,
        "error: the token refused the user PIN (not retried)",
        "with a wrong PIN",
        wrong,
    );
    assert!(!run.stderr.contains(&pin));

    // A URI's token and PIN override the options and environment.
    let uri = format!("pkcs11:token={label};object=ec-p384?pin-value={pin}");
    let mut cmd = bare(&cli);
    cmd.args([
        "--token",
        "no-such-token",
        "--pin",
        "wrong",
        "jwk",
        "--key",
        &uri,
    ]);
    assert_eq!(ok(cmd).json(), expected);
    let uri = format!("pkcs11:object=ec-p384?pin-source=file:{pin_file}");
    assert_eq!(
        cli.ok(&["--pin", "wrong", "jwk", "--key", &uri], "").json(),
        expected
    );
    let uri = format!(
        "pkcs11:token={label};object=ec-p384?module-path={}",
        cli.token.module.display()
    );
    assert_eq!(
        cli.ok(
            &["--module", "/no/such/module.so", "jwk", "--key", &uri],
            ""
        )
        .json(),
        expected
    );
    let uri = format!("pkcs11:token={label};object=ec-p384?pin-value={wrong}");
    let run = cli.run(&["jwk", "--key", &uri], "");
    assert_failed(
        &run,
        3,
        "error: the token refused the user PIN (not retried)",
        "with a wrong pin-value",
        wrong,
    );

    // Configuration: each is exit 3, with what to do (the hint, where there is one).
    let cases: Vec<(Vec<String>, &str, &str)> = vec![
        (
            args(&["--token", "no-such-token", "keys", "list"]),
            "error: no token \"no-such-token\" in this module; tokens present: ",
            "hint: check --token or HSM_TOKEN",
        ),
        (
            args(&["--module", "/no/such/module.so", "keys", "list"]),
            "error: cannot load PKCS#11 module /no/such/module.so",
            "hint: check --module or HSM_MODULE",
        ),
        (
            args(&["--pin-source", "file:/no/such/pin", "keys", "list"]),
            "error: configuration error: cannot read the PIN from /no/such/pin",
            "",
        ),
        (
            args(&["jwk", "--key", "no-such-key"]),
            "error: no key found: label \"no-such-key\"",
            "hint: `hsm-jose keys list` shows the keys of the token",
        ),
        (
            args(&["sign", "--key", "ec-p256", "--alg", "RS256"]),
            "error: algorithm: algorithm `RS256` does not fit this key (EC P-256 `ec-p256`",
            "hint: choose an algorithm this key serves",
        ),
        (
            args(&["sign", "--jwk", "no-such.jwk", "--alg", "ES256"]),
            "error: cannot read the JWK no-such.jwk: No such file or directory",
            "",
        ),
    ];
    for (args, message, hint) in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let stderr = cli.fails(3, &args, "payload", message);
        assert!(stderr.contains(hint), "{args:?}: {hint:?} not in {stderr}");
    }
    // No token or no PIN at all.
    let mut cmd = bare(&cli);
    cmd.args(["--pin", &pin, "keys", "list"]);
    let run = Cli::run_command(cmd, b"");
    assert_failed(&run, 3, "error: no token selected", "without a token", &pin);
    assert!(run.stderr.contains("HSM_TOKEN"), "{}", run.stderr);
    let mut cmd = bare(&cli);
    cmd.args(["--token", &label, "keys", "list"]);
    let run = Cli::run_command(cmd, b"");
    assert_failed(&run, 3, "error: no user PIN given", "without a PIN", &pin);
    assert!(run.stderr.contains("HSM_PIN"), "{}", run.stderr);
}

/// The binary with only the module in its environment (no token, no PIN).
fn bare(cli: &Cli) -> std::process::Command {
    let mut cmd = std::process::Command::new(BIN);
    cmd.current_dir(&cli.dir)
        .env_remove("HSM_TOKEN")
        .env_remove("HSM_PIN")
        .env("HSM_MODULE", &cli.token.module);
    cmd
}

fn ok(cmd: std::process::Command) -> Run {
    let run = Cli::run_command(cmd, b"");
    assert_eq!(run.status, 0, "{}", run.stderr);
    run
}

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| (*s).to_owned()).collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
