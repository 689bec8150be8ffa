//! `hsm-jose jwt sign|verify|encrypt|decrypt|nest|unnest` against SoftHSM: claims from options
//! and JSON, claim checks, and every rejected JWT (exit 1, nothing on standard output).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use common::{Cli, cli, fixture};
use jose_core::{SoftwareKey, base64url};
use serde_json::{Value, json};

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn public_jwk(cli: &Cli, label: &str) -> String {
    let jwk = cli.ok(&["jwk", "--key", label], "").text();
    cli.write(&format!("{label}.jwk"), jwk)
}

fn header(token: &str, index: usize) -> Value {
    let part = token.trim_end().split('.').nth(index).unwrap();
    serde_json::from_slice(&base64url::decode("header", part).unwrap()).unwrap()
}

#[test]
fn jwt_sign_then_verify_with_the_key_or_a_jwks() {
    let _t = fixture::shared();
    let cli = cli("sign-verify");
    let claims_file = cli.write("claims.json", r#"{"scope":"read","iss":"replaced"}"#);
    let before = now();
    let token = cli
        .ok(
            &[
                "jwt",
                "sign",
                "--key",
                "ec-p256",
                "--alg",
                "ES256",
                "--iss",
                "https://issuer.example",
                "--sub",
                "alice",
                "--aud",
                "api",
                "--aud",
                "web",
                "--exp-in",
                "600",
                "--claims",
            ]
            .into_iter()
            .chain([format!("@{claims_file}").as_str()])
            .collect::<Vec<_>>(),
            "",
        )
        .text();
    assert!(token.ends_with('\n'));
    let h = header(&token, 0);
    assert_eq!(h["typ"], "JWT");
    assert_eq!(h["alg"], "ES256");
    let jwk = cli.ok(&["jwk", "--key", "ec-p256"], "").json();
    assert_eq!(h["kid"], jwk["kid"]);

    let out = cli.ok(
        &["jwt", "verify", "--key", "ec-p256", "--aud", "api"],
        &token,
    );
    assert!(out.text().ends_with("}\n"));
    let claims = out.json();
    assert_eq!(
        claims["iss"], "https://issuer.example",
        "options override --claims"
    );
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["aud"], json!(["api", "web"]));
    assert_eq!(claims["scope"], "read");
    let iat = claims["iat"].as_i64().unwrap();
    assert!(iat >= before && iat <= now());
    assert_eq!(claims["exp"].as_i64().unwrap(), iat + 600);

    // With only a JWK Set, and every check.
    let jwks = cli
        .ok(&["jwks", "--key", "ec-p256", "--key", "rsa-2048"], "")
        .text();
    let jwks = cli.write("jwks.json", jwks);
    let checked = cli
        .ok(
            &[
                "jwt",
                "verify",
                "--jwks",
                &jwks,
                "--iss",
                "https://issuer.example",
                "--aud",
                "web",
                "--sub",
                "alice",
                "--alg",
                "ES256",
            ],
            &token,
        )
        .json();
    assert_eq!(checked, claims);

    // Claims given as JSON text; an iat given is kept.
    let token = cli
        .ok(
            &[
                "jwt",
                "sign",
                "--key",
                "rsa-2048",
                "--alg",
                "PS256",
                "--claims",
                r#"{"iat":1000,"exp":4000000000,"n":[1,2]}"#,
            ],
            "",
        )
        .text();
    let claims = cli.ok(&["jwt", "verify", "--jwks", &jwks], &token).json();
    assert_eq!(claims, json!({"iat":1000,"exp":4000000000u64,"n":[1,2]}));
}

