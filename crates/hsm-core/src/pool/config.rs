//! [`PoolBuilder`]: which module and token, the PIN and the limits, from code, the environment
//! or a `pkcs11:` URI; and building the pool from them.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cryptoki::slot::Limit;

use super::checkout::{Access, State};
use super::sizing::pool_size;
use super::stats::PoolCounters;
use super::{PoolInner, SessionPool};
use crate::error::{Error, Result};
use crate::module::{Module, TokenSummary};
use crate::pin::Pin;
use crate::trace::POOL_TARGET;
use crate::uri::Pkcs11Uri;

/// Environment variable naming the module for [`SessionPool::from_env`] (default: SoftHSM at
/// its usual paths).
pub const ENV_MODULE: &str = "HSM_MODULE";
/// Environment variable naming the token label for [`SessionPool::from_env`] (required).
pub const ENV_TOKEN: &str = "HSM_TOKEN";
/// Environment variable holding the user PIN for [`SessionPool::from_env`] (required).
pub const ENV_PIN: &str = "HSM_PIN";

/// How long [`SessionPool::session`] waits for a free session by default.
pub const DEFAULT_WAIT_TIMEOUT: Duration = Duration::from_secs(30);

/// The default session limit before the token's own: twice the available parallelism, at
/// least 4. A pool on a token that states a smaller limit opens fewer (see
/// [`pool_size`](super::pool_size)).
pub fn default_max_sessions() -> usize {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    (2 * cores).max(4)
}

/// Which token a [`PoolBuilder`] opens: every criterion given must match.
#[derive(Debug, Clone, Default)]
struct TokenFilter {
    label: Option<String>,
    serial: Option<String>,
    manufacturer: Option<String>,
    model: Option<String>,
    slot_id: Option<u64>,
}

impl TokenFilter {
    fn is_empty(&self) -> bool {
        self.label.is_none()
            && self.serial.is_none()
            && self.manufacturer.is_none()
            && self.model.is_none()
            && self.slot_id.is_none()
    }

    fn matches(&self, token: &TokenSummary) -> bool {
        self.label.as_ref().is_none_or(|l| *l == token.label)
            && self.serial.as_ref().is_none_or(|s| *s == token.serial)
            && self
                .manufacturer
                .as_ref()
                .is_none_or(|m| *m == token.manufacturer)
            && self.model.as_ref().is_none_or(|m| *m == token.model)
            && self.slot_id.is_none_or(|id| id == token.slot.id())
    }

    /// The slot id when it is the only criterion: such a selection also reaches a slot whose
    /// token information does not parse.
    fn slot_only(&self) -> Option<u64> {
        match self {
            TokenFilter {
                label: None,
                serial: None,
                manufacturer: None,
                model: None,
                slot_id,
            } => *slot_id,
            _ => None,
        }
    }

    /// The criteria in words; just the label when that is all there is.
    fn describe(&self) -> String {
        match self {
            TokenFilter {
                label: Some(label),
                serial: None,
                manufacturer: None,
                model: None,
                slot_id: None,
            } => label.clone(),
            _ => {
                let mut parts = Vec::new();
                let mut push = |name: &str, value: &Option<String>| {
                    if let Some(v) = value {
                        parts.push(format!("{name}={v}"));
                    }
                };
                push("token", &self.label);
                push("serial", &self.serial);
                push("manufacturer", &self.manufacturer);
                push("model", &self.model);
                push("slot-id", &self.slot_id.map(|id| id.to_string()));
                parts.join(";")
            }
        }
    }
}

/// Options for a [`SessionPool`]: which module and token, the PIN, and the limits.
///
/// ```no_run
/// use hsm_core::{Pin, SessionPool};
///
/// # fn main() -> hsm_core::Result<()> {
/// let pool = SessionPool::builder()
///     .token_label("signing") // module: SoftHSM at its usual paths
///     .pin(Pin::from_source("file:/run/secrets/hsm-pin")?)
///     .build()?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct PoolBuilder {
    module_path: Option<PathBuf>,
    token: TokenFilter,
    pin: Option<Pin>,
    max_sessions: Option<usize>,
    wait_timeout: Duration,
    first_access: Access,
}

