//! External programs that stages start (`command`), tied to unmt's life.
//!
//! Each child runs in its own process group, so a terminal's Ctrl-C reaches only unmt, which
//! then ends every group it started ([`terminate_all`], from the SIGINT/SIGTERM handler in
//! `main.rs`); and on Linux with `PR_SET_PDEATHSIG = SIGKILL`, so that a child dies with
//! unmt even when unmt is killed outright. Without both, an orphan kept writing into the
//! cache after unmt was gone, and a rerun published a file mixed from two attempts (#17).
//! A group is also ended when its guard drops: after the child was reaped (whatever it left
//! running in the background goes too) or when the stage unwinds.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Output};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// Process groups of running children.
static GROUPS: Mutex<Vec<i32>> = Mutex::new(Vec::new());

/// Process groups of children that stop on their own when asked ([`spawn_graceful`]) and
/// have not exited yet.
static GRACEFUL: Mutex<Vec<i32>> = Mutex::new(Vec::new());

/// Set by [`terminate_all`]: the process is about to exit.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// A running child and its process group; the group is killed when this drops.
pub struct Running {
    child: Option<Child>,
    pgid: i32,
}

/// Starts `cmd` in a new process group tied to this process.
pub fn spawn(cmd: &mut Command) -> io::Result<Running> {
    cmd.process_group(0);
    #[cfg(target_os = "linux")]
    // SAFETY: `prctl` is async-signal-safe and touches no memory of the parent; this runs
    // in the forked child between `fork` and `exec`.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd.spawn()?;
    let pgid = i32::try_from(child.id()).map_err(io::Error::other)?;
    if let Ok(mut g) = GROUPS.lock() {
        g.push(pgid);
    }
    Ok(Running {
        child: Some(child),
        pgid,
    })
}

/// Starts `cmd` as [`spawn`] does, as a child that handles SIGTERM itself (`unmt
/// exec-node`: a training stage finishes its step and writes a checkpoint): on an interrupt
/// it gets SIGTERM and time to exit ([`wait_graceful`]) instead of SIGKILL after 200 ms.
pub fn spawn_graceful(cmd: &mut Command) -> io::Result<Running> {
    let running = spawn(cmd)?;
    if let Ok(mut g) = GRACEFUL.lock() {
        g.push(running.pgid);
    }
    Ok(running)
}

/// Waits until every graceful child has exited, or `timeout`; returns whether all have.
pub fn wait_graceful(timeout: std::time::Duration) -> bool {
    let started = std::time::Instant::now();
    while GRACEFUL.lock().map(|g| !g.is_empty()).unwrap_or(false) {
        if started.elapsed() > timeout {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    true
}

fn forget_graceful(pgid: i32) {
    if let Ok(mut g) = GRACEFUL.lock() {
        g.retain(|&p| p != pgid);
    }
}

impl Running {
    /// The child's stdout, when it was piped (once).
    pub fn take_stdout(&mut self) -> Option<std::process::ChildStdout> {
        self.child.as_mut().and_then(|c| c.stdout.take())
    }

    /// Waits for the child to exit (as `Child::wait`).
    pub fn wait(mut self) -> io::Result<std::process::ExitStatus> {
        let mut child = self
            .child
            .take()
            .ok_or_else(|| io::Error::other("already waited"))?;
        let status = child.wait();
        forget_graceful(self.pgid);
        park_if_interrupted();
        status
    }

    /// Waits for the child and collects its output (as `Command::output`).
    pub fn wait_with_output(mut self) -> io::Result<Output> {
        let child = self
            .child
            .take()
            .ok_or_else(|| io::Error::other("already waited"))?;
        let output = child.wait_with_output();
        park_if_interrupted();
        output
    }
}

fn park_if_interrupted() {
    if INTERRUPTED.load(Ordering::SeqCst) {
        // The child died because unmt is being interrupted: the handler exits the
        // process; reporting a failed node (and keeping its log as failed) would be wrong.
        loop {
            std::thread::park();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        kill_group(self.pgid);
        forget_graceful(self.pgid);
        if let Ok(mut g) = GROUPS.lock() {
            g.retain(|&p| p != self.pgid);
        }
    }
}

fn kill_group(pgid: i32) {
    // SAFETY: `kill` with a negative pid signals a process group; no memory is involved.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
}

/// Ends every running child's process group (SIGTERM, then SIGKILL after a grace period)
/// except graceful children, which get SIGTERM only; for the interrupt handler. Returns how
/// many graceful children are still running (wait for them with [`wait_graceful`]).
pub fn terminate_all() -> usize {
    INTERRUPTED.store(true, Ordering::SeqCst);
    let groups: Vec<i32> = GROUPS.lock().map(|g| g.clone()).unwrap_or_default();
    let graceful: Vec<i32> = GRACEFUL.lock().map(|g| g.clone()).unwrap_or_default();
    if groups.is_empty() {
        return 0;
    }
    for &pgid in &groups {
        // SAFETY: as in `kill_group`.
        unsafe {
            libc::kill(-pgid, libc::SIGTERM);
        }
    }
    let abrupt: Vec<i32> = groups
        .into_iter()
        .filter(|p| !graceful.contains(p))
        .collect();
    if !abrupt.is_empty() {
        std::thread::sleep(std::time::Duration::from_millis(200));
        for pgid in abrupt {
            kill_group(pgid);
        }
    }
    graceful.len()
}
