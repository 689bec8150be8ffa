//! `cargo xtask soak [--signatures N] [--decryptions M]`: the soak suite (`tests/tests/soak.rs`)
//! at full size, in a release build, against a fresh SoftHSM token through p11-fault's shim:
//! 8 threads x N ES256 signatures (default 20,000) and 8 x M RSA-OAEP decryptions (default
//! 2,000) through one pool, 1% of the token's calls failing at random. It prints the suite's
//! report (operations, errors by kind, faults injected, sessions, RSS) and fails if any
//! operation gave a wrong result, a session leaked or the RSS grew.
//!
//! `cargo xtask test-hsm` runs the same suite at its default, short size with every other suite.

use std::process::Command;

pub(crate) fn run(args: &[String]) -> crate::Result {
    let (mut signatures, mut decryptions) = (20_000u64, 2_000u64);
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut number = |name: &str| -> crate::Result<u64> {
            let value = args.next().ok_or(format!("{name} needs a number"))?;
            value
                .parse()
                .map_err(|_| format!("{name} {value}: not a number"))
        };
        match arg.as_str() {
            "--signatures" => signatures = number("--signatures")?,
            "--decryptions" => decryptions = number("--decryptions")?,
            other => {
                return Err(format!(
                    "soak: unknown argument `{other}`; usage: cargo xtask soak \
                     [--signatures N] [--decryptions M] (per thread, 8 threads each)"
                ));
            }
        }
    }
    let root = crate::root();
    let hsm = crate::softhsm::provision(&root, vec!["soak".to_owned()])?;
    crate::run(
        &format!("soak: 8 x {signatures} signatures, 8 x {decryptions} decryptions (release)"),
        &mut suite(&hsm, "--release", signatures, decryptions),
    )
}

/// `cargo test` of the soak suite with the sizes in its environment.
pub(crate) fn suite(
    hsm: &crate::softhsm::Provisioned,
    profile: &str,
    signatures: u64,
    decryptions: u64,
) -> Command {
    let mut cmd = crate::cargo();
    // `--workspace`: the same feature resolution as `cargo test --workspace`, so nothing is
    // rebuilt after it.
    cmd.args(["test", profile, "--workspace", "--test", "soak"])
        .args(["--", "--nocapture"])
        .envs(hsm.env())
        .env("SOAK_SIGNATURES", signatures.to_string())
        .env("SOAK_DECRYPTIONS", decryptions.to_string());
    cmd
}
