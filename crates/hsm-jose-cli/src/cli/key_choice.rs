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
    /// A JWK Set fetched from an issuer's URL, parsed leniently (`jwt verify` only).
    JwksUrl(String),
}

/// The option names and help of one role.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeyOptions {
    /// The clap group id: exactly one of the key options is required.
    group: &'static str,
    /// The HSM key option (its long name is its id) and its help.
    key: (&'static str, &'static str),
    /// The JWK file option and its help.
    jwk: (&'static str, &'static str),
    /// The JWK Set file option and its help; `None` where one key is needed (producers).
    jwks: Option<(&'static str, &'static str)>,
    /// The JWK Set URL option and its help; `None` where the command fetches nothing.
    jwks_url: Option<(&'static str, &'static str)>,
    /// The option that sets the key's `kid`, and its help; `None` for consumers (a `kid` on
    /// the key that consumes would make it skip tokens that name another).
    kid: Option<(&'static str, &'static str)>,
}

impl KeyOptions {
    const fn new(
        group: &'static str,
        key: (&'static str, &'static str),
        jwk: (&'static str, &'static str),
    ) -> Self {
        Self {
            group,
            key,
            jwk,
            jwks: None,
            jwks_url: None,
            kid: None,
        }
    }

    const fn jwks_url(mut self, id: &'static str, help: &'static str) -> Self {
        self.jwks_url = Some((id, help));
        self
    }

    const fn jwks(mut self, id: &'static str, help: &'static str) -> Self {
        self.jwks = Some((id, help));
        self
    }

    const fn kid(mut self, id: &'static str, help: &'static str) -> Self {
        self.kid = Some((id, help));
        self
    }
}

/// A role a key plays in a command, as its options name it.
pub(crate) trait KeyRole {
    /// The options of this role.
    const OPTIONS: KeyOptions;
}

