//! `hsm-jose`: JOSE (JWS, JWE, JWT, JWK) from the shell, with private keys in a PKCS#11 HSM
//! or in JWK files.
//!
//! The command line is a thin layer: keys come from hsm-jose ([`hsm_jose::HsmJwk`]) or
//! jose-core ([`jose_core::SoftwareKey`]), and every signature, verification, encryption and
//! decryption is jose-core's, behind its `KeyBackend` seam. This crate adds no cryptography.
//!
//! Exit status: 0 success; 1 a signature, MAC, tag or claim check failed (or the input is not
//! a valid JOSE object); 2 usage error; 3 token, PIN, key or configuration error. See
//! `README.md` and `hsm-jose --help`.
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod cli;
mod cmd;
mod error;
mod io;
mod jwks_url;
mod keys;
mod log;
mod provider;
mod publish;

use std::process::ExitCode;

fn main() -> ExitCode {
    // Before anything builds a key: the provider is fixed by the first use.
    let provider = provider::install();
    let cli = match cli::Cli::try_parse_with_version(provider::version(provider)) {
        Ok(cli) => cli,
        // Help and version exit 0 on standard output; usage errors exit 2 on standard error.
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    cli.log.install();
    match cmd::run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            e.report();
            e.exit_code()
        }
    }
}
