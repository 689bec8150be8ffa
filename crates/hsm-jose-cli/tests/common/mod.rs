//! Running the built `hsm-jose` binary against the suite's SoftHSM token.
//!
//! Cargo builds the binary for this crate's integration tests and names it in
//! `CARGO_BIN_EXE_hsm-jose`; `cargo xtask test-hsm` provisions one token per file of
//! `crates/hsm-jose-cli/tests/` (named after the file) and sets `HSM_MODULE`, `HSM_PIN` and
//! `SOFTHSM2_CONF`, which the binary inherits. Each command gets `HSM_TOKEN` = the suite's token
//! and runs in a scratch directory under `CARGO_TARGET_TMPDIR`.

#![allow(
    dead_code,
    unused_imports,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

pub(crate) use hsm_jose_tests::fixture::{self, TokenFixture};

/// The runs of one suite go one at a time. Every `hsm-jose` process logs in, and SoftHSM 2.6
/// rewrites the token's `token.object` file at each login; another process initialising the
/// module at that moment does not see the token (`no token "..." in this module`). That is a
/// limit of SoftHSM's file store with several processes, not of `hsm-jose`: suites on different
/// tokens, and cargo's test binaries, never overlap anyway.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The binary under test.
pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_hsm-jose");

/// A finished run of the binary.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) status: i32,
    pub(crate) stdout: Vec<u8>,
    pub(crate) stderr: String,
}

impl Run {
    /// Standard output as text.
    pub(crate) fn text(&self) -> String {
        String::from_utf8(self.stdout.clone()).expect("stdout is UTF-8")
    }

    /// Standard output, parsed as one JSON value.
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&self.stdout)
            )
        })
    }
}

/// The binary, pointed at one token, running in one scratch directory.
#[derive(Debug, Clone)]
pub(crate) struct Cli {
    pub(crate) token: TokenFixture,
    pub(crate) dir: PathBuf,
}