impl Default for PoolBuilder {
    fn default() -> Self {
        PoolBuilder {
            module_path: None,
            token: TokenFilter::default(),
            pin: None,
            max_sessions: None,
            wait_timeout: DEFAULT_WAIT_TIMEOUT,
            first_access: Access::ReadOnly,
        }
    }
}

impl PoolBuilder {
    /// The PKCS#11 module file. Default: [`Module::default_path`].
    pub fn module(mut self, path: impl AsRef<Path>) -> Self {
        self.module_path = Some(path.as_ref().to_path_buf());
        self
    }

    /// Select the token by label (`CKA_LABEL` of the token, trailing blanks removed).
    pub fn token_label(mut self, label: impl Into<String>) -> Self {
        self.token.label = Some(label.into());
        self
    }

    /// Select the token by serial number.
    pub fn token_serial(mut self, serial: impl Into<String>) -> Self {
        self.token.serial = Some(serial.into());
        self
    }

    /// Select the token by slot id.
    pub fn slot_id(mut self, slot_id: u64) -> Self {
        self.token.slot_id = Some(slot_id);
        self
    }

    /// The user PIN. Without one the pool does not log in (public objects only).
    pub fn pin(mut self, pin: Pin) -> Self {
        self.pin = Some(pin);
        self
    }

    /// At most this many sessions open at once (default [`default_max_sessions`]). Clamped,
    /// with a `WARN` event, to the token's `ulMaxSessionCount` less
    /// [`TOKEN_HEADROOM`](super::TOKEN_HEADROOM) when the token states a limit; read-write
    /// sessions are also capped at `ulMaxRwSessionCount` (see [`pool_size`](super::pool_size)).
    /// [`SessionPool::max_sessions`] tells the size chosen.
    pub fn max_sessions(mut self, max: usize) -> Self {
        self.max_sessions = Some(max);
        self
    }

    /// How long a checkout waits when every session is busy (default 30 s).
    pub fn wait_timeout(mut self, timeout: Duration) -> Self {
        self.wait_timeout = timeout;
        self
    }

    /// The access of the first session, which logs in and stays idle (read-write for
    /// [`hsm_session`](crate::hsm_session)).
    pub(super) fn first_access(mut self, access: Access) -> Self {
        self.first_access = access;
        self
    }

    /// Options from the environment: [`ENV_MODULE`] (optional), [`ENV_TOKEN`] and [`ENV_PIN`].
    pub fn from_env() -> Result<Self> {
        Self::from_env_with(|name| std::env::var(name).ok())
    }

    /// Like [`from_env`](PoolBuilder::from_env), reading variables through `lookup` (for tests,
    /// or another configuration source).
    pub fn from_env_with(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let missing = |name: &str, what: &str| Error::Config {
            reason: format!("{name} is not set ({what})"),
        };
        let mut builder = PoolBuilder::default();
        if let Some(module) = lookup(ENV_MODULE).filter(|m| !m.is_empty()) {
            builder = builder.module(module);
        }
        let token = lookup(ENV_TOKEN).ok_or_else(|| missing(ENV_TOKEN, "the token label"))?;
        let pin = lookup(ENV_PIN).ok_or_else(|| missing(ENV_PIN, "the user PIN"))?;
        Ok(builder.token_label(token).pin(Pin::new(pin)))
    }

    /// Options from a `pkcs11:` URI: `module-path` (or `module-name`, looked up in the usual
    /// library directories; default SoftHSM), the token attributes (`token`, `serial`,
    /// `manufacturer`, `model`, `slot-id`) and the PIN (`pin-value` or `pin-source`).
    pub fn from_uri(uri: &Pkcs11Uri) -> Result<Self> {
        let mut builder = PoolBuilder::default();
        if let Some(path) = uri.module_path() {
            builder = builder.module(path);
        } else if let Some(name) = uri.module_name() {
            builder = builder.module(crate::module::find_module(name)?);
        }
        builder.token = TokenFilter {
            label: uri.token().map(str::to_owned),
            serial: uri.serial().map(str::to_owned),
            manufacturer: uri.manufacturer().map(str::to_owned),
            model: uri.model().map(str::to_owned),
            slot_id: uri.slot_id(),
        };
        builder.pin = uri.pin()?;
        Ok(builder)
    }

