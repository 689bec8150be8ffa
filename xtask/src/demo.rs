//! `cargo xtask demo`: provisions a SoftHSM token (installing SoftHSM if needed), then runs the
//! demo program `crates/hsm-jose/examples/demo.rs` against it: the whole flow on HSM keys.
//!
//! The demo is an example of the hsm-jose crate rather than code in xtask, so that xtask stays
//! light to compile and the demo doubles as a runnable example for users.

use crate::softhsm;

/// The demo token's label.
const TOKEN: &str = "hsm-jose-demo";

pub(crate) fn run(args: &[String]) -> crate::Result {
    if let Some(extra) = args.first() {
        return Err(format!("demo takes no arguments (got `{extra}`)"));
    }
    let root = crate::root();
    let hsm = softhsm::provision_in(
        &root.join("target").join("hsm-demo"),
        vec![TOKEN.to_owned()],
    )?;
    crate::run(
        "cargo run --example demo",
        crate::cargo()
            .args(["run", "--quiet", "-p", "hsm-jose", "--example", "demo"])
            .envs(hsm.env())
            .env("HSM_TOKEN", TOKEN),
    )
}