impl Cli {
    /// For `token`, with a fresh scratch directory named after
    /// the test.
    pub(crate) fn new(token: TokenFixture, test: &str) -> Self {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(&token.label)
            .join(test);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).unwrap();
        }
        std::fs::create_dir_all(&dir).unwrap();
        Self { token, dir }
    }

    /// A path in the scratch directory.
    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Writes a file into the scratch directory; returns its path as text.
    pub(crate) fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> String {
        let path = self.path(name);
        std::fs::write(&path, contents).unwrap();
        path.to_string_lossy().into_owned()
    }

    /// Points `cmd` at the token (`HSM_TOKEN`, `HSM_MODULE`, `HSM_PIN`; `SOFTHSM2_CONF` is
    /// inherited) and the scratch directory.
    pub(crate) fn configure(&self, cmd: &mut Command) {
        cmd.current_dir(&self.dir)
            .env("HSM_TOKEN", &self.token.label)
            .env("HSM_MODULE", &self.token.module)
            .env("HSM_PIN", self.token.pin.expose_secret());
    }

    /// The binary, before arguments, configured.
    pub(crate) fn command(&self) -> Command {
        let mut cmd = Command::new(BIN);
        self.configure(&mut cmd);
        cmd
    }

    /// Runs `cmd` with `stdin` as standard input, one run at a time (see [`ONE_AT_A_TIME`]).
    pub(crate) fn run_command(mut cmd: Command, stdin: &[u8]) -> Run {
        let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {BIN}: {e}"));
        let mut input = child.stdin.take().unwrap();
        let bytes = stdin.to_vec();
        // A writer thread: the child may fill its output pipes before it reads all its input.
        let writer = std::thread::spawn(move || {
            // The child may exit before reading everything (a usage error): not a test failure.
            let _ = input.write_all(&bytes);
        });
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap();
        Run {
            status: out.status.code().unwrap_or(-1),
            stdout: out.stdout,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs `hsm-jose ARGS` with `stdin`.
    pub(crate) fn run(&self, args: &[&str], stdin: impl AsRef<[u8]>) -> Run {
        let mut cmd = self.command();
        cmd.args(args);
        Self::run_command(cmd, stdin.as_ref())
    }

    /// Runs and expects success (exit 0); returns standard output.
    pub(crate) fn ok(&self, args: &[&str], stdin: impl AsRef<[u8]>) -> Run {
        let run = self.run(args, stdin);
        assert_eq!(run.status, 0, "hsm-jose {args:?} failed:\n{}", run.stderr);
        run
    }

    /// Runs and expects exit `status` with nothing on standard output and, on standard
    /// error, a message that contains `message` (the part that names the error) and never the
    /// PIN; returns standard error.
    pub(crate) fn fails(
        &self,
        status: i32,
        args: &[&str],
        stdin: impl AsRef<[u8]>,
        message: &str,
    ) -> String {
        let run = self.run(args, stdin);
        assert_failed(
            &run,
            status,
            message,
            &format!("{args:?}"),
            self.token.pin.expose_secret(),
        );
        run.stderr
    }
}

/// Checks a failed run: the exit status, nothing on standard output, a message on standard
/// error that contains `message`, and never the PIN (nor any other secret given) anywhere.
pub(crate) fn assert_failed(run: &Run, status: i32, message: &str, what: &str, secret: &str) {
    assert_eq!(
        run.status, status,
        "hsm-jose {what}: expected exit {status}, got {}; stderr:\n{}",
        run.status, run.stderr
    );
    assert!(
        run.stdout.is_empty(),
        "hsm-jose {what}: printed on stdout: {:?}",
        String::from_utf8_lossy(&run.stdout)
    );
    assert!(
        !message.is_empty(),
        "hsm-jose {what}: name the expected message"
    );
    assert!(
        run.stderr.contains(message),
        "hsm-jose {what}: expected {message:?} in the message:\n{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains(secret),
        "hsm-jose {what}: the PIN appears in the message"
    );
}

/// Creates a key pair in the suite's token the way other tools may, with the attributes they
/// choose (hsm-core's own generation makes only hardened keys): both objects are token objects
/// labelled `label` with `CKA_ID` `id`, the public one public, the private one private and
/// sensitive; `public` and `private` add the rest (curve, usage flags, `CKA_EXTRACTABLE`). The
/// caller holds [`fixture::exclusive`]; the key is deleted when the guard is dropped, even when
/// the test fails.
pub(crate) fn plant_key_pair<'c>(
    cli: &'c Cli,
    label: &'c str,
    id: &[u8],
    mechanism: hsm_core::cryptoki::mechanism::Mechanism<'_>,
    public: &[hsm_core::cryptoki::object::Attribute],
    private: &[hsm_core::cryptoki::object::Attribute],
) -> PlantedKey<'c> {
    use hsm_core::cryptoki::object::Attribute;
    let common = |private_object: bool| {
        vec![
            Attribute::Token(true),
            Attribute::Private(private_object),
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Id(id.to_vec()),
        ]
    };
    let public = [common(false), public.to_vec()].concat();
    let private = [
        common(true),
        vec![Attribute::Sensitive(true)],
        private.to_vec(),
    ]
    .concat();
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let pool = cli.token.pool();
    let session = pool.session_rw().unwrap();
    session
        .generate_key_pair(&mechanism, &public, &private)
        .unwrap_or_else(|e| panic!("cannot plant the key pair {label}: {e}"));
    PlantedKey { cli, label }
}

/// A key [`plant_key_pair`] made; deleted when dropped.
pub(crate) struct PlantedKey<'c> {
    cli: &'c Cli,
    label: &'c str,
}

impl Drop for PlantedKey<'_> {
    fn drop(&mut self) {
        let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
        let pool = self.cli.token.pool();
        let deleted = pool.session_rw().and_then(|session| {
            hsm_core::delete_key_by(&session, &hsm_core::KeySelector::label(self.label))
        });
        // Not a panic while a failed test unwinds: say it, so the next run knows why.
        if let Err(e) = deleted {
            eprintln!("cannot delete the planted key {}: {e}", self.label);
        }
    }
}

/// A [`Cli`] on the suite's token (the token named after the test file: `env!` here expands
/// in each suite's own crate), in a scratch directory named `test`.
pub(crate) fn cli(test: &str) -> Cli {
    Cli::new(hsm_jose_tests::suite_token!(), test)
}