    /// Loads the module, finds the token, reads its limits and mechanisms, opens the first
    /// session and logs in.
    ///
    /// # Errors
    /// [`Error::ModuleLoad`], [`Error::TokenNotFound`] (listing the labels present), the PIN
    /// errors, [`Error::Config`] for contradictory options.
    pub fn build(self) -> Result<SessionPool> {
        let path = match self.module_path {
            Some(path) => path,
            None => Module::default_path().ok_or_else(|| Error::Config {
                reason: format!(
                    "no module path given, and SoftHSM is not at its usual paths; set {ENV_MODULE}"
                ),
            })?,
        };
        if self.token.is_empty() {
            return Err(Error::Config {
                reason: "no token selected: give a label, serial or slot id".to_owned(),
            });
        }
        if self.max_sessions == Some(0) {
            return Err(Error::Config {
                reason: "max_sessions must be at least 1".to_owned(),
            });
        }
        let module = Module::load(&path)?;
        let slot = module.find_token_matching(
            &self.token.describe(),
            |t| self.token.matches(t),
            self.token.slot_only(),
        )?;
        // `None`: the token answered, but its information does not parse (openCryptoki's
        // blank clock); it was selected by slot id, and its limits are unknown.
        let info = module.readable_token_info(slot)?;
        let (limits, token_label) = match &info {
            Some(info) => (
                (info.max_session_count(), info.max_rw_session_count()),
                info.label().to_owned(),
            ),
            None => (
                (Limit::Unavailable, Limit::Unavailable),
                format!("slot {}", slot.id()),
            ),
        };
        let size = sized(self.max_sessions, limits, slot.id());
        let (max_sessions, max_rw_sessions) = (size.sessions, size.rw_sessions);
        let mechanism_infos = module.mechanism_infos(slot)?;
        let library_info = crate::trace::traced(
            None,
            None,
            cryptoki::context::Function::GetInfo,
            None,
            || module.pkcs11().get_library_info(),
        )
        .ok();
        let pool = SessionPool {
            inner: Arc::new(PoolInner {
                module,
                slot,
                token_label,
                pin: self.pin,
                pin_refused: AtomicBool::new(false),
                login: Mutex::new(()),
                max_sessions,
                max_rw_sessions,
                wait_timeout: self.wait_timeout,
                mechanisms: mechanism_infos.iter().map(|(m, _)| *m).collect(),
                mechanism_infos,
                library_info,
                state: Mutex::new(State::default()),
                epoch: AtomicU64::new(0),
                pid: AtomicU32::new(std::process::id()),
                counters: Arc::new(PoolCounters::default()),
            }),
        };
        // The first session logs in, and stays idle in the pool: it keeps the login alive.
        drop(pool.inner.checkout(self.first_access, true)?);
        Ok(pool)
    }
}

/// [`pool_size`] with the default, reported: a `WARN` when an explicit size was clamped, a
/// `DEBUG` with the size chosen.
fn sized(requested: Option<usize>, limits: (Limit, Limit), slot: u64) -> super::PoolSize {
    let size = pool_size(requested, default_max_sessions(), limits.0, limits.1);
    if let Some(requested) = size.clamped_from {
        tracing::warn!(target: POOL_TARGET, slot, requested,
            max_sessions = size.sessions, token_max_sessions = %limit_text(limits.0),
            "max_sessions is above the token's session limit: clamped");
    }
    tracing::debug!(target: POOL_TARGET, slot, max_sessions = size.sessions,
        max_rw_sessions = size.rw_sessions, token_max_sessions = %limit_text(limits.0),
        token_max_rw_sessions = %limit_text(limits.1), "pool size");
    size
}

