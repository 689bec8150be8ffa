//! Shared fixtures for the integration suites (see `cargo xtask test-hsm`).
//!
//! `cargo xtask test-hsm` provisions a fresh SoftHSM with one token per suite: the suite
//! `tests/tests/<stem>.rs` owns the token labelled `<stem>`, so suites never share state and
//! run in any order. The command line's suites, `crates/hsm-jose-cli/tests/<stem>.rs`, get
//! tokens the same way and use these fixtures as a dev-dependency. Every token holds the [fixture keys](fixture_keys). The tests get:
//!
//! | variable        | value                                                  |
//! |-----------------|--------------------------------------------------------|
//! | `SOFTHSM2_CONF` | `target/hsm/softhsm2.conf` (token dir `target/hsm/tokens`) |
//! | `HSM_MODULE`    | the SoftHSM module path                                |
//! | `HSM_PIN`       | the user PIN of every token                            |
//! | `HSM_SO_PIN`    | the security-officer PIN of every token                |
//!
//! A suite reaches its token with [`suite_token!`]:
//!
//! ```no_run
//! let token = hsm_jose_tests::suite_token!(); // the token named after this file
//! let pool = token.pool();
//! # let _ = pool;
//! ```
//!
//! Without that environment the fixtures panic with a message saying to run
//! `cargo xtask test-hsm`: a suite never skips itself.

pub mod fixture_keys;

pub use fixture_keys::{FIXTURE_KEYS, FixtureKey, FixtureSpec};

/// The token of the calling integration suite (the file stem of the test crate), as a
/// [`fixture::TokenFixture`].
#[macro_export]
macro_rules! suite_token {
    () => {
        $crate::fixture::token(env!("CARGO_CRATE_NAME"))
    };
}

// Fixtures fail the test that uses them, loudly and at once: that is their contract, so they
// panic with a message rather than return errors to every test.
#[allow(clippy::panic)]
pub mod fixture {
    //! Tokens, pools, locks and helpers for the suites.

    use std::path::{Path, PathBuf};
    use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

    use hsm_core::cryptoki::slot::Slot;
    use hsm_core::key::{EcCurve, EdCurve, KeyKind, KeySpec, SecretSpec};
    use hsm_core::{Pin, Pkcs11Uri, PoolBuilder, SessionPool};

    use crate::fixture_keys::{FIXTURE_KEYS, FixtureKey, FixtureSpec};

    /// A suite's token, as `cargo xtask test-hsm` provisioned it.
    #[derive(Debug, Clone)]
    pub struct TokenFixture {
        /// The SoftHSM module (`HSM_MODULE`).
        pub module: PathBuf,
        /// The token label (the suite's file stem).
        pub label: String,
        /// The slot id (`HSM_SLOT`), for a token whose information cannot be read (so its
        /// label cannot be matched): openCryptoki's soft token. When set, the pool selects
        /// the token by slot id instead of by label.
        pub slot_id: Option<u64>,
        /// The user PIN (`HSM_PIN`).
        pub pin: Pin,
        /// The security-officer PIN (`HSM_SO_PIN`).
        pub so_pin: Pin,
    }

    fn env(name: &str) -> String {
        std::env::var(name).unwrap_or_else(|_| {
            panic!(
                "{name} is not set: the integration suites run against SoftHSM tokens that \
                 `cargo xtask test-hsm` provisions; run `cargo xtask test-hsm`"
            )
        })
    }

    /// The token of the suite `suite` (prefer [`suite_token!`](crate::suite_token)).
    pub fn token(suite: &str) -> TokenFixture {
        TokenFixture {
            module: PathBuf::from(env("HSM_MODULE")),
            label: suite.to_owned(),
            slot_id: std::env::var("HSM_SLOT").ok().map(|slot| {
                slot.parse()
                    .unwrap_or_else(|e| panic!("HSM_SLOT={slot} is not a slot id: {e}"))
            }),
            pin: Pin::new(env("HSM_PIN")),
            so_pin: Pin::new(env("HSM_SO_PIN")),
        }
    }

    impl TokenFixture {
        /// Pool options for this token: module, label (or slot id) and user PIN.
        pub fn builder(&self) -> PoolBuilder {
            let builder = SessionPool::builder()
                .module(&self.module)
                .pin(self.pin.clone());
            match self.slot_id {
                Some(slot_id) => builder.slot_id(slot_id),
                None => builder.token_label(&self.label),
            }
        }

        /// A pool on this token with default limits.
        pub fn pool(&self) -> SessionPool {
            self.builder()
                .build()
                .unwrap_or_else(|e| panic!("cannot open a pool on token {}: {e}", self.label))
        }

