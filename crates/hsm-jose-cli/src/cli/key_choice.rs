//! The options that choose one key: an HSM key (`--key REF`), a JWK file (`--jwk FILE`) or,
//! for the keys that consume, a JWK Set file (`--jwks FILE`).
//!
//! Every command that takes one key flattens a [`KeyChoice`]; what differs between them is only
//! the option names and their help (`--key` or `--sign-key`, whether `--jwks` is offered), so
//! those are a table per role ([`KeyOptions`]) and the parsing is written once.

use std::fmt;
use std::marker::PhantomData;

use clap::error::ErrorKind;
use clap::{Arg, ArgAction, ArgGroup, ArgMatches, Args, Command, FromArgMatches};

/// Where the chosen key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeySource {
    /// An HSM key reference: a label, `id:HEX`, `label:NAME` or a `pkcs11:` URI.
    Hsm(String),
    /// A JWK file (`-`: standard input, where the command leaves it free).
    Jwk(String),
    /// A JWK Set file, whose keys are chosen by `kid` (consumers only).
    Jwks(String),
}

/// The option names and help of one role.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeyOptions {
    /// The clap group id: exactly one of the options is required.
    group: &'static str,
    /// The HSM key option (its long name is its id) and its help.
    key: (&'static str, &'static str),
    /// The JWK file option and its help.
    jwk: (&'static str, &'static str),
    /// The JWK Set file option and its help; `None` where one key is needed (producers).
    jwks: Option<(&'static str, &'static str)>,
}

/// A role a key plays in a command, as its options name it.
pub(crate) trait KeyRole {
    /// The options of this role.
    const OPTIONS: KeyOptions;
}

/// The key of a command that produces: `--key | --jwk`.
#[derive(Debug)]
pub(crate) enum Producer {}

impl KeyRole for Producer {
    const OPTIONS: KeyOptions = KeyOptions {
        group: "producing_key",
        key: (
            "key",
            "An HSM key: a label, id:HEX, label:NAME, or a pkcs11: URI",
        ),
        jwk: ("jwk", "A software key: a JWK file (`-`: standard input)"),
        jwks: None,
    };
}

/// The keys of a command that consumes: `--key | --jwk | --jwks`.
#[derive(Debug)]
pub(crate) enum Consumer {}

impl KeyRole for Consumer {
    const OPTIONS: KeyOptions = KeyOptions {
        group: "consuming_keys",
        key: (
            "key",
            "An HSM key: a label, id:HEX, label:NAME, or a pkcs11: URI",
        ),
        jwk: ("jwk", "A software key: a JWK file"),
        jwks: Some(("jwks", "A JWK Set file; the token's kid chooses the key")),
    };
}

/// The key that signs the inner JWT of a nested JWT: `--sign-key | --sign-jwk`.
#[derive(Debug)]
pub(crate) enum NestSigner {}

impl KeyRole for NestSigner {
    const OPTIONS: KeyOptions = KeyOptions {
        group: "signing_key",
        key: ("sign-key", "The signing HSM key"),
        jwk: (
            "sign-jwk",
            "The signing software key, a JWK file (`-`: standard input)",
        ),
        jwks: None,
    };
}

/// The recipient of a nested JWT: `--encrypt-key | --encrypt-jwk`.
#[derive(Debug)]
pub(crate) enum NestRecipient {}

impl KeyRole for NestRecipient {
    const OPTIONS: KeyOptions = KeyOptions {
        group: "recipient_key",
        key: ("encrypt-key", "The recipient's HSM key"),
        jwk: (
            "encrypt-jwk",
            "The recipient's key, a JWK file (its public part is enough)",
        ),
        jwks: None,
    };
}

/// The keys that decrypt a nested JWT: `--decrypt-key | --decrypt-jwk | --decrypt-jwks`.
#[derive(Debug)]
pub(crate) enum NestDecrypter {}

impl KeyRole for NestDecrypter {
    const OPTIONS: KeyOptions = KeyOptions {
        group: "decrypting_keys",
        key: ("decrypt-key", "The decrypting HSM key"),
        jwk: ("decrypt-jwk", "The decrypting software key, a JWK file"),
        jwks: Some((
            "decrypt-jwks",
            "The decrypting keys, a JWK Set file chosen by kid",
        )),
    };
}

/// The keys that verify the inner JWT of a nested JWT: `--verify-key | --verify-jwk |
/// --verify-jwks`.
#[derive(Debug)]
pub(crate) enum NestVerifier {}

impl KeyRole for NestVerifier {
    const OPTIONS: KeyOptions = KeyOptions {
        group: "verifying_keys",
        key: ("verify-key", "The verifying HSM key"),
        jwk: (
            "verify-jwk",
            "The verifying key, a JWK file (its public part is enough)",
        ),
        jwks: Some((
            "verify-jwks",
            "The verifying keys, a JWK Set file chosen by kid",
        )),
    };
}

/// One key, chosen by the options of role `R`; flattened into a command's arguments.
pub(crate) struct KeyChoice<R> {
    source: KeySource,
    role: PhantomData<R>,
}

impl<R> KeyChoice<R> {
    /// Where the key comes from.
    pub(crate) fn source(&self) -> &KeySource {
        &self.source
    }
}

impl<R> fmt::Debug for KeyChoice<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("KeyChoice").field(&self.source).finish()
    }
}

/// One of the options of a role.
struct KeyOption {
    /// The option's id and long name.
    id: &'static str,
    help: &'static str,
    value_name: &'static str,
    /// The source its value names.
    source: fn(String) -> KeySource,
}

impl KeyOptions {
    /// The options, in the order help shows them.
    fn each(self) -> impl Iterator<Item = KeyOption> {
        let option = |(id, help), value_name, source| KeyOption {
            id,
            help,
            value_name,
            source,
        };
        [
            Some(option(self.key, "REF", KeySource::Hsm)),
            Some(option(self.jwk, "FILE", KeySource::Jwk)),
            self.jwks.map(|jwks| option(jwks, "FILE", KeySource::Jwks)),
        ]
        .into_iter()
        .flatten()
    }
}

impl<R: KeyRole> FromArgMatches for KeyChoice<R> {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        for option in R::OPTIONS.each() {
            let value = matches.try_get_one::<String>(option.id).map_err(|e| {
                clap::Error::raw(ErrorKind::InvalidValue, format!("--{}: {e}\n", option.id))
            })?;
            if let Some(value) = value {
                return Ok(Self {
                    source: (option.source)(value.clone()),
                    role: PhantomData,
                });
            }
        }
        let names: Vec<String> = R::OPTIONS.each().map(|o| format!("--{}", o.id)).collect();
        Err(clap::Error::raw(
            ErrorKind::MissingRequiredArgument,
            format!("give one of {}\n", names.join(", ")),
        ))
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl<R: KeyRole> Args for KeyChoice<R> {
    fn augment_args(cmd: Command) -> Command {
        let group = R::OPTIONS.group;
        let cmd = cmd.group(ArgGroup::new(group).required(true).multiple(false));
        R::OPTIONS.each().fold(cmd, |cmd, option| {
            cmd.arg(
                Arg::new(option.id)
                    .long(option.id)
                    .value_name(option.value_name)
                    .help(option.help)
                    .action(ArgAction::Set)
                    .value_parser(clap::value_parser!(String))
                    .group(group),
            )
        })
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}
