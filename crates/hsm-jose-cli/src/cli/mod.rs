//! The command line, as clap types: the help text is derived from these definitions, so it
//! cannot drift from what the code accepts. Every command carries an example (`after_help`).

use std::path::PathBuf;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand, ValueEnum};
use jose_core::{ContentEncryption, JwsAlgorithm, KeyManagementAlgorithm};
use zeroize::Zeroizing;

mod key_choice;

pub(crate) use key_choice::{
    Consumer, JwtVerifier, KeyChoice, KeySource, NestDecrypter, NestRecipient, NestSigner,
    NestVerifier, Producer, Publisher,
};

const EXIT_STATUS: &str = "\
Exit status:
  0  success
  1  a signature, MAC, tag or claim check failed, or the input is not a valid JOSE object
  2  usage error (unknown option, missing argument, contradictory options)
  3  token, PIN, key or configuration error

Keys:
  --key REF    an HSM key: a label, id:HEX, label:NAME, or a pkcs11: URI (RFC 7512) whose
               token, module-path, pin-source and pin-value override the token options
  --jwk FILE   a software key: a JWK file, public or private
  --jwks FILE  a JWK Set file; the token's kid chooses the key
  A FILE of `-` is standard input, for commands whose input does not come from it.
  An HSM key's kid is its RFC 7638 thumbprint unless --kid says otherwise.

Example:
  export HSM_TOKEN=my-token HSM_PIN=1234   # or --token, --pin-source file:/run/secrets/pin
  hsm-jose keys generate --type ec-p256 --label signing-2026 > signing.jwk
  printf hello | hsm-jose sign --key signing-2026 --alg ES256 | hsm-jose verify --jwk signing.jwk";

/// JOSE (JWS, JWE, JWT, JWK) from the shell, with private keys in a PKCS#11 HSM or in JWK files.
///
/// Payloads and plaintexts are read from standard input and written to standard output as raw
/// bytes; tokens are printed with one trailing newline, which input parsing ignores.
#[derive(Debug, Parser)]
#[command(
    name = "hsm-jose",
    version,
    propagate_version = true,
    subcommand_required = true,
    arg_required_else_help = true,
    after_help = EXIT_STATUS
)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) token: TokenArgs,
    #[command(flatten)]
    pub(crate) log: crate::log::LogArgs,
    #[command(subcommand)]
    pub(crate) command: Command,
}

impl Cli {
    /// Parses the command line as `Cli::try_parse` does, with `version` as the `--version`
    /// text (it names the crypto provider, known only at run time).
    pub(crate) fn try_parse_with_version(version: &'static str) -> Result<Self, clap::Error> {
        use clap::{CommandFactory as _, FromArgMatches as _};
        let mut matches = Self::command().version(version).try_get_matches()?;
        Self::from_arg_matches_mut(&mut matches).map_err(|e| e.format(&mut Self::command()))
    }
}

/// Which token, and how to log in. Global: accepted before or after the command.
#[derive(Debug, Args)]
#[command(next_help_heading = "Token")]
pub(crate) struct TokenArgs {
    /// The PKCS#11 module [default: SoftHSM at its usual paths]
    #[arg(long, value_name = "PATH", env = "HSM_MODULE", global = true)]
    pub(crate) module: Option<PathBuf>,
    /// The token label
    #[arg(long, value_name = "LABEL", env = "HSM_TOKEN", global = true)]
    pub(crate) token: Option<String>,
    /// The user PIN; other local users may see it in the process list, so prefer --pin-source
    /// or HSM_PIN [env: HSM_PIN]
    #[arg(
        long,
        value_name = "PIN",
        global = true,
        conflicts_with = "pin_source",
        value_parser = secret
    )]
    pub(crate) pin: Option<Zeroizing<String>>,
    /// Read the user PIN from a file (file:/path or /path; one trailing newline is ignored)
    #[arg(long, value_name = "file:PATH", global = true)]
    pub(crate) pin_source: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// List, generate and delete keys in the token
    #[command(subcommand, after_help = examples::KEYS)]
    Keys(KeysCommand),
    /// Print the public JWK of a key
    #[command(after_help = examples::JWK)]
    Jwk(JwkArgs),
    /// Print a public JWK Set
    #[command(after_help = examples::JWKS)]
    Jwks(JwksArgs),
    /// Sign standard input: a JWS on standard output
    #[command(after_help = examples::SIGN)]
    Sign(SignArgs),
    /// Verify a JWS on standard input (compact or JSON): the payload on standard output
    #[command(after_help = examples::VERIFY)]
    Verify(VerifyArgs),
    /// Encrypt standard input: a JWE on standard output
    #[command(after_help = examples::ENCRYPT)]
    Encrypt(EncryptArgs),
    /// Decrypt a JWE on standard input (compact or JSON): the plaintext on standard output
    #[command(after_help = examples::DECRYPT)]
    Decrypt(DecryptArgs),
    /// Signed, encrypted and nested JWTs
    #[command(subcommand, after_help = examples::JWT)]
    Jwt(JwtCommand),
    /// X.509 certificates for token keys: self-signed, CSRs, importing a CA's, the stored chain
    #[command(subcommand, after_help = examples::CERT)]
    Cert(CertCommand),
}

