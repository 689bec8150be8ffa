//! `encrypt` and `decrypt`.

use jose_core::jwe::{Decrypter, JweBuilder};

use crate::cli::{DecryptArgs, EncryptArgs};
use crate::cmd::jws::header_argument;
use crate::error::{self, Result};
use crate::io::{self, Stdin};
use crate::keys::{self, Hsm, Purpose};

pub(crate) fn encrypt(hsm: &Hsm<'_>, args: &EncryptArgs) -> Result<()> {
    let header = header_argument(args.header.as_deref())?;
    let key = args.key.producer(hsm, Stdin::Busy, Purpose::Encrypt)?;
    let plaintext = zeroize::Zeroizing::new(io::read_stdin("the plaintext")?);
    let jwe = JweBuilder::new(args.algs.enc)
        .protected(header)
        .add_recipient(key.as_ref(), args.algs.alg, None)
        .and_then(|b| b.encrypt(&plaintext))
        .map_err(error::producing)?;
    let token = if args.json {
        jwe.general_json()
    } else {
        jwe.compact()
    }
    .map_err(error::producing)?;
    io::print_line(&token)
}

pub(crate) fn decrypt(hsm: &Hsm<'_>, args: &DecryptArgs) -> Result<()> {
    let consumer = args.keys.consumer(hsm, Purpose::Decrypt)?;
    let algs = consumer.jwe_algorithms(&args.algs.alg)?;
    let encs = keys::content_encryptions(&args.algs.enc);
    let token = io::read_stdin_token("JWE")?;
    let decrypter = Decrypter::new(&algs, &encs);
    let decrypted = consumer
        .apply(
            |key| decrypter.decrypt(&token, key),
            |keys| decrypter.decrypt_with(&token, keys),
        )
        .map_err(|e| {
            error::consuming_allowed(e, &allowed_names(&algs, &encs), "--alg and --enc")
        })?;
    io::write_stdout(decrypted.plaintext())
}

/// The allowed JWE algorithms, for a hint.
pub(crate) fn allowed_names(
    algs: &[jose_core::KeyManagementAlgorithm],
    encs: &[jose_core::ContentEncryption],
) -> Vec<String> {
    algs.iter()
        .map(ToString::to_string)
        .chain(encs.iter().map(ToString::to_string))
        .collect()
}