        /// `pkcs11:token=<label>?module-path=<module>`.
        pub fn uri(&self) -> Pkcs11Uri {
            Pkcs11Uri::default()
                .with_token(&self.label)
                .with_module_path(self.module.to_string_lossy())
        }
    }

    static TOKEN_STATE: RwLock<()> = RwLock::new(());

    /// For tests that need the suite's token to themselves within the test process: they log
    /// out, close every session, or count sessions. Other tests of the suite take [`shared`].
    pub fn exclusive() -> RwLockWriteGuard<'static, ()> {
        TOKEN_STATE
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// For tests that may run alongside each other but not alongside an [`exclusive`] one.
    pub fn shared() -> RwLockReadGuard<'static, ()> {
        TOKEN_STATE
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The fixture key with this label.
    pub fn fixture_key(label: &str) -> &'static FixtureKey {
        FIXTURE_KEYS
            .iter()
            .find(|k| k.label == label)
            .unwrap_or_else(|| panic!("no fixture key {label:?}"))
    }

    /// The kind `hsm_core::find_key` must report for a fixture key.
    pub fn expected_kind(key: &FixtureKey) -> KeyKind {
        match key.spec {
            FixtureSpec::Pair(KeySpec::Rsa(bits)) => KeyKind::Rsa { bits },
            FixtureSpec::Pair(KeySpec::Ec(curve)) => KeyKind::Ec(curve),
            FixtureSpec::Pair(KeySpec::Ed25519) | FixtureSpec::Ed25519Printable => {
                KeyKind::Edwards(EdCurve::Ed25519)
            }
            FixtureSpec::Pair(KeySpec::Ed448) => KeyKind::Edwards(EdCurve::Ed448),
            FixtureSpec::Secret(SecretSpec::Aes(bytes)) => KeyKind::Aes { bytes },
            FixtureSpec::Secret(SecretSpec::Hmac(bytes)) => KeyKind::GenericSecret { bytes },
        }
    }

    /// The EC fixture curves, for loops.
    pub const EC_CURVES: [EcCurve; 3] = [EcCurve::P256, EcCurve::P384, EcCurve::P521];

    /// Asks the token whether the session `handle` is open (`C_GetSessionInfo`), independently
    /// of any pool's own bookkeeping. SoftHSM 2.6 does not report `ulSessionCount`, so this is
    /// how the suites check, token-side, that sessions were closed.
    ///
    /// `module` must be the canonical path the pools loaded (`pool.module().path()`).
    // See close_all_sessions for why this is raw and unsafe.
    #[allow(unsafe_code)]
    pub fn session_is_open(module: &Path, handle: u64) -> bool {
        let mut info = cryptoki_sys::CK_SESSION_INFO::default();
        // SAFETY: as in close_all_sessions; `info` is a valid CK_SESSION_INFO to write into.
        let rv = unsafe {
            let library = cryptoki_sys::Pkcs11::new(module)
                .unwrap_or_else(|e| panic!("cannot load {}: {e}", module.display()));
            library.C_GetSessionInfo(handle, &mut info)
        };
        match rv {
            cryptoki_sys::CKR_OK => true,
            cryptoki_sys::CKR_SESSION_HANDLE_INVALID | cryptoki_sys::CKR_SESSION_CLOSED => false,
            other => panic!("C_GetSessionInfo({handle}) returned {other:#x}"),
        }
    }

    /// Calls `C_CloseAllSessions(slot)` on the module at `module` behind every pool's back, as
    /// another library in the process (or a token reset) would; returns the `CK_RV`.
    ///
    /// `module` must be the canonical path the pools loaded (`pool.module().path()`): loading
    /// it again returns the same library instance, whose state the pools share.
    // cryptoki 0.12 wraps no C_CloseAllSessions, so the raw binding is called. The workspace
    // denies unsafe code; this test-only fixture is the one exception.
    #[allow(unsafe_code)]
    pub fn close_all_sessions(module: &Path, slot: Slot) -> u64 {
        // SAFETY: the library is already loaded and initialised by hsm-core in this process;
        // loading it again only takes a reference (dlopen reference counting) and resolves its
        // exported symbols. C_CloseAllSessions takes a plain slot id and no pointers.
        unsafe {
            let library = cryptoki_sys::Pkcs11::new(module)
                .unwrap_or_else(|e| panic!("cannot load {}: {e}", module.display()));
            library.C_CloseAllSessions(cryptoki_sys::CK_SLOT_ID::from(slot))
        }
    }
}
