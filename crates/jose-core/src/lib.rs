//! Pure-Rust JOSE.
#![forbid(unsafe_code)]