#[derive(Debug, Subcommand)]
pub(crate) enum CertCommand {
    /// Make a self-signed certificate for a key, signed in the token; store it next to the
    /// key (same label and id) and print it as PEM
    #[command(after_help = examples::CERT_SELF_SIGN)]
    SelfSign(CertMakeArgs),
    /// Make a certificate signing request (PKCS#10) for a key, signed in the token; print it
    /// as PEM
    #[command(after_help = examples::CERT_CSR)]
    Csr(CertMakeArgs),
    /// Print a key's certificate chain from the token as PEM (leaf first), or with --jwk its
    /// public JWK with x5c and x5t#S256
    #[command(after_help = examples::CERT_SHOW)]
    Show(CertShowArgs),
    /// Store certificates from a PEM file next to a key: the key's own certificate (e.g. what
    /// a CA returned for `cert csr`), then optionally its CA chain, each followed by its issuer
    #[command(after_help = examples::CERT_IMPORT)]
    Import(CertImportArgs),
}

#[derive(Debug, Args)]
pub(crate) struct CertImportArgs {
    /// The key: a label, id:HEX, label:NAME, or a pkcs11: URI
    #[arg(long, value_name = "REF")]
    pub(crate) key: String,
    /// Replace the certificates stored with the key (e.g. a self-signed one) instead of
    /// refusing when it has one
    #[arg(long)]
    pub(crate) replace: bool,
    /// The PEM file: one or more CERTIFICATE blocks, the key's own first (`-`: standard input)
    #[arg(value_name = "FILE")]
    pub(crate) file: String,
}

#[derive(Debug, Args)]
pub(crate) struct CertMakeArgs {
    /// The key: a label, id:HEX, label:NAME, or a pkcs11: URI
    #[arg(long, value_name = "REF")]
    pub(crate) key: String,
    /// The subject: CN=name,O=org,OU=unit,C=country,ST=state,L=city
    #[arg(long, value_name = "DN")]
    pub(crate) subject: String,
    /// Days of validity (self-sign)
    #[arg(long, value_name = "DAYS", default_value_t = 365)]
    pub(crate) days: u32,
    /// Print the certificate without storing it in the token (self-sign)
    #[arg(long)]
    pub(crate) no_store: bool,
}

#[derive(Debug, Args)]
pub(crate) struct CertShowArgs {
    /// The key: a label, id:HEX, label:NAME, or a pkcs11: URI
    #[arg(long, value_name = "REF")]
    pub(crate) key: String,
    /// Print the key's public JWK with x5c and x5t#S256 instead of PEM
    #[arg(long)]
    pub(crate) jwk: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// List the keys of the token: kind, label, id, capabilities, protection, JOSE algorithms
    #[command(after_help = examples::KEYS_LIST)]
    List(ListArgs),
    /// Generate a key inside the token (sensitive, never extractable); print its public JWK
    #[command(after_help = examples::KEYS_GENERATE)]
    Generate(GenerateArgs),
    /// Import a private key (PEM, PKCS#8, JWK, or PKCS#8 wrapped under a token AES key) into
    /// the token as a sensitive, non-extractable key pair; print its public JWK
    #[command(after_help = examples::KEYS_IMPORT)]
    Import(ImportArgs),
    /// Delete a key from the token (every object of it: private, public or secret, and its
    /// certificates: those with its CKA_ID); asks first unless --yes
    #[command(after_help = examples::KEYS_DELETE)]
    Delete(DeleteArgs),
}

#[derive(Debug, Subcommand)]
pub(crate) enum JwtCommand {
    /// Sign claims as a JWT (adds `iat`; needs --exp-in, or --no-exp for one that never expires)
    #[command(after_help = examples::JWT_SIGN)]
    Sign(JwtSignArgs),
    /// Verify a signed JWT on standard input and check its claims; print the claims as JSON
    #[command(after_help = examples::JWT_VERIFY)]
    Verify(JwtVerifyArgs),
    /// Encrypt claims as a JWT (adds `iat`; needs --exp-in, or --no-exp)
    #[command(after_help = examples::JWT_ENCRYPT)]
    Encrypt(JwtEncryptArgs),
    /// Decrypt an encrypted JWT on standard input and check its claims; print the claims as JSON
    #[command(after_help = examples::JWT_DECRYPT)]
    Decrypt(JwtDecryptArgs),
    /// Sign claims, then encrypt the signed JWT (a nested JWT, `cty: JWT`)
    #[command(after_help = examples::JWT_NEST)]
    Nest(JwtNestArgs),
    /// Decrypt a nested JWT on standard input, verify the inner JWT, check the claims
    #[command(after_help = examples::JWT_UNNEST)]
    Unnest(JwtUnnestArgs),
}

