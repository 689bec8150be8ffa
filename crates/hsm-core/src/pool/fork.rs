//! Starting over in a child process after `fork`.
//!
//! A pool used in a child process after `fork` starts over there: the module is initialised
//! again in the child ([`Module`](crate::Module)'s fork rule), the parent's sessions are dropped
//! *without* `C_CloseSession` (they belong to the parent, and on a token reached over a shared
//! connection closing them would close them for the parent too; see `Tracked` in
//! `checkout.rs`), the epoch moves on so that [`PoolKey`](super::PoolKey)s find their handles
//! again, and fresh sessions are opened and logged in. The parent's pool is untouched.

use std::sync::atomic::Ordering;

use super::PoolInner;
use crate::error::Result;

impl PoolInner {
    /// In a child process after `fork`: initialises the module again, drops the parent's idle
    /// sessions without closing them and forgets every session the parent had open (they are
    /// not this process's to count), and moves the epoch on. A `getpid` per checkout otherwise.
    pub(super) fn start_over_after_fork(&self) -> Result<()> {
        let pid = std::process::id();
        if self.pid.load(Ordering::Acquire) == pid {
            return Ok(());
        }
        self.module.initialize_after_fork()?;
        let inherited = {
            let mut state = self.lock_state();
            if self.pid.swap(pid, Ordering::AcqRel) == pid {
                return Ok(()); // another thread of this child got here first
            }
            state.open_ro = 0;
            state.open_rw = 0;
            (
                std::mem::take(&mut state.idle_ro),
                std::mem::take(&mut state.idle_rw),
            )
        };
        drop(inherited); // Tracked::drop leaves the parent's sessions open
        self.epoch.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }
}
