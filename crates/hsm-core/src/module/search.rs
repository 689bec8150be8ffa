//! Where PKCS#11 modules are installed: the one table of system paths, and the search by name.
//!
//! This file has no dependency beyond `std`, on purpose: hsm-core uses it as
//! `hsm_core::module::search` (through [`Module::default_path`] and [`find_module`]), and
//! p11-fault's shim includes the same file with `#[path]` to find the real module it forwards
//! to. The shim is the instrument that tests hsm-core, so it does not link hsm-core (a bug in
//! the code under test must not change the instrument), yet both read one table.
//!
//! [`Module::default_path`]: crate::Module::default_path
//! [`find_module`]: crate::module::find_module

use std::path::PathBuf;

/// Where SoftHSM 2 installs its module on common systems, in the order
/// [`softhsm_path`] tries them.
pub const SOFTHSM_PATHS: &[&str] = &[
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib64/pkcs11/libsofthsm2.so",
    "/usr/lib/pkcs11/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
    "/opt/homebrew/lib/softhsm/libsofthsm2.so",
    "/usr/local/opt/softhsm/lib/softhsm/libsofthsm2.so",
];

/// The directories a module is looked for in by name (RFC 7512 `module-name`), in order:
/// p11-kit's module directories first, then the library directories.
pub const MODULE_DIRS: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu/pkcs11",
    "/usr/lib/aarch64-linux-gnu/pkcs11",
    "/usr/lib64/pkcs11",
    "/usr/lib/pkcs11",
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/usr/lib64",
    "/usr/lib",
    "/usr/local/lib",
];

/// The first SoftHSM module found at [`SOFTHSM_PATHS`].
pub fn softhsm_path() -> Option<PathBuf> {
    SOFTHSM_PATHS
        .iter()
        .map(PathBuf::from)
        .find(|path| path.is_file())
}

/// Why [`module_by_name`] found nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameError {
    /// Empty, or with a `/` or `..`: a name, not a path.
    Invalid,
    /// No file of that name in [`MODULE_DIRS`].
    NotFound,
}

/// The module file for a name without directory and suffix (`softhsm2`, `libsofthsm2`,
/// `opencryptoki`, `p11-kit-client`): SoftHSM's names go to [`softhsm_path`]; otherwise the
/// first of `DIR/NAME.so`, `DIR/libNAME.so` and `DIR/NAME` that is a file, for each of
/// [`MODULE_DIRS`] in order.
pub fn module_by_name(name: &str) -> Result<PathBuf, NameError> {
    if name.is_empty() || name.contains('/') || name.contains("..") {
        return Err(NameError::Invalid);
    }
    if matches!(name, "softhsm2" | "libsofthsm2")
        && let Some(path) = softhsm_path()
    {
        return Ok(path);
    }
    let bare = name.trim_start_matches("lib");
    MODULE_DIRS
        .iter()
        .flat_map(|dir| {
            [
                format!("{dir}/{name}.so"),
                format!("{dir}/lib{bare}.so"),
                format!("{dir}/{name}"),
            ]
        })
        .map(PathBuf::from)
        .find(|path| path.is_file())
        .ok_or(NameError::NotFound)
}
