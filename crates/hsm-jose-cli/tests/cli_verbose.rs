//! `hsm-jose -v` / `-vv` / `HSM_JOSE_LOG` against SoftHSM: the token calls on standard error,
//! standard output unchanged (only the token), and never the PIN.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::cli;
use jose_core::{JwsAlgorithm, SoftwareKey, jws};

const SIGN: &[&str] = &["sign", "--key", "ec-p256", "--alg", "ES256"];

/// Verifies `token` over `payload` with the public key of `ec-p256`.
fn verifies(public: &SoftwareKey, token: &str, payload: &[u8]) {
    let verified = jws::verify_compact(token.trim_end(), public, &[JwsAlgorithm::ES256]).unwrap();
    assert_eq!(verified.payload(), payload);
}

#[test]
fn verbose_shows_the_token_calls_on_stderr_only() {
    let cli = cli("verbose");
    let pin = cli.token.pin.expose_secret().to_owned();
    let public = SoftwareKey::from_json(&cli.ok(&["jwk", "--key", "ec-p256"], "").text()).unwrap();
    let payload = b"a payload";

    // Without -v: nothing about the token on standard error.
    let quiet = cli.ok(SIGN, payload);
    assert!(!quiet.stderr.contains("C_Sign"), "{}", quiet.stderr);
    verifies(&public, &quiet.text(), payload);

    // -v: the token calls, with their fields, on standard error.
    let verbose = cli.ok(&[&["-v"], SIGN].concat(), payload);
    let stderr = &verbose.stderr;
    let sign_line = stderr
        .lines()
        .find(|l| l.contains("function=\"C_Sign\""))
        .unwrap_or_else(|| panic!("no C_Sign span in:\n{stderr}"));
    assert!(sign_line.contains("mechanism=CKM_ECDSA"), "{sign_line}");
    assert!(sign_line.contains("slot="), "{sign_line}");
    assert!(sign_line.contains("rv=\"CKR_OK\""), "{sign_line}");
    assert!(sign_line.contains("duration_us="), "{sign_line}");
    assert!(sign_line.contains("DEBUG"), "{sign_line}");
    assert!(stderr.contains("function=\"C_Login\""), "{stderr}");
    assert!(stderr.contains("session opened"), "{stderr}");
    // -v is DEBUG: attribute reads (TRACE) are not shown.
    assert!(!stderr.contains("C_GetAttributeValue"), "{stderr}");
    assert!(!stderr.contains(&pin), "the PIN on standard error");
    // Standard output is the JWS alone, as without -v.
    let token = verbose.text();
    assert_eq!(token.trim_end().split('.').count(), 3, "{token}");
    assert!(!token.contains("C_Sign") && !token.contains("pkcs11"));
    verifies(&public, &token, payload);
    assert!(!stderr.contains(token.trim_end().rsplit('.').next().unwrap()));

    // -vv (after the subcommand too: the flag is global) adds the reads.
    let trace = cli.ok(&[SIGN, &["-vv"]].concat(), payload);
    assert!(
        trace.stderr.contains("C_GetAttributeValue"),
        "{}",
        trace.stderr
    );
    assert!(trace.stderr.contains("TRACE"), "{}", trace.stderr);

    // HSM_JOSE_LOG sets the level when there is no -v.
    let mut cmd = cli.command();
    cmd.args(SIGN).env("HSM_JOSE_LOG", "debug");
    let from_env = common::Cli::run_command(cmd, payload);
    assert_eq!(from_env.status, 0, "{}", from_env.stderr);
    assert!(
        from_env.stderr.contains("function=\"C_Sign\""),
        "{}",
        from_env.stderr
    );
    verifies(&public, &from_env.text(), payload);
}