/// The examples under each command's help.
mod examples {
    pub(super) const CERT: &str = "\
Example:
  hsm-jose cert self-sign --key signing-2026 --subject 'CN=issuer.example,O=Example' > cert.pem
  hsm-jose cert csr --key signing-2026 --subject CN=issuer.example > request.pem
  hsm-jose cert import --key signing-2026 chain.pem
  hsm-jose cert show --key signing-2026 --jwk";

    pub(super) const CERT_SELF_SIGN: &str = "\
The certificate is signed by the key itself, inside the token (RSA: SHA-256 with PKCS#1 v1.5;
EC P-256, P-384: ECDSA; Ed25519), and stored next to the key unless --no-store.

Example:
  hsm-jose cert self-sign --key signing-2026 --subject 'CN=issuer.example,O=Example' --days 730 > cert.pem
  openssl verify -CAfile cert.pem cert.pem";

    pub(super) const CERT_CSR: &str = "\
Example:
  hsm-jose cert csr --key signing-2026 --subject 'CN=issuer.example,O=Example,C=DE' > request.pem
  openssl req -in request.pem -verify -noout";

    pub(super) const CERT_IMPORT: &str = "\
The first certificate must carry the key's public key; the others are its CA chain, in order.
All are stored with the key's CKA_ID and published leaf first by `jwks --x5c` and `cert show`;
`keys delete` deletes them with the key.

Example:
  hsm-jose cert csr --key signing-2026 --subject CN=issuer.example > request.pem
  # ... the CA returns signing-2026.pem (the certificate, then the CA's) ...
  hsm-jose cert import --key signing-2026 --replace signing-2026.pem
  hsm-jose jwks --all --x5c";

    pub(super) const CERT_SHOW: &str = "\
Example:
  hsm-jose cert show --key signing-2026 > chain.pem
  hsm-jose cert show --key signing-2026 --jwk    # the public JWK with x5c and x5t#S256";

    pub(super) const KEYS: &str = "\
Example:
  hsm-jose keys list
  hsm-jose keys generate --type rsa-3072 --label rsa-2026
  hsm-jose keys delete --key rsa-2026 --yes";

    pub(super) const KEYS_LIST: &str = "\
Example:
  hsm-jose keys list
  hsm-jose keys list --json | jq -r '.[] | select(.kind == \"EC P-256\") | .label'";

    pub(super) const KEYS_GENERATE: &str = "\
Default usage: RSA sign,encrypt; EC sign,derive; Ed25519 and Ed448 sign; AES encrypt,wrap;
HMAC sign.

Example:
  hsm-jose keys generate --type rsa-3072 --label rsa-2026 > rsa-2026.jwk
  hsm-jose keys generate --type ec-p384 --label ecdh-2026 --usage derive --id 0a01
  hsm-jose keys generate --type aes-256 --label aes-2026";

    pub(super) const KEYS_IMPORT: &str = "\
The key's public part is checked against its private part before it is stored, and the token
proves the pair (a signature made with the private object verifies with the public object).
Default usage: sign. A clear key file is read into memory that is wiped after use; with
--wrapped-by the key is only ever decrypted inside the token (C_UnwrapKey).