/// A token limit in words, for the pool's events.
fn limit_text(limit: Limit) -> String {
    match limit {
        Limit::Max(n) => n.to_string(),
        Limit::Infinite => "no limit".to_owned(),
        Limit::Unavailable => "not stated".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_configuration() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                vars.iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let builder = PoolBuilder::from_env_with(env(&[
            ("HSM_MODULE", "/m.so"),
            ("HSM_TOKEN", "t"),
            ("HSM_PIN", "p"),
        ]))
        .unwrap();
        assert_eq!(builder.module_path.as_deref(), Some(Path::new("/m.so")));
        assert_eq!(builder.token.label.as_deref(), Some("t"));
        assert_eq!(builder.pin.as_ref().map(Pin::expose_secret), Some("p"));
        assert!(!format!("{builder:?}").contains("\"p\""));
        let no_token = PoolBuilder::from_env_with(env(&[("HSM_PIN", "p")])).unwrap_err();
        assert!(
            matches!(&no_token, Error::Config { reason } if reason.contains("HSM_TOKEN")),
            "{no_token}"
        );
        let no_pin = PoolBuilder::from_env_with(env(&[("HSM_TOKEN", "t")])).unwrap_err();
        assert!(
            matches!(&no_pin, Error::Config { reason } if reason.contains("HSM_PIN")),
            "{no_pin}"
        );
    }

    #[test]
    fn uri_configuration() {
        let uri: Pkcs11Uri = "pkcs11:token=t;serial=s;slot-id=3?module-path=/m.so&pin-value=1234"
            .parse()
            .unwrap();
        let builder = PoolBuilder::from_uri(&uri).unwrap();
        assert_eq!(builder.module_path.as_deref(), Some(Path::new("/m.so")));
        assert_eq!(builder.token.describe(), "token=t;serial=s;slot-id=3");
        assert_eq!(builder.pin.as_ref().map(Pin::expose_secret), Some("1234"));
        let by_name: Pkcs11Uri = "pkcs11:token=t?module-name=../etc/passwd".parse().unwrap();
        assert!(matches!(
            PoolBuilder::from_uri(&by_name),
            Err(Error::Config { reason }) if reason.contains("invalid module-name")
        ));
    }

    /// The WARN of a clamped size names both numbers; a size within the limit has none.
    #[test]
    fn a_clamped_size_is_a_warning() {
        use std::sync::{Arc, Mutex};
        use tracing::field::{Field, Visit};
        use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

        #[derive(Clone, Default)]
        struct Warnings(Arc<Mutex<Vec<String>>>);
        struct Text(String);
        impl Visit for Text {
            fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
                self.0.push_str(&format!("{}={value:?} ", field.name()));
            }
        }
        impl<S: tracing::Subscriber> Layer<S> for Warnings {
            fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
                if *event.metadata().level() == tracing::Level::WARN {
                    let mut text = Text(String::new());
                    event.record(&mut text);
                    self.0.lock().unwrap().push(text.0);
                }
            }
        }
        let warnings = Warnings::default();
        let subscriber = tracing_subscriber::registry().with(warnings.clone());
        tracing::subscriber::with_default(subscriber, || {
            let size = sized(Some(16), (Limit::Max(4), Limit::Infinite), 7);
            assert_eq!((size.sessions, size.clamped_from), (3, Some(16)));
            let size = sized(Some(2), (Limit::Max(4), Limit::Infinite), 7);
            assert_eq!((size.sessions, size.clamped_from), (2, None));
            let size = sized(None, (Limit::Max(2), Limit::Infinite), 7);
            assert_eq!((size.sessions, size.clamped_from), (1, None));
        });
        let warnings = warnings.0.lock().unwrap();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        for field in [
            "slot=7",
            "requested=16",
            "max_sessions=3",
            "token_max_sessions=4",
        ] {
            assert!(warnings[0].contains(field), "{field} in {}", warnings[0]);
        }
    }

    #[test]
    fn limits() {
        assert!(default_max_sessions() >= 4);
        assert_eq!(limit_text(Limit::Max(4)), "4");
        assert_eq!(limit_text(Limit::Infinite), "no limit");
        assert_eq!(limit_text(Limit::Unavailable), "not stated");
    }
}