/// Declares the roles: an uninhabited marker type each, with its options.
macro_rules! key_roles {
    ($($(#[$doc:meta])* $role:ident = $options:expr;)*) => {$(
        $(#[$doc])*
        #[derive(Debug)]
        pub(crate) enum $role {}

        impl KeyRole for $role {
            const OPTIONS: KeyOptions = $options;
        }
    )*};
}

const HSM_KEY: &str = "An HSM key: a label, id:HEX, label:NAME, or a pkcs11: URI";

key_roles! {
    /// The key of a command that signs or encrypts: `--key | --jwk`, `--kid`.
    Producer = KeyOptions::new(
        "producing_key",
        ("key", HSM_KEY),
        ("jwk", "A software key: a JWK file (`-`: standard input)"),
    )
    .kid(
        "kid",
        "The kid to put in the header [default: an HSM key's RFC 7638 thumbprint; a JWK's own kid]",
    );

    /// The key whose public JWK is printed: `--key | --jwk`, `--kid`.
    Publisher = KeyOptions::new(
        "published_key",
        ("key", HSM_KEY),
        ("jwk", "A software key: a JWK file (`-`: standard input)"),
    )
    .kid(
        "kid",
        "The kid to publish [default: an HSM key's RFC 7638 thumbprint; a JWK's own kid]",
    );

    /// The keys of a command that verifies or decrypts: `--key | --jwk | --jwks`.
    Consumer = KeyOptions::new(
        "consuming_keys",
        ("key", HSM_KEY),
        ("jwk", "A software key: a JWK file"),
    )
    .jwks("jwks", "A JWK Set file; the token's kid chooses the key");

    /// The keys of `jwt verify`: `--key | --jwk | --jwks | --jwks-url`.
    JwtVerifier = KeyOptions::new(
        "consuming_keys",
        ("key", HSM_KEY),
        ("jwk", "A software key: a JWK file"),
    )
    .jwks("jwks", "A JWK Set file; the token's kid chooses the key")
    .jwks_url(
        "jwks-url",
        "An issuer's JWK Set URL (https; http with --allow-http); keys it cannot use are skipped and reported",
    );

    /// The key that signs the inner JWT of a nested JWT: `--sign-key | --sign-jwk`.
    NestSigner = KeyOptions::new(
        "signing_key",
        ("sign-key", "The signing HSM key"),
        ("sign-jwk", "The signing software key, a JWK file (`-`: standard input)"),
    )
    .kid(
        "sign-kid",
        "The kid of the signing key [default: an HSM key's thumbprint; a JWK's own kid]",
    );

    /// The recipient of a nested JWT: `--encrypt-key | --encrypt-jwk`.
    NestRecipient = KeyOptions::new(
        "recipient_key",
        ("encrypt-key", "The recipient's HSM key"),
        ("encrypt-jwk", "The recipient's key, a JWK file (its public part is enough)"),
    )
    .kid(
        "encrypt-kid",
        "The kid of the recipient's key [default: an HSM key's thumbprint; a JWK's own kid]",
    );

    /// The keys that decrypt a nested JWT: `--decrypt-key | --decrypt-jwk | --decrypt-jwks`.
    NestDecrypter = KeyOptions::new(
        "decrypting_keys",
        ("decrypt-key", "The decrypting HSM key"),
        ("decrypt-jwk", "The decrypting software key, a JWK file"),
    )
    .jwks("decrypt-jwks", "The decrypting keys, a JWK Set file chosen by kid");

    /// The keys that verify the inner JWT of a nested JWT: `--verify-key | --verify-jwk |
    /// --verify-jwks`.
    NestVerifier = KeyOptions::new(
        "verifying_keys",
        ("verify-key", "The verifying HSM key"),
        ("verify-jwk", "The verifying key, a JWK file (its public part is enough)"),
    )
    .jwks("verify-jwks", "The verifying keys, a JWK Set file chosen by kid");
}

/// One key, chosen by the options of role `R`, and the `kid` it is given; flattened into a
/// command's arguments.
pub(crate) struct KeyChoice<R> {
    source: KeySource,
    kid: Option<String>,
    role: PhantomData<R>,
}

impl<R> KeyChoice<R> {
    /// Where the key comes from.
    pub(crate) fn source(&self) -> &KeySource {
        &self.source
    }

    /// The `kid` given for the key (`--kid`, `--sign-kid`, ...), if any.
    pub(crate) fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }
}

impl<R> fmt::Debug for KeyChoice<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyChoice")
            .field("source", &self.source)
            .field("kid", &self.kid)
            .finish()
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
            self.jwks_url
                .map(|url| option(url, "URL", KeySource::JwksUrl)),
        ]
        .into_iter()
        .flatten()
    }
}

/// The value of the option `id`, if given.
fn value(matches: &ArgMatches, id: &str) -> Result<Option<String>, clap::Error> {
    matches
        .try_get_one::<String>(id)
        .map(Option::<&String>::cloned)
        .map_err(|e| clap::Error::raw(ErrorKind::InvalidValue, format!("--{id}: {e}\n")))
}

impl<R: KeyRole> FromArgMatches for KeyChoice<R> {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let kid = match R::OPTIONS.kid {
            Some((id, _)) => value(matches, id)?,
            None => None,
        };
        for option in R::OPTIONS.each() {
            if let Some(value) = value(matches, option.id)? {
                return Ok(Self {
                    source: (option.source)(value),
                    kid,
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

/// An option that takes one value.
fn option(id: &'static str, value_name: &'static str, help: &'static str) -> Arg {
    Arg::new(id)
        .long(id)
        .value_name(value_name)
        .help(help)
        .action(ArgAction::Set)
        .value_parser(clap::value_parser!(String))
}

impl<R: KeyRole> Args for KeyChoice<R> {
    fn augment_args(cmd: Command) -> Command {
        let group = R::OPTIONS.group;
        let cmd = cmd.group(ArgGroup::new(group).required(true).multiple(false));
        let cmd = R::OPTIONS.each().fold(cmd, |cmd, o| {
            cmd.arg(option(o.id, o.value_name, o.help).group(group))
        });
        match R::OPTIONS.kid {
            Some((id, help)) => cmd.arg(option(id, "KID", help)),
            None => cmd,
        }
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}
