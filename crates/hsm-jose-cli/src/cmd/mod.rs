//! The commands: each reads its input, asks hsm-jose and jose-core to do the work, and prints
//! the result. No cryptography happens here.

mod cert;
mod import;
mod jwe;
mod jwk;
mod jws;
mod jwt;
mod keys;

use crate::cli::{CertCommand, Cli, Command, JwtCommand, KeysCommand};
use crate::error::Result;
use crate::keys::Hsm;

/// Runs the command the command line names.
pub(crate) fn run(cli: &Cli) -> Result<()> {
    let hsm = Hsm::new(&cli.token);
    match &cli.command {
        Command::Keys(KeysCommand::List(args)) => keys::list(&hsm, args),
        Command::Keys(KeysCommand::Generate(args)) => keys::generate(&hsm, args),
        Command::Keys(KeysCommand::Import(args)) => import::import(&hsm, args),
        Command::Keys(KeysCommand::Delete(args)) => keys::delete(&hsm, args),
        Command::Jwk(args) => jwk::jwk(&hsm, args),
        Command::Jwks(args) => jwk::jwks(&hsm, args),
        Command::Sign(args) => jws::sign(&hsm, args),
        Command::Verify(args) => jws::verify(&hsm, args),
        Command::Encrypt(args) => jwe::encrypt(&hsm, args),
        Command::Decrypt(args) => jwe::decrypt(&hsm, args),
        Command::Jwt(JwtCommand::Sign(args)) => jwt::sign(&hsm, args),
        Command::Jwt(JwtCommand::Verify(args)) => jwt::verify(&hsm, args),
        Command::Jwt(JwtCommand::Encrypt(args)) => jwt::encrypt(&hsm, args),
        Command::Jwt(JwtCommand::Decrypt(args)) => jwt::decrypt(&hsm, args),
        Command::Jwt(JwtCommand::Nest(args)) => jwt::nest(&hsm, args),
        Command::Jwt(JwtCommand::Unnest(args)) => jwt::unnest(&hsm, args),
        Command::Cert(CertCommand::SelfSign(args)) => cert::self_sign(&hsm, args),
        Command::Cert(CertCommand::Csr(args)) => cert::csr(&hsm, args),
        Command::Cert(CertCommand::Show(args)) => cert::show(&hsm, args),
        Command::Cert(CertCommand::Import(args)) => cert::import(&hsm, args),
    }
}
