//! A request to stop training at the next step boundary, for Ctrl-C and SIGTERM.
//!
//! Dying mid-epoch lost up to an epoch of training (checkpoints were only written at epoch
//! ends), which on a GPU can be hours (#17). Instead the signal handler in `main.rs` calls
//! [`request`]; every running training loop sees [`requested`] after its current iteration,
//! writes a mid-epoch checkpoint from which a rerun continues with the same weights as an
//! uninterrupted run, and parks ([`checkpointed`]); the handler, which waits in
//! [`wait_idle`] until no training is [`Active`], then ends the process.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

static REQUESTED: AtomicBool = AtomicBool::new(false);
static ACTIVE: AtomicUsize = AtomicUsize::new(0);

/// Marks a training loop as running until dropped.
#[derive(Debug)]
pub struct Active(());

impl Active {
    /// Counts one more running training loop.
    pub fn enter() -> Self {
        ACTIVE.fetch_add(1, Ordering::SeqCst);
        Self(())
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        ACTIVE.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Asks every training loop to stop at its next step boundary; returns how many are running.
pub fn request() -> usize {
    REQUESTED.store(true, Ordering::SeqCst);
    ACTIVE.load(Ordering::SeqCst)
}

/// Whether [`request`] was called.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// Called by a loop once its checkpoint is written: it stops counting as active and the
/// thread parks until the signal handler ends the process.
pub fn checkpointed(active: Active) -> ! {
    drop(active);
    loop {
        std::thread::park();
    }
}

/// Waits until no training loop is active, or `timeout`; returns whether none is.
pub fn wait_idle(timeout: Duration) -> bool {
    let started = Instant::now();
    while ACTIVE.load(Ordering::SeqCst) > 0 {
        if started.elapsed() > timeout {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}
