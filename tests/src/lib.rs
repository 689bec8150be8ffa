//! Shared fixtures for the integration suites (see `cargo xtask test-hsm`).
