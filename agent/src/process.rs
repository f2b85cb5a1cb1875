//! One process of a container (its init process or an exec): its pid, its
//! streams, and how it ended. Its exit status comes from the reaper.
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use nix::fcntl::OFlag;
use nix::sys::signal::{kill, Signal};
use nix::unistd::{pipe2, Pid};

use crate::crun::Stdio3;
use crate::error::{AgentError, Result};
use crate::reaper::{Exit, Reaper};
use crate::stdio::{OutputStream, Stdin};
use crate::tty::ConsoleSocket;

pub struct Process {
    pub pid: i32,
    pub stdin: Stdin,
    pub stdout: Arc<OutputStream>,
    /// None when the process has a terminal (stderr goes to it).
    pub stderr: Option<Arc<OutputStream>>,
    pub tty: Option<File>,
    /// Its descriptors beyond stdio, by number from 3.
    pub extra: Vec<ExtraStream>,
    exit: Mutex<Option<Exit>>,
    reaper: Arc<Reaper>,
}

impl Process {
    /// Blocks until the process has exited.
    pub fn wait(&self) -> Exit {
        if let Some(e) = *self.lock_exit() {
            return e;
        }
        // Without a timeout the reaper only returns once the pid exited.
        let e = self.reaper.wait(self.pid, None).unwrap_or(Exit { status: 255, signal: 0 });
        *self.lock_exit() = Some(e);
        e
    }

    pub fn exited(&self) -> Option<Exit> {
        if let Some(e) = *self.lock_exit() {
            return Some(e);
        }
        let e = self.reaper.wait(self.pid, Some(std::time::Duration::ZERO))?;
        *self.lock_exit() = Some(e);
        Some(e)
    }

    fn lock_exit(&self) -> std::sync::MutexGuard<'_, Option<Exit>> {
        match self.exit.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    pub fn signal(&self, signal: i32) -> Result<()> {
        if self.exited().is_some() {
            return Err(AgentError::NotFound("process already finished".into()));
        }
        let sig = Signal::try_from(signal)
            .map_err(|_| AgentError::InvalidArgument(format!("unknown signal {signal}")))?;
        kill(Pid::from_raw(self.pid), sig).map_err(|e| match e {
            nix::Error::ESRCH => AgentError::NotFound("process already finished".into()),
            e => AgentError::Internal(format!("kill {}: {e}", self.pid)),
        })
    }

    /// Drops buffered output and wakes readers (the container is going away).
    /// The exit status stays with the reaper: a WaitProcess still blocked on
    /// it must see it (the reaper's table is bounded).
    pub fn discard(&self) {
        self.stdin.close();
        self.stdout.close();
        if let Some(e) = &self.stderr {
            e.close();
        }
        for x in &self.extra {
            match x {
                ExtraStream::Output(o) => o.close(),
                ExtraStream::Input(i) => i.close(),
            }
        }
    }

    /// Extra descriptor `fd` (3 or more).
    pub fn extra(&self, fd: u32) -> Result<&ExtraStream> {
        usize::try_from(fd)
            .ok()
            .and_then(|n| n.checked_sub(3))
            .and_then(|i| self.extra.get(i))
            .ok_or_else(|| AgentError::NotFound(format!("the process has no descriptor {fd}")))
    }
}

/// A descriptor the process has beyond stdio: a pipe it writes (the host
/// reads it) or one it reads (the host writes it).
pub enum ExtraStream {
    Output(Arc<OutputStream>),
    Input(Stdin),
}

/// A process's stdio between "made" and "process started": the ends crun
/// passes to the container, and ours.
pub struct PendingStdio {
    ours: Ours,
    /// Our ends of the extra descriptors' pipes, and whether each is an output.
    extra: Vec<(bool, File)>,
}

enum Ours {
    Pipes { stdin: File, stdout: File, stderr: File },
    Terminal(ConsoleSocket),
}

