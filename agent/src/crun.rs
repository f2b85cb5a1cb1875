//! Runs crun inside the guest. Every invocation logs to its own JSON log file
//! (the container's stdio stays clean) and is waited for through the reaper,
//! with a timeout after which crun is killed.
use std::ffi::{CString, OsString};
use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;

use crate::error::AgentError;
use crate::limits::{CRUN_TIMEOUT_SECS, MAX_EXTRA_FDS};
use crate::reaper::{Exit, Reaper};
use crate::tuning::Tuning;

#[derive(Debug, Error)]
pub enum CrunError {
    #[error("cannot run {bin}: {err}")]
    Spawn { bin: String, err: std::io::Error },
    #[error("crun {op} did not finish within {secs} s")]
    Timeout { op: String, secs: u64 },
    #[error("{0}")]
    ExecutableNotFound(String),
    #[error("{0}")]
    ExecutablePermission(String),
    #[error("crun {op} failed: {msg}")]
    Failed { op: String, msg: String },
}

impl From<CrunError> for AgentError {
    fn from(e: CrunError) -> AgentError {
        match e {
            CrunError::ExecutableNotFound(m) => AgentError::ExecutableNotFound(m),
            CrunError::ExecutablePermission(m) => AgentError::ExecutablePermission(m),
            other => AgentError::Internal(other.to_string()),
        }
    }
}

/// The standard streams handed to crun (and through it, to the container),
/// and the descriptors the process gets at 3, 4, ... (--preserve-fds).
pub struct Stdio3 {
    pub stdin: Stdio,
    pub stdout: Stdio,
    pub stderr: Stdio,
    pub extra: Vec<OwnedFd>,
}

impl Stdio3 {
    pub fn null() -> Stdio3 {
        Stdio3 { stdin: Stdio::null(), stdout: Stdio::null(), stderr: Stdio::null(), extra: Vec::new() }
    }
}

/// Lowest descriptor number the sealed copy of crun is kept at, above any
/// that an extra descriptor is placed on (3 + MAX_EXTRA_FDS).
const SEALED_FD_MIN: i32 = 100;

