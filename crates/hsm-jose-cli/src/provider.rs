//! The crypto provider of the command line: aws-lc-rs, installed as jose-core's process
//! default before any key is built, and named by `--version`.

use std::sync::OnceLock;

use jose_core::provider::{self, Provider};

/// Installs aws-lc-rs as the process default provider; returns the provider in use (the
/// installed one, or the default some earlier call fixed).
pub(crate) fn install() -> Provider {
    match provider::install_default(Provider::aws_lc()) {
        Ok(()) => Provider::aws_lc(),
        Err(_) => provider::default_provider(),
    }
}

/// The `--version` text: `0.1.0 (crypto provider: aws-lc-rs)`, from the provider in use.
pub(crate) fn version(provider: Provider) -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        format!(
            "{} (crypto provider: {})",
            env!("CARGO_PKG_VERSION"),
            provider.name()
        )
    })
}
