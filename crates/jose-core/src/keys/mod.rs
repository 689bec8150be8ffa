//! Keys held in memory: [`SoftwareKey`], the software implementation of
//! [`KeyBackend`](crate::KeyBackend), and [`KeySet`], keys looked up by `kid`.

mod set;
mod software;

pub use set::{KeySet, SharedKeySet};
pub use software::SoftwareKey;