/// In crun's child, between fork and exec: puts `fds` at 3, 4, ... (not
/// close-on-exec), first moving each above the targets so that none is
/// overwritten before it is placed. System calls only.
fn place_fds(fds: &[i32]) -> std::io::Result<()> {
    let mut moved = [0i32; MAX_EXTRA_FDS];
    let top = 3 + fds.len() as i32;
    for (i, fd) in fds.iter().enumerate().take(MAX_EXTRA_FDS) {
        // SAFETY: fcntl on a descriptor number; it touches no memory of ours.
        let r = unsafe { libc::fcntl(*fd, libc::F_DUPFD_CLOEXEC, top) };
        if r < 0 {
            return Err(std::io::Error::last_os_error());
        }
        moved[i] = r;
    }
    for (i, fd) in moved.iter().enumerate().take(fds.len().min(MAX_EXTRA_FDS)) {
        // SAFETY: dup2 on descriptor numbers; it touches no memory of ours.
        if unsafe { libc::dup2(*fd, 3 + i as i32) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Where crun connects to hand over a pty master, if the process has one.
pub type ConsoleSocketPath<'a> = Option<&'a Path>;

pub struct Crun {
    bin: PathBuf,
    /// A sealed in-memory copy of `bin` that crun is run from, if made.
    sealed: Option<File>,
    root: PathBuf,
    reaper: Arc<Reaper>,
}

/// crun guards against CVE-2019-5736 by copying itself into a sealed memfd
/// and re-executing from it on every call, unless it already runs from one.
/// The agent makes that copy once, at boot, and runs crun from it: each call
/// saves a copy, an exec and a dynamic link, and under software emulation
/// finds its code already translated (its pages stay the same).
fn sealed_copy(bin: &Path) -> std::io::Result<File> {
    use nix::fcntl::{fcntl, FcntlArg, SealFlag};
    use nix::sys::memfd::{memfd_create, MemFdCreateFlag};
    use std::os::fd::FromRawFd;
    let name = CString::new("crun").map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let first = memfd_create(&name, MemFdCreateFlag::MFD_CLOEXEC | MemFdCreateFlag::MFD_ALLOW_SEALING)?;
    // SAFETY: memfd_create just returned this descriptor and nothing else owns it.
    let first = unsafe { File::from_raw_fd(first) };
    // Kept high: crun's child places extra descriptors on low numbers before it executes this one.
    let raw = fcntl(first.as_raw_fd(), FcntlArg::F_DUPFD_CLOEXEC(SEALED_FD_MIN))?;
    drop(first);
    // SAFETY: fcntl just returned this descriptor and nothing else owns it.
    let mut copy = unsafe { File::from_raw_fd(raw) };
    std::io::copy(&mut File::open(bin)?, &mut copy)?;
    // The seals crun checks for before it trusts its own executable.
    let seals = SealFlag::F_SEAL_SEAL | SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_GROW | SealFlag::F_SEAL_WRITE;
    fcntl(copy.as_raw_fd(), FcntlArg::F_ADD_SEALS(seals))?;
    Ok(copy)
}

/// Picks the error crun reported from its JSON log and classifies it.
pub fn classify(op: &str, log: &str) -> CrunError {
    let msg = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v.get("level").and_then(|l| l.as_str()) == Some("error"))
        .filter_map(|v| v.get("msg").and_then(|m| m.as_str()).map(str::to_string))
        .last()
        .unwrap_or_else(|| {
            let t = log.trim();
            if t.is_empty() { "no error message".to_string() } else { t.chars().take(2000).collect() }
        });
    let lower = msg.to_lowercase();
    let about_exec = lower.contains("executable") || lower.contains("exec ") || lower.contains("execv");
    if about_exec && (lower.contains("not found") || lower.contains("no such file")) {
        return CrunError::ExecutableNotFound(msg);
    }
    if about_exec && lower.contains("permission denied") {
        return CrunError::ExecutablePermission(msg);
    }
    CrunError::Failed { op: op.to_string(), msg }
}

impl Crun {
    /// With `seal`, crun runs from a sealed copy of `bin` (see [`sealed_copy`]).
    pub fn new(bin: PathBuf, root: PathBuf, reaper: Arc<Reaper>, seal: bool) -> Crun {
        let sealed = if seal {
            sealed_copy(&bin)
                .map_err(|e| crate::log::warn(&format!("crun will copy itself on every call: {e}")))
                .ok()
        } else {
            None
        };
        Crun { bin, sealed, root, reaper }
    }

    fn command(&self) -> Command {
        match &self.sealed {
            // The descriptor is close-on-exec, but exec opens its path first.
            Some(copy) => {
                let mut cmd = Command::new(format!("/proc/self/fd/{}", copy.as_raw_fd()));
                cmd.arg0("crun");
                cmd
            }
            None => Command::new(&self.bin),
        }
    }

    fn run(&self, op: &str, args: Vec<OsString>, stdio: Stdio3, log: &Path) -> Result<(), CrunError> {
        self.run_tuned(op, args, stdio, log, &Tuning::default())
    }

    /// Runs crun with `tuning` set on its process, for the child it starts
    /// (the container's process) to inherit.
    fn run_tuned(&self, op: &str, args: Vec<OsString>, stdio: Stdio3, log: &Path, tuning: &Tuning) -> Result<(), CrunError> {
        let _ = std::fs::remove_file(log);
        let Stdio3 { stdin, stdout, stderr, extra } = stdio;
        let mut args = args;
        let mut cmd = self.command();
        if !extra.is_empty() {
            args.insert(0, "--preserve-fds".into());
            args.insert(1, extra.len().to_string().into());
            let raw: Vec<i32> = extra.iter().map(|f| f.as_raw_fd()).collect();
            // SAFETY: place_fds makes system calls only (no allocation, no locks).
            unsafe {
                cmd.pre_exec(move || place_fds(&raw));
            }
        }
        if !tuning.is_empty() {
            let tuning = tuning.clone();
            // SAFETY: the closure makes system calls only (no allocation, no locks).
            unsafe {
                cmd.pre_exec(move || tuning.apply_to_self());
            }
        }
        cmd.arg("--root")
            .arg(&self.root)
            .arg(format!("--log={}", log.display()))
            .arg("--log-format=json")
            .arg(op)
            .args(args)
            .stdin(stdin)
            .stdout(stdout)
            .stderr(stderr);
        let exit = self.spawn_and_wait(cmd, op)?;
        // crun's child has its copies: ours close.
        drop(extra);
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let _ = std::fs::remove_file(log);
        if exit.status == 0 {
            return Ok(());
        }
        Err(classify(op, &text))
    }

    /// Runs crun to completion through the reaper, killing it past the timeout.
    fn spawn_and_wait(&self, mut cmd: Command, op: &str) -> Result<Exit, CrunError> {
        let child = cmd
            .spawn()
            .map_err(|err| CrunError::Spawn { bin: self.bin.display().to_string(), err })?;
        let pid = child.id() as i32;
        // The reaper owns waiting; `child` is dropped without waiting.
        drop(child);
        let exit = self.reaper.wait(pid, Some(Duration::from_secs(CRUN_TIMEOUT_SECS)));
        if exit.is_none() {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGKILL);
            self.reaper.wait(pid, Some(Duration::from_secs(5)));
        }
        self.reaper.forget(pid);
        exit.ok_or_else(|| CrunError::Timeout { op: op.into(), secs: CRUN_TIMEOUT_SECS })
    }

    pub fn create(
        &self,
        id: &str,
        bundle: &Path,
        pid_file: &Path,
        console: ConsoleSocketPath<'_>,
        stdio: Stdio3,
        start: bool,
        tuning: &Tuning,
    ) -> Result<(), CrunError> {
        let mut args: Vec<OsString> = vec!["--bundle".into(), bundle.into(), "--pid-file".into(), pid_file.into()];
        if let Some(c) = console {
            args.push("--console-socket".into());
            args.push(c.into());
        }
        // `run --detach` is create and start in one crun invocation.
        let op = if start {
            args.insert(0, "--detach".into());
            "run"
        } else {
            "create"
        };
        args.push(id.into());
        self.run_tuned(op, args, stdio, &bundle.join("crun-create.log"), tuning)
    }

    /// Runs `crun --version` once and waits for it. Under software emulation
    /// the first run of a binary pays for translating its code (and ld.so's
    /// and libc's); later runs, the container's own among them, find it done
    /// (crun runs from the same sealed pages every time).
    pub fn warm_up(&self) {
        let mut cmd = self.command();
        cmd.arg("--version").stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        if let Err(e) = self.spawn_and_wait(cmd, "--version") {
            crate::log::debug(&format!("warm-up: {e}"));
        }
    }

    pub fn start(&self, id: &str, bundle: &Path) -> Result<(), CrunError> {
        self.run("start", vec![id.into()], Stdio3::null(), &bundle.join("crun-start.log"))
    }

    pub fn exec(
        &self,
        id: &str,
        process_json: &Path,
        pid_file: &Path,
        console: ConsoleSocketPath<'_>,
        stdio: Stdio3,
        log: &Path,
        tuning: &Tuning,
    ) -> Result<(), CrunError> {
        let mut args: Vec<OsString> =
            vec!["--process".into(), process_json.into(), "--detach".into(), "--pid-file".into(), pid_file.into()];
        if let Some(c) = console {
            args.push("--console-socket".into());
            args.push(c.into());
        }
        args.push(id.into());
        self.run_tuned("exec", args, stdio, log, tuning)
    }

    pub fn kill(&self, id: &str, bundle: &Path, signal: i32, all: bool) -> Result<(), CrunError> {
        let mut args: Vec<OsString> = vec![];
        if all {
            args.push("--all".into());
        }
        args.push(id.into());
        args.push(signal.to_string().into());
        self.run("kill", args, Stdio3::null(), &bundle.join("crun-kill.log"))
    }

    pub fn pause(&self, id: &str, bundle: &Path) -> Result<(), CrunError> {
        self.run("pause", vec![id.into()], Stdio3::null(), &bundle.join("crun-pause.log"))
    }

    pub fn resume(&self, id: &str, bundle: &Path) -> Result<(), CrunError> {
        self.run("resume", vec![id.into()], Stdio3::null(), &bundle.join("crun-resume.log"))
    }

    pub fn update(&self, id: &str, bundle: &Path, resources: &Path) -> Result<(), CrunError> {
        let args = vec!["--resources".into(), resources.into(), id.into()];
        self.run("update", args, Stdio3::null(), &bundle.join("crun-update.log"))
    }

    pub fn delete(&self, id: &str, bundle: &Path) -> Result<(), CrunError> {
        self.run("delete", vec!["--force".into(), id.into()], Stdio3::null(), &bundle.join("crun-delete.log"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_crun_errors() {
        let log = r#"{"msg": "executable file `nope` not found in $PATH: No such file or directory", "level": "error", "time": "x"}"#;
        assert!(matches!(classify("create", log), CrunError::ExecutableNotFound(_)));
        let denied = r#"{"msg": "open executable: Permission denied", "level": "error"}"#;
        assert!(matches!(classify("create", denied), CrunError::ExecutablePermission(_)));
        let other = "{\"msg\": \"cannot set hostname\", \"level\": \"error\"}\n";
        match classify("create", other) {
            CrunError::Failed { msg, .. } => assert_eq!(msg, "cannot set hostname"),
            e => panic!("unexpected {e:?}"),
        }
        assert!(matches!(classify("start", "plain text"), CrunError::Failed { .. }));
    }
}
