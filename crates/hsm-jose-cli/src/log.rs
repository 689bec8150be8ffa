//! `-v` / `-vv` and `HSM_JOSE_LOG`: the token calls and pool events on standard error.
//!
//! hsm-core reports every PKCS#11 call as a `tracing` span (function, mechanism, slot, return
//! value, duration; never a PIN, key material or data) and the pool's events (sessions opened
//! and lost, logins, waits). This installs a plain-text formatter on standard error for them:
//! `-v` shows `DEBUG` (every token call but attribute and state reads, and the pool's events),
//! `-vv` shows `TRACE` too. `HSM_JOSE_LOG` (`error`, `warn`, `info`, `debug`, `trace` or `off`)
//! sets the level when no `-v` is given. Standard output is untouched.

use clap::{ArgAction, Args};
use tracing_subscriber::filter::LevelFilter;

/// The environment variable that sets the log level when no `-v` is given.
pub(crate) const ENV_LOG: &str = "HSM_JOSE_LOG";

/// The verbosity flags.
#[derive(Debug, Args)]
pub(crate) struct LogArgs {
    /// Show the token calls and session pool events on standard error (-v: debug, -vv: trace;
    /// without -v, the level in HSM_JOSE_LOG)
    #[arg(short = 'v', long = "verbose", action = ArgAction::Count, global = true)]
    pub(crate) verbose: u8,
}

impl LogArgs {
    /// The level: from `-v`, else from `env_level` (the value of [`ENV_LOG`]), else none.
    fn level(&self, env_level: Option<&str>) -> LevelFilter {
        match self.verbose {
            0 => env_level
                .and_then(|level| level.trim().parse::<LevelFilter>().ok())
                .unwrap_or(LevelFilter::OFF),
            1 => LevelFilter::DEBUG,
            _ => LevelFilter::TRACE,
        }
    }

    /// Installs the formatter on standard error, unless the level is `OFF`.
    pub(crate) fn install(&self) {
        let env_level = std::env::var(ENV_LOG).ok();
        let level = self.level(env_level.as_deref());
        if level == LevelFilter::OFF {
            return;
        }
        // Fails only when a subscriber is already installed: then that one reports.
        let _ = tracing_subscriber::fmt()
            .with_max_level(level)
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .try_init();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_from_flags_and_environment() {
        let args = |verbose| LogArgs { verbose };
        assert_eq!(args(0).level(None), LevelFilter::OFF);
        assert_eq!(args(1).level(None), LevelFilter::DEBUG);
        assert_eq!(args(2).level(None), LevelFilter::TRACE);
        assert_eq!(args(5).level(Some("warn")), LevelFilter::TRACE);
        assert_eq!(args(0).level(Some("info")), LevelFilter::INFO);
        assert_eq!(args(0).level(Some("TRACE")), LevelFilter::TRACE);
        assert_eq!(args(0).level(Some("off")), LevelFilter::OFF);
        assert_eq!(args(0).level(Some("loud")), LevelFilter::OFF);
        assert_eq!(args(1).level(Some("error")), LevelFilter::DEBUG);
    }
}