Example:
  hsm-jose keys import --file signing.pem --label signing-2026 > signing-2026.jwk
  hsm-jose keys import --file key.jwk --format jwk --label migrated --id 0a02
  hsm-jose keys import --file key.p8.wrapped --format pkcs8 --wrapped-by kek-2026 \\
      --type rsa --label from-partner";

    pub(super) const KEYS_DELETE: &str = "\
Example:
  hsm-jose keys delete --key rsa-2026          # asks on the terminal
  hsm-jose keys delete --key 'pkcs11:object=rsa-2026;id=%0a%01' --yes";

    pub(super) const JWK: &str = "\
Example:
  hsm-jose jwk --key signing-2026 --use sig > signing.jwk
  hsm-jose jwk --jwk private.jwk     # the public part of a software key";

    pub(super) const JWKS: &str = "\
Example:
  hsm-jose jwks --key signing-2026 --key signing-2027 > jwks.json
  hsm-jose jwks --all > jwks.json    # every key pair of the token
  hsm-jose jwks --all --x5c          # with each key's certificate chain (x5c, x5t#S256)";

    pub(super) const SIGN: &str = "\
Example:
  printf hello | hsm-jose sign --key signing-2026 --alg ES256
  hsm-jose sign --key rsa-2026 --alg PS256 --key signing-2026 --alg ES256 --json < doc.json";

    pub(super) const VERIFY: &str = "\
Example:
  hsm-jose verify --jwks jwks.json < token.jws > payload
  hsm-jose verify --key signing-2026 --alg ES256 < token.jws";

    pub(super) const ENCRYPT: &str = "\
Example:
  hsm-jose encrypt --jwk recipient.jwk --alg RSA-OAEP --enc A256GCM < secret.bin > secret.jwe
  hsm-jose encrypt --key aes-2026 --alg A256KW --enc A256GCM < secret.bin";

    pub(super) const DECRYPT: &str = "\
Example:
  hsm-jose decrypt --key rsa-2026 < secret.jwe > secret.bin
  hsm-jose decrypt --jwks private-jwks.json --alg ECDH-ES+A256KW < secret.jwe";

    pub(super) const JWT: &str = "\
Example:
  hsm-jose jwt sign --key signing-2026 --alg ES256 --sub alice --exp-in 600 > token.jwt
  hsm-jose jwt verify --jwks jwks.json < token.jwt";

    pub(super) const JWT_SIGN: &str = "\
Example:
  hsm-jose jwt sign --key signing-2026 --alg ES256 --iss https://issuer.example \\
      --sub alice --aud api --exp-in 600 --claims '{\"scope\":\"read\"}' > token.jwt";

    pub(super) const JWT_VERIFY: &str = "\
Example:
  hsm-jose jwt verify --jwks jwks.json --iss https://issuer.example --aud api < token.jwt
  hsm-jose jwt verify --jwks-url https://issuer.example/.well-known/jwks.json --aud api < token.jwt";

    pub(super) const JWT_ENCRYPT: &str = "\
Example:
  hsm-jose jwt encrypt --jwk recipient.jwk --alg RSA-OAEP --enc A256GCM --sub alice --exp-in 600";

    pub(super) const JWT_DECRYPT: &str = "\
Example:
  hsm-jose jwt decrypt --key rsa-2026 < token.jwt";

    pub(super) const JWT_NEST: &str = "\
Example:
  hsm-jose jwt nest --sign-key signing-2026 --sign-alg ES256 \\
      --encrypt-jwk recipient.jwk --key-alg RSA-OAEP --enc A256GCM --sub alice --exp-in 600";

    pub(super) const JWT_UNNEST: &str = "\
Example:
  hsm-jose jwt unnest --decrypt-key rsa-2026 --verify-jwks jwks.json < nested.jwt";
}

// ----- key selection -----

// ----- keys -----

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// One JSON array instead of a table
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct GenerateArgs {
    /// The kind of key
    #[arg(long = "type", value_name = "TYPE")]
    pub(crate) key_type: KeyType,
    /// The key's label (CKA_LABEL); must be new in the token
    #[arg(long, value_name = "LABEL")]
    pub(crate) label: String,
    /// The key's id (CKA_ID) in hex; must be new in the token [default: 8 random bytes]
    #[arg(long, value_name = "HEX")]
    pub(crate) id: Option<String>,
    /// What the key may do, comma-separated [default: by type, see below]
    #[arg(long, value_name = "USAGE", value_delimiter = ',')]
    pub(crate) usage: Vec<Usage>,
}

/// A key type `keys generate` makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum KeyType {
    #[value(name = "rsa-2048")]
    Rsa2048,
    #[value(name = "rsa-3072")]
    Rsa3072,
    #[value(name = "rsa-4096")]
    Rsa4096,
    #[value(name = "ec-p256")]
    EcP256,
    #[value(name = "ec-p384")]
    EcP384,
    #[value(name = "ec-p521")]
    EcP521,
    #[value(name = "ed25519")]
    Ed25519,
    #[value(name = "ed448")]
    Ed448,
    #[value(name = "aes-128")]
    Aes128,
    #[value(name = "aes-192")]
    Aes192,
    #[value(name = "aes-256")]
    Aes256,
    #[value(name = "hmac-256")]
    Hmac256,
    #[value(name = "hmac-384")]
    Hmac384,
    #[value(name = "hmac-512")]
    Hmac512,
}

/// A usage of a generated key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Usage {
    /// Sign and verify (JWS)
    Sign,
    /// Encrypt and decrypt (RSA-OAEP; AES-GCM key encryption)
    Encrypt,
    /// Wrap and unwrap keys (AES key wrap)
    Wrap,
    /// Key agreement (ECDH-ES)
    Derive,
}

#[derive(Debug, Args)]
pub(crate) struct ImportArgs {
    /// The key file: PEM (PKCS#8, PKCS#1 or SEC1), PKCS#8 DER, or a private JWK
    #[arg(long, value_name = "FILE")]
    pub(crate) file: PathBuf,
    /// The file's format [default: pem or jwk by content, else pkcs8]
    #[arg(long, value_name = "FORMAT")]
    pub(crate) format: Option<ImportFormat>,
    /// The key's label (CKA_LABEL); must be new in the token
    #[arg(long, value_name = "LABEL")]
    pub(crate) label: String,
    /// The key's id (CKA_ID) in hex; must be new in the token [default: 8 random bytes]
    #[arg(long, value_name = "HEX")]
    pub(crate) id: Option<String>,
    /// What the key may do, comma-separated [default: sign]
    #[arg(long, value_name = "USAGE", value_delimiter = ',')]
    pub(crate) usage: Vec<Usage>,
    /// The file is a PKCS#8 key wrapped under this token AES key (its label), to unwrap inside
    /// the token
    #[arg(long, value_name = "AES KEY LABEL", requires = "wrapped_type")]
    pub(crate) wrapped_by: Option<String>,
    /// The wrapped key's type (with --wrapped-by)
    #[arg(
        long = "type",
        value_name = "TYPE",
        id = "wrapped_type",
        requires = "wrapped_by"
    )]
    pub(crate) wrapped_type: Option<WrappedType>,
    /// How the key was wrapped (with --wrapped-by)
    #[arg(long, value_name = "MECHANISM", default_value = "aes-key-wrap-pad")]
    pub(crate) mechanism: WrapMechanism,
    /// The wrapped key's public JWK (with --wrapped-by; needed for EC and Ed25519 keys)
    #[arg(long, value_name = "FILE", requires = "wrapped_by")]
    pub(crate) public_key: Option<PathBuf>,
}

