//! Test scaffolding: every test runs in a child process of its own.
//!
//! The shim and SoftHSM read their environment (`P11_FAULT_CONFIG`, `P11_FAULT_STATS`,
//! `SOFTHSM2_CONF`) once per process, and a loaded module is shared by the whole process. So
//! each `#[test]` re-runs this test executable, filtered to itself, with its own token
//! directory, rules file and stats file in the environment; the child does the work. Tests
//! therefore run in parallel without a mutex, and no test needs `unsafe` `std::env::set_var`.
//! The parent kills a child that runs longer than [`CHILD_TIMEOUT`], so a hang fails the test
//! instead of stalling the suite.

#![allow(dead_code)] // each test binary uses a different part of this

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use p11_fault::harness::{self, ENV_CONFIG, ENV_STATS, ENV_TARGET, Stats};

pub(crate) const SO_PIN: &str = "5678";
pub(crate) const USER_PIN: &str = "1234";
pub(crate) const LABEL: &str = "fault";
/// A child that takes longer than this is killed and its test fails.
pub(crate) const CHILD_TIMEOUT: Duration = Duration::from_secs(120);

/// Set in a child: the name of the test it runs.
const ENV_CHILD: &str = "P11_FAULT_TEST_CHILD";
/// Set in a child: its scratch directory.
const ENV_DIR: &str = "P11_FAULT_TEST_DIR";

/// One test's files, as seen from the child.
pub(crate) struct Sandbox {
    /// The shim to load.
    pub(crate) shim: PathBuf,
    /// The rules file (absent at the start: everything passes through).
    pub(crate) rules: PathBuf,
    /// The stats file.
    pub(crate) stats: PathBuf,
}

/// Runs `body` in a child process with a fresh SoftHSM token directory and its own rules and
/// stats files; `name` must be the calling `#[test]` function's name. `env` adds variables.
pub(crate) fn isolated(name: &str, env: &[(&str, &str)], body: impl FnOnce(&Sandbox)) {
    if std::env::var(ENV_CHILD).as_deref() == Ok(name) {
        let dir = PathBuf::from(std::env::var_os(ENV_DIR).expect("child without a directory"));
        body(&Sandbox {
            shim: harness::shim_path().expect("the shim vanished"),
            rules: dir.join("rules"),
            stats: dir.join("stats"),
        });
        return;
    }

    assert!(
        harness::softhsm_path().is_some(),
        "SoftHSM is not installed (none of {:?}): apt-get install softhsm2",
        harness::SOFTHSM_PATHS
    );
    assert!(
        harness::shim_path().is_some(),
        "libp11_fault.so not found next to the test executable; `cargo test -p p11-fault` builds it"
    );
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("p11-fault")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("tokens")).unwrap();
    let conf = dir.join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            dir.join("tokens").display()
        ),
    )
    .unwrap();

    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(ENV_CHILD, name)
        .env(ENV_DIR, &dir)
        .env("SOFTHSM2_CONF", &conf)
        .env(ENV_CONFIG, dir.join("rules"))
        .env(ENV_STATS, dir.join("stats"))
        .env_remove(ENV_TARGET);
    for (key, value) in env {
        command.env(key, value);
    }
    let run = harness::run_child(command, CHILD_TIMEOUT).unwrap();
    if let Err(message) = run.check(name) {
        panic!("{message}");
    }
    println!("{}", run.output);
}

impl Sandbox {
    /// Loads the shim and initialises it (and so SoftHSM).
    pub(crate) fn pkcs11(&self) -> Pkcs11 {
        let pkcs11 = Pkcs11::new(&self.shim).unwrap();
        pkcs11
            .initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
            .unwrap();
        pkcs11
    }

    /// Initialises the token and its user PIN (through the shim) and returns its slot.
    pub(crate) fn init_token(&self, pkcs11: &Pkcs11) -> Slot {
        let slot = pkcs11.get_slots_with_token().unwrap()[0];
        let so_pin = AuthPin::new(SO_PIN.into());
        pkcs11.init_token(slot, &so_pin, LABEL).unwrap();
        let session = pkcs11.open_rw_session(slot).unwrap();
        session.login(UserType::So, Some(&so_pin)).unwrap();
        session.init_pin(&AuthPin::new(USER_PIN.into())).unwrap();
        session.logout().unwrap();
        session.close().unwrap();
        self.token_slot(pkcs11)
    }

    /// The slot of the initialised token.
    pub(crate) fn token_slot(&self, pkcs11: &Pkcs11) -> Slot {
        pkcs11
            .get_slots_with_token()
            .unwrap()
            .into_iter()
            .find(|slot| pkcs11.get_token_info(*slot).unwrap().label() == LABEL)
            .expect("no initialised token")
    }

    /// A read-write session logged in as the user.
    pub(crate) fn user_session(&self, pkcs11: &Pkcs11, slot: Slot) -> Session {
        let session = pkcs11.open_rw_session(slot).unwrap();
        session
            .login(UserType::User, Some(&AuthPin::new(USER_PIN.into())))
            .unwrap();
        session
    }

    /// Replaces the rules (and waits until the shim is sure to see them).
    pub(crate) fn set_rules(&self, rules: &str) {
        harness::write_rules(&self.rules, rules).unwrap();
    }

    /// Removes the rules file: everything passes through again.
    pub(crate) fn clear_rules(&self) {
        harness::clear_rules(&self.rules).unwrap();
    }

    /// The shim's counters now.
    pub(crate) fn stats(&self) -> Stats {
        Stats::read(&self.stats).unwrap()
    }
}

/// A P-256 key pair, as session objects: (public, private).
pub(crate) fn ec_key(session: &Session) -> (ObjectHandle, ObjectHandle) {
    // DER OID 1.2.840.10045.3.1.7 (prime256v1).
    let p256 = vec![0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    session
        .generate_key_pair(
            &Mechanism::EccKeyPairGen,
            &[
                Attribute::Token(false),
                Attribute::Verify(true),
                Attribute::EcParams(p256),
            ],
            &[
                Attribute::Token(false),
                Attribute::Private(true),
                Attribute::Sign(true),
            ],
        )
        .unwrap()
}
