//! The operating system's random number generator, without panics.

use crate::error::Result;

/// Fills `buf` with random bytes from the process default provider's RNG (the OS RNG for
/// RustCrypto, AWS-LC's OS-seeded DRBG for aws-lc-rs).
pub(crate) fn fill(buf: &mut [u8]) -> Result<()> {
    crate::provider::default_provider().imp().fill_random(buf)
}

/// `n` random bytes from the OS.
pub(crate) fn bytes(n: usize) -> Result<Vec<u8>> {
    let mut v = vec![0u8; n];
    fill(&mut v)?;
    Ok(v)
}

/// The OS RNG as a fallible `rand_core` RNG (for crates that take `TryCryptoRng`).
pub(crate) fn os() -> getrandom::SysRng {
    getrandom::SysRng
}