#[test]
fn jwt_sign_with_a_software_key_from_standard_input() {
    let cli = cli("software");
    let key = SoftwareKey::generate_ed25519().unwrap().with_kid("ed");
    let private = key.jwk().to_private_json();
    let token = cli
        .ok(
            &[
                "jwt", "sign", "--jwk", "-", "--alg", "EdDSA", "--sub", "bob", "--exp-in", "60",
            ],
            private.as_bytes(),
        )
        .text();
    assert_eq!(header(&token, 0)["kid"], "ed");
    let public = cli.write("ed.jwk", key.jwk().to_public_json().unwrap());
    let claims = cli.ok(&["jwt", "verify", "--jwk", &public], &token).json();
    assert_eq!(claims["sub"], "bob");
}

/// Exit 1, nothing on standard output, for each claim check and each forgery.
#[test]
fn every_rejected_jwt_exits_1_with_nothing_on_stdout() {
    let _t = fixture::shared();
    let cli = cli("rejected");
    let public = public_jwk(&cli, "ec-p384");
    let sign = |claims: &str| {
        cli.ok(
            &[
                "jwt", "sign", "--key", "ec-p384", "--alg", "ES384", "--claims", claims,
            ],
            "",
        )
        .text()
    };
    let verify = ["jwt", "verify", "--jwk", public.as_str()];
    let with = |extra: &[&'static str]| -> Vec<&str> {
        verify
            .iter()
            .copied()
            .chain(extra.iter().copied())
            .collect()
    };
    let now = now();

    let expired = sign(&format!(r#"{{"exp":{}}}"#, now - 3600));
    cli.fails(
        1,
        &verify,
        &expired,
        "error: JWT claims: the token has expired",
    );

    let no_exp = cli
        .ok(
            &[
                "jwt", "sign", "--key", "ec-p384", "--alg", "ES384", "--no-exp",
            ],
            "",
        )
        .text();
    let stderr = cli.fails(
        1,
        &verify,
        &no_exp,
        "error: JWT claims: claim `exp` is required",
    );
    assert!(stderr.contains("--exp-optional"), "{stderr}");
    cli.ok(&with(&["--exp-optional"]), &no_exp);

    // The leeway: 30 s past exp is tolerated by default (60 s), not with --leeway 0.
    let just_expired = sign(&format!(r#"{{"exp":{}}}"#, now - 30));
    cli.ok(&verify, &just_expired);
    cli.fails(
        1,
        &with(&["--leeway", "0"]),
        &just_expired,
        "error: JWT claims: the token has expired",
    );

    let not_yet = sign(&format!(r#"{{"exp":{},"nbf":{}}}"#, now + 7200, now + 3600));
    cli.fails(
        1,
        &verify,
        &not_yet,
        "error: JWT claims: the token is not yet valid",
    );

    let claims = sign(&format!(
        r#"{{"exp":{},"iss":"issuer","aud":"api","sub":"alice"}}"#,
        now + 600
    ));
    cli.ok(
        &with(&["--iss", "issuer", "--aud", "api", "--sub", "alice"]),
        &claims,
    );
    cli.fails(
        1,
        &with(&["--iss", "someone", "--aud", "api"]),
        &claims,
        "error: JWT claims: claim `iss` does not have the expected value",
    );
    let aud = "error: JWT claims: claim `aud` does not have the expected value";
    cli.fails(1, &with(&["--aud", "web"]), &claims, aud);
    let stderr = cli.fails(1, &verify, &claims, aud);
    assert!(
        stderr.contains("given with --aud"),
        "a token with an aud needs --aud: {stderr}"
    );
    cli.fails(
        1,
        &with(&["--aud", "api", "--sub", "bob"]),
        &claims,
        "error: JWT claims: claim `sub` does not have the expected value",
    );
    cli.fails(
        1,
        &with(&["--iss", "issuer"]),
        sign(r#"{"exp":4000000000}"#),
        "error: JWT claims: claim `iss` is required",
    );

    // A forged signature, another key, another algorithm.
    let good = sign(r#"{"exp":4000000000}"#);
    let parts: Vec<&str> = good.trim_end().split('.').collect();
    let mut sig = base64url::decode("s", parts[2]).unwrap();
    sig[0] ^= 0x80;
    let forged = format!("{}.{}.{}", parts[0], parts[1], base64url::encode(&sig));
    let failed = "error: signature verification failed";
    cli.fails(1, &verify, &forged, failed);
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        base64url::encode(br#"{"exp":4000000000,"admin":true}"#),
        parts[2]
    );
    cli.fails(1, &verify, &tampered, failed);
    let not_allowed = "error: algorithm: algorithm `ES384` is not in the allowed list";
    cli.fails(
        1,
        &["jwt", "verify", "--key", "ec-p256"],
        &good,
        not_allowed,
    );
    cli.fails(1, &with(&["--alg", "ES256"]), &good, not_allowed);

    // Not a signed compact JWT: a JWE, a JSON serialization, garbage.
    let rsa = public_jwk(&cli, "rsa-2048");
    let encrypted = cli
        .ok(
            &[
                "jwt", "encrypt", "--jwk", &rsa, "--alg", "RSA-OAEP", "--enc", "A128GCM",
                "--exp-in", "60",
            ],
            "",
        )
        .text();
    cli.fails(
        1,
        &verify,
        &encrypted,
        "error: JWT claims: expected a JWS, got a JWE",
    );
    let json = cli
        .ok(
            &["sign", "--key", "ec-p384", "--alg", "ES384", "--json"],
            br#"{"exp":4000000000}"#,
        )
        .text();
    cli.fails(
        1,
        &verify,
        &json,
        "error: malformed input: JSON serialization: a JWT uses the compact serialization",
    );
    cli.fails(
        1,
        &verify,
        "",
        "error: no JWT on standard input (it is empty)",
    );
    cli.fails(
        1,
        &verify,
        "x.y.z",
        "error: malformed input: the protected header is not valid base64url",
    );
}

#[test]
fn jwt_encrypt_then_decrypt_in_the_hsm() {
    let _t = fixture::shared();
    let cli = cli("encrypt-decrypt");
    let rsa = public_jwk(&cli, "rsa-2048");
    let token = cli
        .ok(
            &[
                "jwt", "encrypt", "--jwk", &rsa, "--alg", "RSA-OAEP", "--enc", "A256GCM", "--sub",
                "alice", "--aud", "api", "--exp-in", "300",
            ],
            "",
        )
        .text();
    assert_eq!(token.trim_end().split('.').count(), 5);
    assert_eq!(header(&token, 0)["typ"], "JWT");
    let claims = cli
        .ok(
            &["jwt", "decrypt", "--key", "rsa-2048", "--aud", "api"],
            &token,
        )
        .json();
    assert_eq!(claims["sub"], "alice");
    cli.fails(
        1,
        &["jwt", "decrypt", "--key", "rsa-2048"],
        &token,
        "error: JWT claims: claim `aud` does not have the expected value",
    );
    cli.fails(
        1,
        &[
            "jwt", "decrypt", "--key", "rsa-2048", "--aud", "api", "--enc", "A128GCM",
        ],
        &token,
        "error: algorithm: algorithm `A256GCM` is not in the allowed list",
    );

    // A secret key in the token, both ways.
    let token = cli
        .ok(
            &[
                "jwt",
                "encrypt",
                "--key",
                "aes-256",
                "--alg",
                "A256KW",
                "--enc",
                "A128CBC-HS256",
                "--exp-in",
                "300",
            ],
            "",
        )
        .text();
    assert!(
        cli.ok(&["jwt", "decrypt", "--key", "aes-256"], &token)
            .json()["exp"]
            .is_i64()
    );

    // A signed JWT is not an encrypted one.
    let signed = cli
        .ok(
            &[
                "jwt", "sign", "--key", "ec-p256", "--alg", "ES256", "--exp-in", "60",
            ],
            "",
        )
        .text();
    cli.fails(
        1,
        &["jwt", "decrypt", "--key", "rsa-2048"],
        &signed,
        "error: JWT claims: expected a JWE, got a JWS",
    );
}

#[test]
fn jwt_nest_then_unnest() {
    let _t = fixture::shared();
    let cli = cli("nest");
    let rsa = public_jwk(&cli, "rsa-2048");
    let ec = public_jwk(&cli, "ec-p256");
    let jwks = cli.ok(&["jwks", "--key", "ec-p256"], "").text();
    let jwks = cli.write("jwks.json", jwks);
    let nested = cli
        .ok(
            &[
                "jwt",
                "nest",
                "--sign-key",
                "ec-p256",
                "--sign-alg",
                "ES256",
                "--encrypt-jwk",
                &rsa,
                "--key-alg",
                "RSA-OAEP",
                "--enc",
                "A256GCM",
                "--iss",
                "issuer",
                "--exp-in",
                "300",
            ],
            "",
        )
        .text();
    let outer = header(&nested, 0);
    assert_eq!(outer["cty"], "JWT");
    assert_eq!(outer["alg"], "RSA-OAEP");

    let unnest = |verify: &[&str]| -> Vec<String> {
        [
            "jwt",
            "unnest",
            "--decrypt-key",
            "rsa-2048",
            "--iss",
            "issuer",
        ]
        .iter()
        .chain(verify)
        .map(|s| (*s).to_owned())
        .collect()
    };
    for verify in [
        vec!["--verify-jwk", ec.as_str()],
        vec!["--verify-jwks", jwks.as_str()],
        vec!["--verify-key", "ec-p256"],
        vec![
            "--verify-key",
            "ec-p256",
            "--sign-alg",
            "ES256",
            "--key-alg",
            "RSA-OAEP",
        ],
    ] {
        let args = unnest(&verify);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let claims = cli.ok(&args, &nested).json();
        assert_eq!(claims["iss"], "issuer", "{args:?}");
    }
    // The inner JWT signed by another key than the expected one: rejected.
    let args = unnest(&["--verify-key", "ec-p384"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let not_allowed = "error: algorithm: algorithm `ES256` is not in the allowed list";
    cli.fails(1, &args, &nested, not_allowed);
    let args = unnest(&["--verify-key", "ec-p256", "--sign-alg", "ES384"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    cli.fails(1, &args, &nested, not_allowed);
    // A nested JWT is neither a signed nor a plain encrypted one, and the reverse.
    cli.fails(
        1,
        &["jwt", "decrypt", "--key", "rsa-2048"],
        &nested,
        "error: JWT claims: expected a encrypted JWT, got a nested JWT",
    );
    let encrypted = cli
        .ok(
            &[
                "jwt", "encrypt", "--jwk", &rsa, "--alg", "RSA-OAEP", "--enc", "A256GCM",
                "--exp-in", "60",
            ],
            "",
        )
        .text();
    let args = unnest(&["--verify-key", "ec-p256"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    cli.fails(
        1,
        &args,
        &encrypted,
        "error: JWT claims: expected a nested JWT, got a encrypted JWT",
    );

    // Software keys on both sides; the signing JWK from standard input.
    let signer = SoftwareKey::generate_ec(jose_core::jwk::EcCurve::P521).unwrap();
    let nested = cli
        .ok(
            &[
                "jwt",
                "nest",
                "--sign-jwk",
                "-",
                "--sign-alg",
                "ES512",
                "--encrypt-key",
                "ec-p384",
                "--key-alg",
                "ECDH-ES+A192KW",
                "--enc",
                "A192GCM",
                "--sub",
                "s",
                "--exp-in",
                "60",
            ],
            signer.jwk().to_private_json().as_bytes(),
        )
        .text();
    let verify_jwk = cli.write("signer.jwk", signer.jwk().to_public_json().unwrap());
    let claims = cli
        .ok(
            &[
                "jwt",
                "unnest",
                "--decrypt-key",
                "ec-p384",
                "--verify-jwk",
                &verify_jwk,
            ],
            &nested,
        )
        .json();
    assert_eq!(claims["sub"], "s");
    cli.fails(
        2,
        &[
            "jwt",
            "nest",
            "--sign-jwk",
            "-",
            "--sign-alg",
            "ES512",
            "--encrypt-jwk",
            "-",
            "--key-alg",
            "ECDH-ES",
            "--enc",
            "A128GCM",
        ],
        "",
        "error: only one of --sign-jwk and --encrypt-jwk can be `-` (standard input)",
    );
}

/// Issue 13 item 12: a JWT that never expires is issued only when asked for. `jwt sign`,
/// `jwt encrypt` and `jwt nest` need --exp-in, an `exp` in --claims, or --no-exp.
#[test]
fn a_jwt_without_exp_is_issued_only_with_no_exp() {
    let _t = fixture::shared();
    let cli = cli("exp-required");
    let never =
        "error: a JWT without `exp` never expires: give --exp-in SECS (or an `exp` in --claims)";
    let sign = ["jwt", "sign", "--key", "ec-p256", "--alg", "ES256"];
    let with = |extra: &[&'static str]| -> Vec<&str> {
        sign.iter().copied().chain(extra.iter().copied()).collect()
    };
    let stderr = cli.fails(2, &with(&["--sub", "alice"]), "", never);
    assert!(
        stderr.contains("hint: --no-exp issues a token that never expires"),
        "{stderr}"
    );
    cli.fails(
        2,
        &[
            "jwt", "encrypt", "--key", "aes-256", "--alg", "A256KW", "--enc", "A128GCM",
        ],
        "",
        never,
    );
    cli.fails(
        2,
        &[
            "jwt",
            "nest",
            "--sign-key",
            "ec-p256",
            "--sign-alg",
            "ES256",
            "--encrypt-key",
            "aes-256",
            "--key-alg",
            "A256KW",
            "--enc",
            "A128GCM",
        ],
        "",
        never,
    );

    // --no-exp: a token without `exp`, said so on the command line.
    let token = cli.ok(&with(&["--no-exp", "--sub", "alice"]), "").text();
    let claims = cli
        .ok(
            &["jwt", "verify", "--key", "ec-p256", "--exp-optional"],
            &token,
        )
        .json();
    assert!(claims.get("exp").is_none(), "{claims}");
    assert_eq!(claims["sub"], "alice");
    // An `exp` in --claims is as explicit as --exp-in.
    let token = cli
        .ok(&with(&["--claims", r#"{"exp":4000000000}"#]), "")
        .text();
    let claims = cli
        .ok(&["jwt", "verify", "--key", "ec-p256"], &token)
        .json();
    assert_eq!(claims["exp"], 4_000_000_000u64);
    // Contradictions.
    cli.fails(
        2,
        &with(&["--no-exp", "--exp-in", "60"]),
        "",
        "error: the argument '--no-exp' cannot be used with '--exp-in <SECS>'",
    );
    cli.fails(
        2,
        &with(&["--no-exp", "--claims", r#"{"exp":4000000000}"#]),
        "",
        "error: --no-exp contradicts the `exp` in --claims",
    );
}

/// Issue 13 item 12: a negative duration, written `--exp-in=-100`, issues a token that has
/// already expired (to test verifiers).
#[test]
fn a_negative_exp_in_issues_an_expired_token() {
    let _t = fixture::shared();
    let cli = cli("exp-negative");
    let token = cli
        .ok(
            &[
                "jwt",
                "sign",
                "--key",
                "ec-p256",
                "--alg",
                "ES256",
                "--exp-in=-100",
            ],
            "",
        )
        .text();
    let part = token.trim_end().split('.').nth(1).unwrap();
    let claims: Value =
        serde_json::from_slice(&base64url::decode("claims", part).unwrap()).unwrap();
    assert_eq!(
        claims["exp"].as_i64().unwrap(),
        claims["iat"].as_i64().unwrap() - 100
    );
    cli.fails(
        1,
        &["jwt", "verify", "--key", "ec-p256"],
        &token,
        "error: JWT claims: the token has expired",
    );
}

/// A 1024-bit RSA modulus (odd, top bit set): below jose-core's 2048-bit minimum.
const RSA_1024: &str = r#"{"kty":"RSA","kid":"legacy-1024","e":"AQAB","n":"h1huUY8wVCRfBPivbwDF5c0csC_6cXZiunPjl4NHwzdutJC5q27aKIljBajUsfD-Jsd5bC65PrUmllyyoZ3J6NwcU07iPrTMZTfyRhZGdOX1LlE7rps6NAMwJ3Wb-yaspL6juQG9-VAhgQAh2TzlC45NmwHqv_ev7REi2zXoazc"}"#;

/// An issuer on 127.0.0.1 that answers every request with `body` as a JWK Set; its URL.
fn serve_jwks(body: String) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/.well-known/jwks.json",
        listener.local_addr().unwrap()
    );
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

/// `jwt verify --jwks-url`: the issuer's set is fetched, the keys it holds that cannot be used
/// (RSA-1024, an unknown key type) are skipped and reported, the others verify.
#[test]
fn jwt_verify_with_a_jwks_url() {
    let cli = cli("jwks-url");
    let ec = SoftwareKey::generate_ec(jose_core::jwk::EcCurve::P256)
        .unwrap()
        .with_kid("ec-1");
    let ed = SoftwareKey::generate_ed25519().unwrap().with_kid("ed-1");
    let url = serve_jwks(format!(
        r#"{{"keys":[{},{RSA_1024},{{"kty":"PQC","kid":"ml-dsa-1"}},{}]}}"#,
        ec.jwk().to_public_json().unwrap(),
        ed.jwk().to_public_json().unwrap()
    ));
    let sign = |key: &SoftwareKey, alg: &str| {
        let jwk = key.jwk().to_private_json();
        cli.ok(
            &[
                "jwt", "sign", "--jwk", "-", "--alg", alg, "--sub", "carol", "--exp-in", "60",
            ],
            jwk.as_bytes(),
        )
        .text()
    };
    for (key, alg) in [(&ec, "ES256"), (&ed, "EdDSA")] {
        let token = sign(key, alg);
        let run = cli.ok(
            &["jwt", "verify", "--jwks-url", &url, "--allow-http"],
            &token,
        );
        assert_eq!(run.json()["sub"], "carol");
        assert!(
            run.stderr.contains(
                "skipped key 1 (kid `legacy-1024`): key: RSA modulus of 1024 bits is below the 2048-bit minimum"
            ),
            "{}",
            run.stderr
        );
        assert!(
            run.stderr
                .contains("skipped key 2 (kid `ml-dsa-1`): key: unsupported key type `PQC`"),
            "{}",
            run.stderr
        );
    }

    // A token from a key the issuer does not publish: rejected.
    let stranger = SoftwareKey::generate_ec(jose_core::jwk::EcCurve::P256)
        .unwrap()
        .with_kid("stranger");
    let forged = sign(&stranger, "ES256");
    cli.fails(
        1,
        &["jwt", "verify", "--jwks-url", &url, "--allow-http"],
        &forged,
        "no key with kid `stranger`",
    );

    // Plain http is refused unless allowed; an issuer that cannot be reached is a setup error.
    let token = sign(&ec, "ES256");
    let public = cli.write("ec.jwk", ec.jwk().to_public_json().unwrap());
    cli.fails(
        2,
        &["jwt", "verify", "--jwk", &public, "--allow-http"],
        &token,
        "--allow-http goes with --jwks-url",
    );
    cli.fails(
        2,
        &["jwt", "verify", "--jwks-url", &url],
        &token,
        "is not https",
    );
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let down = format!("http://{}/jwks.json", closed.local_addr().unwrap());
    drop(closed);
    cli.fails(
        3,
        &["jwt", "verify", "--jwks-url", &down, "--allow-http"],
        &token,
        "Connection refused",
    );
}