/// The format of a key file to import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ImportFormat {
    /// PEM: PKCS#8 (`PRIVATE KEY`), PKCS#1 (`RSA PRIVATE KEY`) or SEC1 (`EC PRIVATE KEY`)
    Pem,
    /// PKCS#8 PrivateKeyInfo, DER
    Pkcs8,
    /// A private JWK
    Jwk,
}

/// The type of a wrapped key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum WrappedType {
    #[value(name = "rsa")]
    Rsa,
    #[value(name = "ec-p256")]
    EcP256,
    #[value(name = "ec-p384")]
    EcP384,
    #[value(name = "ec-p521")]
    EcP521,
    #[value(name = "ed25519")]
    Ed25519,
}

/// The AES key wrap a wrapped key was made with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum WrapMechanism {
    /// CKM_AES_KEY_WRAP_PAD (RFC 5649)
    AesKeyWrapPad,
    /// CKM_AES_KEY_WRAP (RFC 3394)
    AesKeyWrap,
}

#[derive(Debug, Args)]
pub(crate) struct DeleteArgs {
    /// The key: a label, id:HEX, label:NAME, or a pkcs11: URI
    #[arg(long, value_name = "REF")]
    pub(crate) key: String,
    /// Delete without asking. Without it, the command asks on a terminal and refuses (exit 2)
    /// when standard input is not one
    #[arg(long, short = 'y')]
    pub(crate) yes: bool,
}

// ----- jwk, jwks -----

#[derive(Debug, Args)]
pub(crate) struct JwkArgs {
    #[command(flatten)]
    pub(crate) key: KeyChoice<Publisher>,
    /// Restrict the published key to signatures or to encryption
    #[arg(long = "use", value_name = "USE")]
    pub(crate) key_use: Option<KeyUse>,
}

/// The JWK `use` member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum KeyUse {
    /// Signatures
    Sig,
    /// Encryption
    Enc,
}

impl KeyUse {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            KeyUse::Sig => "sig",
            KeyUse::Enc => "enc",
        }
    }
}

#[derive(Debug, Args)]
#[group(id = "jwks_keys", required = true, multiple = true)]
pub(crate) struct JwksArgs {
    /// An HSM key to publish (repeatable)
    #[arg(long, value_name = "REF", conflicts_with = "all")]
    pub(crate) key: Vec<String>,
    /// A software key to publish (repeatable); only its public part is printed
    #[arg(long, value_name = "FILE", conflicts_with = "all")]
    pub(crate) jwk: Vec<String>,
    /// Every key pair of the token, with use and key_ops from its capabilities
    #[arg(long)]
    pub(crate) all: bool,
    /// Add each HSM key's certificate chain from the token as x5c and x5t#S256 (keys without
    /// a certificate are unchanged; a certificate that carries another key is an error)
    #[arg(long)]
    pub(crate) x5c: bool,
}

// ----- JWS -----

#[derive(Debug, Args)]
#[group(id = "signers", required = true, multiple = false)]
pub(crate) struct SignersArgs {
    /// An HSM key (repeatable: one signature per key, with the --alg of the same position)
    #[arg(long, value_name = "REF")]
    pub(crate) key: Vec<String>,
    /// A software key, a JWK file (repeatable like --key)
    #[arg(long, value_name = "FILE")]
    pub(crate) jwk: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct SignArgs {
    #[command(flatten)]
    pub(crate) keys: SignersArgs,
    /// The signature algorithm, once per key
    #[arg(long, value_name = "ALG", required = true, value_parser = jws_alg())]
    pub(crate) alg: Vec<JwsAlgorithm>,
    /// The kid to put in the header, once per key [default: an HSM key's RFC 7638
    /// thumbprint; a JWK's own kid]
    #[arg(long, value_name = "KID")]
    pub(crate) kid: Vec<String>,
    /// More protected header members, a JSON object or @FILE (`{"typ":"example"}`)
    #[arg(long, value_name = "JSON")]
    pub(crate) header: Option<String>,
    /// The general JSON serialization (needed for several signatures)
    #[arg(long)]
    pub(crate) json: bool,
    /// Leave the payload out of the JWS (RFC 7515 appendix F)
    #[arg(long)]
    pub(crate) detached: bool,
    /// Sign the payload unencoded (RFC 7797: "b64":false, "crit":["b64"])
    #[arg(long = "b64-false")]
    pub(crate) b64_false: bool,
}

/// The JWS algorithms a consumer accepts.
#[derive(Debug, Args)]
pub(crate) struct JwsAllowArgs {
    /// An allowed algorithm (repeatable, or comma-separated) [default: those the key serves]
    #[arg(long, value_name = "ALG", value_delimiter = ',', value_parser = jws_alg())]
    pub(crate) alg: Vec<JwsAlgorithm>,
}

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    #[command(flatten)]
    pub(crate) keys: KeyChoice<Consumer>,
    #[command(flatten)]
    pub(crate) algs: JwsAllowArgs,
    /// The payload of a detached JWS, from this file
    #[arg(long, value_name = "FILE")]
    pub(crate) payload: Option<PathBuf>,
    /// Accept unencoded payloads (RFC 7797, "b64":false)
    #[arg(long = "b64-false")]
    pub(crate) b64_false: bool,
}

