//! Keys held in memory: [`SoftwareKey`], the software implementation of
//! [`KeyBackend`](crate::KeyBackend), and [`KeySet`], keys looked up by `kid`.

mod set;
mod software;

pub use set::KeySet;
pub use software::SoftwareKey;
#[allow(unused_imports)] // Parsed is used by the JWE key management algorithms
pub(crate) use software::{Parsed, parse as software_parse};
