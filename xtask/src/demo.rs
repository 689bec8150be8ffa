//! `cargo xtask demo`: the whole flow on HSM keys.

pub(crate) fn run(_args: &[String]) -> crate::Result {
    println!("hsm-jose demo: the workspace is being built; nothing to show yet.");
    Ok(())
}
