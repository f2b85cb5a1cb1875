//! A container in the guest: its bundle, its init process, its exec
//! processes and its lifecycle state, with one transition table.
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::error::{AgentError, Result};
use crate::limits::MAX_EXECS;
use crate::process::Process;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Created,
    Running,
    Paused,
    Stopped,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Start,
    Pause,
    Resume,
}

/// The lifecycle: created → running ⇄ paused; any → stopped when the init
/// process exits (observed, not an event).
pub fn transition(from: Status, event: Event) -> Option<Status> {
    match (from, event) {
        (Status::Created, Event::Start) => Some(Status::Running),
        (Status::Running, Event::Pause) => Some(Status::Paused),
        (Status::Paused, Event::Resume) => Some(Status::Running),
        _ => None,
    }
}

pub struct Container {
    pub id: String,
    pub bundle: PathBuf,
    pub init: Arc<Process>,
    pub mounts: Vec<PathBuf>,
    status: Mutex<Status>,
    execs: Mutex<HashMap<String, Arc<Process>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

impl Container {
    /// A container made by crun; `started` when it was created and started at once.
    pub fn new(id: String, bundle: PathBuf, init: Process, mounts: Vec<PathBuf>, started: bool) -> Container {
        Container {
            id,
            bundle,
            init: Arc::new(init),
            mounts,
            status: Mutex::new(if started { Status::Running } else { Status::Created }),
            execs: Mutex::new(HashMap::new()),
        }
    }

    pub fn status(&self) -> Status {
        if self.init.exited().is_some() {
            return Status::Stopped;
        }
        *lock(&self.status)
    }

    /// Applies `event` with `action`, which runs only if the move is legal.
    pub fn apply(&self, event: Event, action: impl FnOnce() -> Result<()>) -> Result<Status> {
        let mut s = lock(&self.status);
        let current = if self.init.exited().is_some() { Status::Stopped } else { *s };
        let next = transition(current, event).ok_or_else(|| {
            AgentError::FailedPrecondition(format!(
                "container {} is {:?}, cannot {:?}",
                self.id,
                current,
                event
            ).to_lowercase())
        })?;
        action()?;
        *s = next;
        Ok(next)
    }

    /// The process named by `exec_id` ("" = init).
    pub fn process(&self, exec_id: &str) -> Result<Arc<Process>> {
        if exec_id.is_empty() {
            return Ok(self.init.clone());
        }
        lock(&self.execs)
            .get(exec_id)
            .cloned()
            .ok_or_else(|| AgentError::NotFound(format!("process {exec_id} not found in container {}", self.id)))
    }

    pub fn reserve_exec(&self, exec_id: &str) -> Result<()> {
        let execs = lock(&self.execs);
        if execs.contains_key(exec_id) {
            return Err(AgentError::AlreadyExists(format!("process {exec_id} already exists")));
        }
        if execs.len() >= MAX_EXECS {
            return Err(AgentError::ResourceExhausted(format!("more than {MAX_EXECS} processes")));
        }
        Ok(())
    }

    pub fn add_exec(&self, exec_id: &str, p: Process) -> Result<()> {
        let mut execs = lock(&self.execs);
        if execs.contains_key(exec_id) {
            return Err(AgentError::AlreadyExists(format!("process {exec_id} already exists")));
        }
        execs.insert(exec_id.to_string(), Arc::new(p));
        Ok(())
    }

    /// Forgets an exec that has exited.
    pub fn remove_exec(&self, exec_id: &str) -> Result<Arc<Process>> {
        let mut execs = lock(&self.execs);
        let p = execs
            .get(exec_id)
            .cloned()
            .ok_or_else(|| AgentError::NotFound(format!("process {exec_id} not found in container {}", self.id)))?;
        if p.exited().is_none() {
            return Err(AgentError::FailedPrecondition(format!("process {exec_id} is still running")));
        }
        execs.remove(exec_id);
        Ok(p)
    }

    /// (pid, exec id) of every process Hako started in this container.
    pub fn known_pids(&self) -> Vec<(i32, String)> {
        let mut v: Vec<(i32, String)> = lock(&self.execs).iter().map(|(id, p)| (p.pid, id.clone())).collect();
        v.push((self.init.pid, String::new()));
        v
    }

    pub fn all_processes(&self) -> Vec<Arc<Process>> {
        let mut v: Vec<Arc<Process>> = lock(&self.execs).values().cloned().collect();
        v.push(self.init.clone());
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transition_table() {
        assert_eq!(transition(Status::Created, Event::Start), Some(Status::Running));
        assert_eq!(transition(Status::Running, Event::Start), None);
        assert_eq!(transition(Status::Running, Event::Pause), Some(Status::Paused));
        assert_eq!(transition(Status::Paused, Event::Resume), Some(Status::Running));
        assert_eq!(transition(Status::Stopped, Event::Resume), None);
        assert_eq!(transition(Status::Created, Event::Pause), None);
    }
}