fn pipe() -> io::Result<(File, File)> {
    let (r, w) = pipe2(OFlag::O_CLOEXEC)?;
    // SAFETY: pipe2 returned two fresh descriptors that nothing else owns.
    unsafe { Ok((File::from_raw_fd(r), File::from_raw_fd(w))) }
}

/// Pipes for the extra descriptors (`outputs[i]`: the process writes fd 3 + i):
/// the process's ends and ours.
fn extra_pipes(outputs: &[bool]) -> io::Result<(Vec<OwnedFd>, Vec<(bool, File)>)> {
    let mut theirs = Vec::with_capacity(outputs.len());
    let mut ours = Vec::with_capacity(outputs.len());
    for &output in outputs {
        let (r, w) = pipe()?;
        let (their, our) = if output { (w, r) } else { (r, w) };
        theirs.push(OwnedFd::from(their));
        ours.push((output, our));
    }
    Ok((theirs, ours))
}

/// Makes the process's stdio (pipes, or a console socket for a terminal)
/// and its extra descriptors.
pub fn prepare_stdio(terminal: bool, console_path: &Path, outputs: &[bool]) -> io::Result<(Stdio3, PendingStdio)> {
    let (their_extra, extra) = extra_pipes(outputs)?;
    if terminal {
        let socket = ConsoleSocket::bind(console_path)?;
        let theirs = Stdio3 { extra: their_extra, ..Stdio3::null() };
        return Ok((theirs, PendingStdio { ours: Ours::Terminal(socket), extra }));
    }
    let (in_r, in_w) = pipe()?;
    let (out_r, out_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    for p in [&out_r, &err_r] {
        // Larger output pipes mean fewer, larger reads; best effort.
        let _ = nix::fcntl::fcntl(p.as_raw_fd(), nix::fcntl::FcntlArg::F_SETPIPE_SZ(crate::stdio::PIPE_SIZE));
    }
    let theirs = Stdio3 {
        stdin: Stdio::from(OwnedFd::from(in_r)),
        stdout: Stdio::from(OwnedFd::from(out_w)),
        stderr: Stdio::from(OwnedFd::from(err_w)),
        extra: their_extra,
    };
    Ok((theirs, PendingStdio { ours: Ours::Pipes { stdin: in_w, stdout: out_r, stderr: err_r }, extra }))
}

impl PendingStdio {
    pub fn console_path(&self) -> Option<&Path> {
        match &self.ours {
            Ours::Terminal(s) => Some(s.path()),
            Ours::Pipes { .. } => None,
        }
    }

    /// Completes the process once crun has made it as `pid`.
    pub fn finish(self, pid: i32, reaper: Arc<Reaper>) -> io::Result<Process> {
        let (stdin, stdout, stderr, tty) = match self.ours {
            Ours::Pipes { stdin, stdout, stderr } => (
                stdin,
                Arc::new(OutputStream::new(stdout)?),
                Some(Arc::new(OutputStream::new(stderr)?)),
                None,
            ),
            Ours::Terminal(socket) => {
                let master = socket.receive()?;
                (master.try_clone()?, Arc::new(OutputStream::new(master.try_clone()?)?), None, Some(master))
            }
        };
        let mut extra = Vec::with_capacity(self.extra.len());
        for (output, file) in self.extra {
            extra.push(if output {
                ExtraStream::Output(Arc::new(OutputStream::new(file)?))
            } else {
                ExtraStream::Input(Stdin::new(Some(file))?)
            });
        }
        Ok(Process {
            pid,
            stdin: Stdin::new(Some(stdin))?,
            stdout,
            stderr,
            tty,
            extra,
            exit: Mutex::new(None),
            reaper,
        })
    }
}

/// Reads a pid file written by crun.
pub fn read_pid_file(path: &Path) -> Result<i32> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| AgentError::Internal(format!("read pid file {}: {e}", path.display())))?;
    match text.trim().parse::<i32>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(AgentError::Internal(format!("pid file {} holds {:?}", path.display(), text))),
    }
}
