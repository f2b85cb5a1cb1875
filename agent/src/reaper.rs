//! Reaping as PID 1: one thread takes SIGCHLD (blocked everywhere else) and
//! collects every exit status; the agent waits on pids through it. Nothing
//! else may call waitpid, or statuses would be stolen.
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{SigSet, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    /// Exit code, or 128 + signal.
    pub status: i32,
    /// The killing signal, 0 for a normal exit.
    pub signal: i32,
}

/// Exits nobody asked for (orphans) are kept, oldest dropped past this.
const MAX_UNCLAIMED: usize = 4096;

#[derive(Default)]
struct Table {
    exits: HashMap<i32, Exit>,
    order: VecDeque<i32>,
}

pub struct Reaper {
    table: Mutex<Table>,
    changed: Condvar,
}

impl Reaper {
    /// Blocks SIGCHLD in the calling thread (and so in every thread created
    /// after) and starts the reaping thread. Call before any other thread.
    pub fn start() -> nix::Result<Arc<Reaper>> {
        let mut set = SigSet::empty();
        set.add(Signal::SIGCHLD);
        set.thread_block()?;
        let reaper = Arc::new(Reaper { table: Mutex::new(Table::default()), changed: Condvar::new() });
        let r = reaper.clone();
        std::thread::Builder::new()
            .name("reaper".into())
            .spawn(move || loop {
                // sigwait only fails for an invalid set, which this is not.
                let _ = set.wait();
                r.reap_all();
            })
            .map_err(|_| nix::Error::EAGAIN)?;
        // Children that exited before the thread started.
        reaper.reap_all();
        Ok(reaper)
    }

    fn reap_all(&self) {
        loop {
            let exit = match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) => (pid, Exit { status: code, signal: 0 }),
                Ok(WaitStatus::Signaled(pid, sig, _)) => {
                    (pid, Exit { status: 128 + sig as i32, signal: sig as i32 })
                }
                Ok(WaitStatus::StillAlive) | Err(_) => return,
                Ok(_) => continue,
            };
            self.record(exit.0.as_raw(), exit.1);
        }
    }

    fn record(&self, pid: i32, exit: Exit) {
        if crate::log::debug_enabled() {
            crate::log::debug(&format!("pid {pid} exited: status {}", exit.status));
        }
        let mut t = self.lock();
        if t.exits.insert(pid, exit).is_none() {
            t.order.push_back(pid);
        }
        while t.order.len() > MAX_UNCLAIMED {
            if let Some(old) = t.order.pop_front() {
                t.exits.remove(&old);
            }
        }
        drop(t);
        self.changed.notify_all();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        match self.table.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Waits for `pid` to exit; None when `timeout` passed first. The status
    /// stays available until `forget`.
    pub fn wait(&self, pid: i32, timeout: Option<Duration>) -> Option<Exit> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut t = self.lock();
        loop {
            if let Some(e) = t.exits.get(&pid) {
                return Some(*e);
            }
            t = match deadline {
                None => match self.changed.wait(t) {
                    Ok(g) => g,
                    Err(p) => p.into_inner(),
                },
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return None;
                    }
                    match self.changed.wait_timeout(t, d - now) {
                        Ok((g, _)) => g,
                        Err(p) => p.into_inner().0,
                    }
                }
            };
        }
    }

    pub fn forget(&self, pid: i32) {
        let mut t = self.lock();
        if t.exits.remove(&pid).is_some() {
            t.order.retain(|p| *p != pid);
        }
    }
}