// ----- JWE -----

/// The JWE algorithms of a producer.
#[derive(Debug, Args)]
pub(crate) struct JweAlgArgs {
    /// The key management algorithm
    #[arg(long, value_name = "ALG", value_parser = jwe_alg())]
    pub(crate) alg: KeyManagementAlgorithm,
    /// The content encryption algorithm
    #[arg(long, value_name = "ENC", value_parser = jwe_enc())]
    pub(crate) enc: ContentEncryption,
}

#[derive(Debug, Args)]
pub(crate) struct EncryptArgs {
    #[command(flatten)]
    pub(crate) key: KeyChoice<Producer>,
    #[command(flatten)]
    pub(crate) algs: JweAlgArgs,
    /// More protected header members, a JSON object or @FILE (`{"cty":"text/plain"}`)
    #[arg(long, value_name = "JSON")]
    pub(crate) header: Option<String>,
    /// The general JSON serialization
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct DecryptArgs {
    #[command(flatten)]
    pub(crate) keys: KeyChoice<Consumer>,
    #[command(flatten)]
    pub(crate) algs: JweAllowArgs,
}

/// The JWE algorithms a consumer accepts.
#[derive(Debug, Args)]
pub(crate) struct JweAllowArgs {
    /// An allowed key management algorithm (repeatable, or comma-separated) [default: those
    /// the key serves]
    #[arg(long, value_name = "ALG", value_delimiter = ',', value_parser = jwe_alg())]
    pub(crate) alg: Vec<KeyManagementAlgorithm>,
    /// An allowed content encryption algorithm (repeatable, or comma-separated) [default: all]
    #[arg(long, value_name = "ENC", value_delimiter = ',', value_parser = jwe_enc())]
    pub(crate) enc: Vec<ContentEncryption>,
}

// ----- JWT -----

/// The claims of a JWT being produced.
#[derive(Debug, Args)]
#[command(next_help_heading = "Claims")]
pub(crate) struct ClaimsArgs {
    /// Claims as a JSON object, or @FILE; the options below override its members
    #[arg(long, value_name = "JSON")]
    pub(crate) claims: Option<String>,
    /// The issuer (`iss`)
    #[arg(long, value_name = "S")]
    pub(crate) iss: Option<String>,
    /// The subject (`sub`)
    #[arg(long, value_name = "S")]
    pub(crate) sub: Option<String>,
    /// An audience (`aud`; repeatable)
    #[arg(long, value_name = "S")]
    pub(crate) aud: Vec<String>,
    /// Expires this many seconds from now (`exp`); a negative number, written
    /// `--exp-in=-100`, makes a token that has already expired (for tests)
    #[arg(long, value_name = "SECS", conflicts_with = "no_exp")]
    pub(crate) exp_in: Option<i64>,
    /// Issue a token without `exp`, one that never expires. A JWT needs --exp-in, an `exp` in
    /// --claims, or this
    #[arg(long)]
    pub(crate) no_exp: bool,
}

/// The claim checks of a JWT being consumed.
#[derive(Debug, Args)]
#[command(next_help_heading = "Claim checks")]
pub(crate) struct ChecksArgs {
    /// Require this issuer (`iss`; repeatable: any of them)
    #[arg(long, value_name = "S")]
    pub(crate) iss: Vec<String>,
    /// Require this audience (`aud`; repeatable: any of them). A token with an `aud` is
    /// rejected unless one is given
    #[arg(long, value_name = "S")]
    pub(crate) aud: Vec<String>,
    /// Require this subject (`sub`)
    #[arg(long, value_name = "S")]
    pub(crate) sub: Option<String>,
    /// Clock skew tolerated for exp, nbf and iat, in seconds [default: 60]
    #[arg(long, value_name = "SECS")]
    pub(crate) leeway: Option<u64>,
    /// Accept a token without `exp` (by default `exp` is required)
    #[arg(long)]
    pub(crate) exp_optional: bool,
}

#[derive(Debug, Args)]
pub(crate) struct JwtSignArgs {
    #[command(flatten)]
    pub(crate) key: KeyChoice<Producer>,
    /// The signature algorithm
    #[arg(long, value_name = "ALG", value_parser = jws_alg())]
    pub(crate) alg: JwsAlgorithm,
    #[command(flatten)]
    pub(crate) claims: ClaimsArgs,
}

#[derive(Debug, Args)]
pub(crate) struct JwtVerifyArgs {
    #[command(flatten)]
    pub(crate) keys: KeyChoice<JwtVerifier>,
    /// With --jwks-url: allow a plain http URL (for an issuer on loopback, or tests)
    #[arg(long)]
    pub(crate) allow_http: bool,
    #[command(flatten)]
    pub(crate) algs: JwsAllowArgs,
    #[command(flatten)]
    pub(crate) checks: ChecksArgs,
}

#[derive(Debug, Args)]
pub(crate) struct JwtEncryptArgs {
    #[command(flatten)]
    pub(crate) key: KeyChoice<Producer>,
    #[command(flatten)]
    pub(crate) algs: JweAlgArgs,
    #[command(flatten)]
    pub(crate) claims: ClaimsArgs,
}

#[derive(Debug, Args)]
pub(crate) struct JwtDecryptArgs {
    #[command(flatten)]
    pub(crate) keys: KeyChoice<Consumer>,
    #[command(flatten)]
    pub(crate) algs: JweAllowArgs,
    #[command(flatten)]
    pub(crate) checks: ChecksArgs,
}

#[derive(Debug, Args)]
pub(crate) struct JwtNestArgs {
    #[command(flatten)]
    pub(crate) signer: KeyChoice<NestSigner>,
    /// The signature algorithm of the inner JWT
    #[arg(long, value_name = "ALG", value_parser = jws_alg())]
    pub(crate) sign_alg: JwsAlgorithm,
    #[command(flatten)]
    pub(crate) recipient: KeyChoice<NestRecipient>,
    /// The key management algorithm of the outer JWE
    #[arg(long, value_name = "ALG", value_parser = jwe_alg())]
    pub(crate) key_alg: KeyManagementAlgorithm,
    /// The content encryption algorithm of the outer JWE
    #[arg(long, value_name = "ENC", value_parser = jwe_enc())]
    pub(crate) enc: ContentEncryption,
    #[command(flatten)]
    pub(crate) claims: ClaimsArgs,
}

#[derive(Debug, Args)]
pub(crate) struct JwtUnnestArgs {
    #[command(flatten)]
    pub(crate) decrypter: KeyChoice<NestDecrypter>,
    /// An allowed key management algorithm of the outer JWE (repeatable, or comma-separated)
    /// [default: those the key serves]
    #[arg(long, value_name = "ALG", value_delimiter = ',', value_parser = jwe_alg())]
    pub(crate) key_alg: Vec<KeyManagementAlgorithm>,
    /// An allowed content encryption algorithm (repeatable, or comma-separated) [default: all]
    #[arg(long, value_name = "ENC", value_delimiter = ',', value_parser = jwe_enc())]
    pub(crate) enc: Vec<ContentEncryption>,
    #[command(flatten)]
    pub(crate) verifier: KeyChoice<NestVerifier>,
    /// An allowed signature algorithm of the inner JWT (repeatable, or comma-separated)
    /// [default: those the key serves]
    #[arg(long, value_name = "ALG", value_delimiter = ',', value_parser = jws_alg())]
    pub(crate) sign_alg: Vec<JwsAlgorithm>,
    #[command(flatten)]
    pub(crate) checks: ChecksArgs,
}

/// Our copy of a PIN given on the command line is wiped when dropped.
fn secret(value: &str) -> Result<Zeroizing<String>, std::convert::Infallible> {
    Ok(Zeroizing::new(value.to_owned()))
}

// ----- algorithm names: jose-core's own lists, so help and parsing follow the library -----

fn jws_alg() -> impl TypedValueParser<Value = JwsAlgorithm> {
    PossibleValuesParser::new(JwsAlgorithm::ALL.iter().map(|a| a.as_str()))
        .try_map(|name| name.parse::<JwsAlgorithm>())
}

fn jwe_alg() -> impl TypedValueParser<Value = KeyManagementAlgorithm> {
    PossibleValuesParser::new(KeyManagementAlgorithm::ALL.iter().map(|a| a.as_str()))
        .try_map(|name| name.parse::<KeyManagementAlgorithm>())
}

fn jwe_enc() -> impl TypedValueParser<Value = ContentEncryption> {
    PossibleValuesParser::new(ContentEncryption::ALL.iter().map(|a| a.as_str()))
        .try_map(|name| name.parse::<ContentEncryption>())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    /// Every command, at every depth, shows an example under its help.
    #[test]
    fn every_command_has_an_example() {
        fn walk(cmd: &clap::Command, path: &str, seen: &mut Vec<String>) {
            let path = format!("{path} {}", cmd.get_name());
            let after = cmd.get_after_help().map(ToString::to_string);
            assert!(
                after.as_deref().is_some_and(|a| a.contains("Example:")),
                "`{path}` has no example"
            );
            seen.push(path.clone());
            for sub in cmd.get_subcommands() {
                walk(sub, &path, seen);
            }
        }
        let mut seen = Vec::new();
        walk(&Cli::command(), "", &mut seen);
        // hsm-jose, keys (4), jwk, jwks, sign, verify, encrypt, decrypt, jwt (6), cert (4)
        assert_eq!(seen.len(), 1 + 1 + 4 + 6 + 1 + 6 + 1 + 4, "{seen:?}");
    }

    #[test]
    fn algorithm_names_come_from_jose_core_and_none_is_refused() {
        let err =
            Cli::try_parse_from(["hsm-jose", "sign", "--key", "k", "--alg", "none"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::InvalidValue);
        let ok = Cli::try_parse_from(["hsm-jose", "verify", "--jwk", "f", "--alg", "ES256,EdDSA"])
            .unwrap();
        let Command::Verify(v) = ok.command else {
            panic!("not verify")
        };
        assert_eq!(v.algs.alg, [JwsAlgorithm::ES256, JwsAlgorithm::EdDSA]);
    }

    /// Each role's options give the key's source and `kid`.
    #[test]
    fn key_choices_give_the_source_and_kid_of_each_role() {
        let nest = Cli::try_parse_from([
            "hsm-jose",
            "jwt",
            "nest",
            "--sign-key",
            "signer",
            "--sign-kid",
            "s1",
            "--sign-alg",
            "ES256",
            "--encrypt-jwk",
            "r.jwk",
            "--encrypt-kid",
            "r1",
            "--key-alg",
            "ECDH-ES",
            "--enc",
            "A128GCM",
            "--no-exp",
        ])
        .unwrap();
        let Command::Jwt(JwtCommand::Nest(n)) = nest.command else {
            panic!("not jwt nest")
        };
        assert_eq!(n.signer.source(), &KeySource::Hsm("signer".into()));
        assert_eq!(n.signer.kid(), Some("s1"));
        assert_eq!(n.recipient.source(), &KeySource::Jwk("r.jwk".into()));
        assert_eq!(n.recipient.kid(), Some("r1"));

        let unnest = Cli::try_parse_from([
            "hsm-jose",
            "jwt",
            "unnest",
            "--decrypt-jwks",
            "d.json",
            "--verify-key",
            "v",
        ])
        .unwrap();
        let Command::Jwt(JwtCommand::Unnest(u)) = unnest.command else {
            panic!("not jwt unnest")
        };
        assert_eq!(u.decrypter.source(), &KeySource::Jwks("d.json".into()));
        assert_eq!(u.verifier.source(), &KeySource::Hsm("v".into()));
        assert_eq!(u.verifier.kid(), None);

        // A producer takes no JWK Set, a consumer no --kid.
        for args in [
            &[
                "hsm-jose", "encrypt", "--jwks", "s.json", "--alg", "A128KW", "--enc", "A128GCM",
            ][..],
            &["hsm-jose", "verify", "--key", "k", "--kid", "x"][..],
        ] {
            let err = Cli::try_parse_from(args).unwrap_err();
            assert_eq!(
                err.kind(),
                clap::error::ErrorKind::UnknownArgument,
                "{args:?}"
            );
        }
    }

    #[test]
    fn jwks_url_is_for_jwt_verify_only() {
        let verify = Cli::try_parse_from([
            "hsm-jose",
            "jwt",
            "verify",
            "--jwks-url",
            "http://127.0.0.1:8080/jwks.json",
            "--allow-http",
        ])
        .unwrap();
        let Command::Jwt(JwtCommand::Verify(v)) = verify.command else {
            panic!("not jwt verify")
        };
        assert_eq!(
            v.keys.source(),
            &KeySource::JwksUrl("http://127.0.0.1:8080/jwks.json".into())
        );
        assert!(v.allow_http);

        // One key source only; other commands fetch nothing.
        for (args, kind) in [
            (
                &[
                    "hsm-jose",
                    "jwt",
                    "verify",
                    "--jwks",
                    "s.json",
                    "--jwks-url",
                    "https://a/",
                ][..],
                clap::error::ErrorKind::ArgumentConflict,
            ),
            (
                &["hsm-jose", "verify", "--jwks-url", "https://a/"][..],
                clap::error::ErrorKind::UnknownArgument,
            ),
            (
                &["hsm-jose", "jwt", "decrypt", "--jwks-url", "https://a/"][..],
                clap::error::ErrorKind::UnknownArgument,
            ),
        ] {
            let err = Cli::try_parse_from(args).unwrap_err();
            assert_eq!(err.kind(), kind, "{args:?}");
        }
    }
}
