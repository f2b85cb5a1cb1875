//! The sandbox: the agent's whole state (its mounts and containers) and the
//! operations the RPC layer calls. Long operations (crun) run without the
//! sandbox lock held; a container id is reserved while it is being made.
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::cgroup;
use crate::container::{Container, Event, Status};
use crate::oom::OomWatcher;
use crate::crun::Crun;
use crate::error::{AgentError, Result};
use crate::limits::{MAX_CONTAINERS, MAX_STREAM_CHUNK};
use crate::log;
use crate::mount::{is_under, mount_storage, unmount};
use crate::process::{prepare_stdio, read_pid_file, ExtraStream, Process};
use crate::stdio::{OutputStream, Stdin};
use crate::proto::agent::Storage;
use crate::reaper::{Exit, Reaper};
use crate::spec;

enum Slot {
    Creating,
    Ready(Arc<Container>),
}

#[derive(Default)]
struct State {
    sandbox_id: Option<String>,
    mounts: Vec<PathBuf>,
    containers: HashMap<String, Slot>,
}

pub struct Agent {
    reaper: Arc<Reaper>,
    crun: Crun,
    run_dir: PathBuf,
    /// Whether this agent owns the machine (PID 1): hostname, clock, power.
    owns_guest: bool,
    /// Whether the guest was booted to be a VM template (`hako.template=1`),
    /// so that it may be one of many clones of it.
    from_template: bool,
    state: Mutex<State>,
    /// Numbers exec console sockets: an exec id (64 characters from CRI)
    /// in the name would make the path longer than a socket path may be.
    next_console: AtomicU64,
    /// TCP connections the host opened to the sandbox's loopback.
    pub ports: crate::forward::PortStreams,
    shutting_down: AtomicBool,
    oom: Option<Arc<OomWatcher>>,
    /// TEST ONLY: fails CreateContainer of `fail-*` ids (hostile.rs).
    #[cfg(feature = "hostile")]
    hostile: AtomicBool,
}

/// A stream of a process, for ReadStdout / ReadStderr.
#[derive(Clone, Copy)]
pub enum Stream {
    Stdout,
    Stderr,
    /// An extra descriptor (3 or more) the process writes.
    Extra(u32),
}

/// How a container's process starts: at once (create and start in one
/// step), and with which extra descriptors (`extra_outputs[i]`: whether the
/// process writes fd 3 + i; else it reads it).
#[derive(Clone, Copy)]
pub struct Launch<'a> {
    pub start: bool,
    pub extra_outputs: &'a [bool],
}

impl Agent {
    pub fn new(reaper: Arc<Reaper>, run_dir: PathBuf, owns_guest: bool, from_template: bool) -> Agent {
        let crun_bin = std::env::var_os("HAKO_AGENT_CRUN").map(PathBuf::from).unwrap_or_else(|| "/usr/bin/crun".into());
        let crun = Crun::new(crun_bin, run_dir.join("crun"), reaper.clone(), owns_guest);
        let oom = match OomWatcher::start() {
            Ok(w) => Some(w),
            Err(e) => {
                log::warn(&format!("no OOM events: {e}"));
                None
            }
        };
        Agent {
            reaper,
            crun,
            run_dir,
            owns_guest,
            from_template,
            state: Mutex::new(State::default()),
            next_console: AtomicU64::new(0),
            ports: crate::forward::PortStreams::default(),
            shutting_down: AtomicBool::new(false),
            oom,
            #[cfg(feature = "hostile")]
            hostile: AtomicBool::new(false),
        }
    }

    #[cfg(feature = "hostile")]
    pub fn set_hostile(&self) {
        self.hostile.store(true, Ordering::SeqCst);
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    pub fn shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }

    // ---- sandbox ------------------------------------------------------------

    pub fn create_sandbox(&self, id: &str, hostname: &str, storages: &[Storage], host_time_ns: i64) -> Result<()> {
        let mut st = self.lock();
        if st.sandbox_id.is_some() {
            return Err(AgentError::AlreadyExists("the sandbox is already created".into()));
        }
        if self.owns_guest {
            if !hostname.is_empty() {
                nix::unistd::sethostname(hostname)
                    .map_err(|e| AgentError::Internal(format!("set hostname: {e}")))?;
            }
            if self.from_template {
                // A clone must not run anything on the template's randomness.
                crate::entropy::reseed_from_host()
                    .map_err(|e| AgentError::Internal(format!("reseed the guest's random generator: {e}")))?;
                log::debug("random generator reseeded from the host");
            }
            if host_time_ns > 0 {
                let ts = nix::sys::time::TimeSpec::new(host_time_ns / 1_000_000_000, host_time_ns % 1_000_000_000);
                if let Err(e) = nix::time::clock_settime(nix::time::ClockId::CLOCK_REALTIME, ts) {
                    log::warn(&format!("cannot set the clock: {e}"));
                }
            }
        }
        std::fs::create_dir_all(self.run_dir.join("containers"))
            .map_err(|e| AgentError::Internal(format!("create run dir: {e}")))?;
        let mut mounted = vec![];
        for s in storages {
            match mount_storage(s, &self.run_dir, self.from_template) {
                Ok(p) => mounted.extend(p),
                Err(e) => {
                    mounted.iter().rev().for_each(|p| unmount(p));
                    return Err(e.into());
                }
            }
        }
        st.sandbox_id = Some(id.to_string());
        st.mounts = mounted;
        Ok(())
    }

    /// Warms crun up on a thread of its own (see [`Crun::warm_up`]). The host
    /// asks for it only when the guest has a spare vCPU to do it on.
    pub fn warm_up(self: &Arc<Self>) {
        let agent = self.clone();
        std::thread::spawn(move || agent.crun.warm_up());
    }

    /// Ends every container and unmounts; the RPC layer powers off after the
    /// reply has been written. As PID 1 the VM is about to go away, so each
    /// container is only killed (cgroup.kill) rather than deleted with crun.
    pub fn destroy_sandbox(&self) -> Result<()> {
        self.ports.close_all();
        let ids: Vec<String> = self.lock().containers.keys().cloned().collect();
        for id in ids {
            let result = if self.owns_guest { self.kill_container(&id) } else { self.remove_container(&id, Duration::from_secs(5)) };
            if let Err(e) = result {
                log::warn(&format!("remove {id}: {e}"));
            }
        }
        let mut st = self.lock();
        st.mounts.drain(..).rev().for_each(|p| unmount(&p));
        st.sandbox_id = None;
        self.shutting_down.store(self.owns_guest, Ordering::SeqCst);
        nix::unistd::sync();
        Ok(())
    }

    // ---- containers ---------------------------------------------------------

    fn container(&self, id: &str) -> Result<Arc<Container>> {
        match self.lock().containers.get(id) {
            Some(Slot::Ready(c)) => Ok(c.clone()),
            Some(Slot::Creating) => Err(AgentError::FailedPrecondition(format!("container {id} is being created"))),
            None => Err(AgentError::NotFound(format!("container {id} not found"))),
        }
    }

    /// Whether `pid` is the init process of one of this sandbox's containers.
    fn is_container_init(&self, pid: i32) -> bool {
        self.lock().containers.values().any(|s| matches!(s, Slot::Ready(c) if c.init.pid == pid))
    }

    fn reserve(&self, id: &str) -> Result<()> {
        let mut st = self.lock();
        if st.sandbox_id.is_none() {
            return Err(AgentError::FailedPrecondition("the sandbox is not created yet".into()));
        }
        if st.containers.contains_key(id) {
            return Err(AgentError::AlreadyExists(format!("container {id} already exists")));
        }
        if st.containers.len() >= MAX_CONTAINERS {
            return Err(AgentError::ResourceExhausted(format!("more than {MAX_CONTAINERS} containers")));
        }
        st.containers.insert(id.to_string(), Slot::Creating);
        Ok(())
    }

    pub fn create_container(
        &self,
        id: &str,
        spec_json: &[u8],
        rootfs: &str,
        storages: &[Storage],
        launch: Launch<'_>,
    ) -> Result<i32> {
        let start = launch.start;
        self.reserve(id)?;
        let bundle = self.run_dir.join("containers").join(id);
        let mut mounts = vec![];
        let made = self.make_container(id, &bundle, spec_json, rootfs, storages, &mut mounts, launch);
        let mut st = self.lock();
        match made {
            Ok(init) => {
                let pid = init.pid;
                let c = Container::new(id.to_string(), bundle, init, mounts, start);
                st.containers.insert(id.to_string(), Slot::Ready(Arc::new(c)));
                drop(st);
                if let Some(w) = &self.oom {
                    w.watch(id);
                }
                Ok(pid)
            }
            Err(e) => {
                st.containers.remove(id);
                drop(st);
                let _ = self.crun.delete(id, &bundle);
                mounts.iter().rev().for_each(|p| unmount(p));
                let _ = std::fs::remove_dir_all(&bundle);
                Err(e)
            }
        }
    }

    fn make_container(
        &self,
        id: &str,
        bundle: &Path,
        spec_json: &[u8],
        rootfs: &str,
        storages: &[Storage],
        mounts: &mut Vec<PathBuf>,
        launch: Launch<'_>,
    ) -> Result<Process> {
        let start = launch.start;
        std::fs::create_dir_all(bundle).map_err(|e| AgentError::Internal(format!("create bundle: {e}")))?;
        #[cfg(feature = "hostile")]
        if self.hostile.load(Ordering::SeqCst) && crate::hostile::fails(id) {
            return Err(AgentError::Internal(format!("hostile: CreateContainer of {id} fails on purpose")));
        }
        for s in storages {
            mounts.extend(mount_storage(s, &self.run_dir, false)?);
        }
        if !is_under(rootfs, &self.run_dir) {
            return Err(AgentError::InvalidArgument(format!(
                "rootfs {rootfs:?} must be an absolute path under {}",
                self.run_dir.display()
            )));
        }
        if !Path::new(rootfs).is_dir() {
            return Err(AgentError::InvalidArgument(format!("rootfs {rootfs} is not a directory in the guest")));
        }
        let spec::GuestSpec { spec, network_sysctls, tuning } =
            spec::container_spec(spec_json, rootfs, &format!("/hako/{id}"), &crate::tuning::online_cpus, &|pid| {
                self.is_container_init(pid)
            })?;
        if self.owns_guest {
            crate::network::set_sysctls(&network_sysctls)?;
        } else if !network_sysctls.is_empty() {
            log::debug(&format!("not in a guest: {} net.* sysctls left unset", network_sysctls.len()));
        }
        let terminal = spec::wants_terminal(&spec["process"]);
        write_json(&bundle.join("config.json"), &spec)?;
        let pid_file = bundle.join("init.pid");
        let (theirs, ours) = prepare_stdio(terminal, &bundle.join("console.sock"), launch.extra_outputs)
            .map_err(|e| AgentError::Internal(format!("stdio: {e}")))?;
        // A CPU affinity must be placed before the process runs: create, place, then start.
        let start_later = start && tuning.has_affinity();
        self.crun.create(id, bundle, &pid_file, ours.console_path(), theirs, start && !start_later, &tuning)?;
        let pid = read_pid_file(&pid_file)?;
        tuning.place(pid).map_err(|e| AgentError::Internal(format!("set the CPU affinity of {id}: {e}")))?;
        if start_later {
            self.crun.start(id, bundle)?;
        }
        ours.finish(pid, self.reaper.clone()).map_err(|e| AgentError::Internal(format!("stdio: {e}")))
    }

    /// Configures the guest's network (the pod's, carried into the VM).
    pub fn update_network(&self, c: &crate::proto::agent::NetworkConfig) -> Result<()> {
        if !self.owns_guest {
            return Err(AgentError::Unimplemented("not in a guest: the network is the host's".into()));
        }
        Ok(crate::netconf::apply(c)?)
    }

    pub fn start_container(&self, id: &str) -> Result<()> {
        let c = self.container(id)?;
        c.apply(Event::Start, || Ok(self.crun.start(id, &c.bundle)?))?;
        Ok(())
    }

    /// Kills every process of a container at once, through its cgroup.
    fn kill_container(&self, id: &str) -> Result<()> {
        let c = self.container(id)?;
        let cgroup = cgroup::dir(id).join("cgroup.kill");
        if std::fs::write(&cgroup, "1").is_err() {
            c.init.signal(libc::SIGKILL).ok();
        }
        for p in c.all_processes() {
            p.discard();
        }
        c.mounts.iter().rev().for_each(|p| unmount(p));
        self.forget(id);
        Ok(())
    }

    fn forget(&self, id: &str) {
        if let Some(w) = &self.oom {
            w.unwatch(id);
        }
        self.lock().containers.remove(id);
    }

    pub fn remove_container(&self, id: &str, timeout: Duration) -> Result<()> {
        let c = self.container(id)?;
        if c.status() != Status::Stopped {
            self.crun.kill(id, &c.bundle, libc::SIGKILL, true).ok();
        }
        if self.reaper.wait(c.init.pid, Some(timeout)).is_none() {
            return Err(AgentError::Internal(format!("container {id} did not stop within {timeout:?}")));
        }
        self.crun.delete(id, &c.bundle)?;
        for p in c.all_processes() {
            p.discard();
        }
        c.mounts.iter().rev().for_each(|p| unmount(p));
        let _ = std::fs::remove_dir_all(&c.bundle);
        self.forget(id);
        Ok(())
    }

    pub fn pause_container(&self, id: &str) -> Result<()> {
        let c = self.container(id)?;
        c.apply(Event::Pause, || Ok(self.crun.pause(id, &c.bundle)?))?;
        Ok(())
    }

    pub fn resume_container(&self, id: &str) -> Result<()> {
        let c = self.container(id)?;
        c.apply(Event::Resume, || Ok(self.crun.resume(id, &c.bundle)?))?;
        Ok(())
    }

    pub fn update_container(&self, id: &str, resources_json: &[u8]) -> Result<()> {
        let c = self.container(id)?;
        let resources = spec::resources(resources_json)?;
        let file = c.bundle.join("resources.json");
        write_json(&file, &resources)?;
        let result = self.crun.update(id, &c.bundle, &file);
        let _ = std::fs::remove_file(&file);
        Ok(result?)
    }

    pub fn stats_container(&self, id: &str) -> Result<crate::proto::agent::CgroupStats> {
        self.container(id)?;
        Ok(cgroup::stats(id)?)
    }

    /// Every process in the container, with the exec id of the ones Hako started.
    pub fn list_processes(&self, id: &str) -> Result<Vec<(i32, String)>> {
        let c = self.container(id)?;
        let known: std::collections::HashMap<i32, String> = c.known_pids().into_iter().collect();
        Ok(cgroup::pids(id)?.into_iter().map(|pid| (pid, known.get(&pid).cloned().unwrap_or_default())).collect())
    }

    pub fn delete_process(&self, id: &str, exec_id: &str) -> Result<()> {
        let p = self.container(id)?.remove_exec(exec_id)?;
        p.discard();
        Ok(())
    }

    /// Blocks until a container is killed for memory; returns its id.
    pub fn next_oom_event(&self) -> Result<String> {
        match &self.oom {
            Some(w) => Ok(w.next()),
            None => Err(AgentError::Unimplemented("OOM events are unavailable in this guest".into())),
        }
    }

    // ---- processes ----------------------------------------------------------

    /// Starts an extra process; `extra_outputs` as in [`Launch`].
    pub fn exec_process(&self, id: &str, exec_id: &str, process_json: &[u8], extra_outputs: &[bool]) -> Result<i32> {
        let c = self.container(id)?;
        if c.status() != Status::Running {
            return Err(AgentError::FailedPrecondition(format!("cannot exec in container {id}: it is not running")));
        }
        c.reserve_exec(exec_id)?;
        let (process, tuning) = spec::exec_process(process_json, &crate::tuning::online_cpus)?;
        let file = c.bundle.join(format!("exec-{exec_id}.json"));
        write_json(&file, &process)?;
        let pid_file = c.bundle.join(format!("exec-{exec_id}.pid"));
        let result = (|| {
            let (theirs, ours) = prepare_stdio(spec::wants_terminal(&process), &c.bundle.join(format!("exec-{}.sock", self.next_console.fetch_add(1, Ordering::Relaxed))), extra_outputs)
                .map_err(|e| AgentError::Internal(format!("stdio: {e}")))?;
            let log = c.bundle.join(format!("exec-{exec_id}.log"));
            self.crun.exec(id, &file, &pid_file, ours.console_path(), theirs, &log, &tuning)?;
            let pid = read_pid_file(&pid_file)?;
            // crun has started it already: its first steps may run on any CPU of its cgroup.
            tuning.place(pid).map_err(|e| AgentError::Internal(format!("set the CPU affinity of exec {exec_id}: {e}")))?;
            ours.finish(pid, self.reaper.clone()).map_err(|e| AgentError::Internal(format!("stdio: {e}")))
        })();
        let _ = std::fs::remove_file(&file);
        let _ = std::fs::remove_file(&pid_file);
        let process = result?;
        let pid = process.pid;
        c.add_exec(exec_id, process)?;
        Ok(pid)
    }

    pub fn signal_process(&self, id: &str, exec_id: &str, signal: i32, all: bool) -> Result<()> {
        let c = self.container(id)?;
        if all {
            if c.status() == Status::Stopped {
                return Err(AgentError::NotFound("process already finished".into()));
            }
            return Ok(self.crun.kill(id, &c.bundle, signal, true)?);
        }
        c.process(exec_id)?.signal(signal)
    }

    pub fn wait_process(&self, id: &str, exec_id: &str) -> Result<Exit> {
        let p = self.container(id)?.process(exec_id)?;
        Ok(p.wait())
    }

    /// Reads a process's output, or with an empty `id` the port stream `exec_id`.
    pub fn read_stream(&self, id: &str, exec_id: &str, which: Stream, len: usize) -> Result<Vec<u8>> {
        let len = if len == 0 { MAX_STREAM_CHUNK } else { len.min(MAX_STREAM_CHUNK) };
        let read = |buf: &OutputStream| buf.read(len).map_err(|e| AgentError::Internal(format!("read output: {e}")));
        if id.is_empty() {
            return match which {
                Stream::Stdout => read(&self.ports.get(exec_id)?.output),
                // A connection has one stream of bytes each way.
                Stream::Stderr => Ok(vec![]),
                Stream::Extra(fd) => Err(AgentError::InvalidArgument(format!("a port stream has no descriptor {fd}"))),
            };
        }
        let p = self.container(id)?.process(exec_id)?;
        let buf = match which {
            Stream::Stdout => p.stdout.clone(),
            Stream::Stderr => match &p.stderr {
                Some(b) => b.clone(),
                // With a terminal, stderr is merged into the terminal: at once EOF.
                None => return Ok(vec![]),
            },
            Stream::Extra(fd) => match p.extra(fd)? {
                ExtraStream::Output(o) => o.clone(),
                ExtraStream::Input(_) => {
                    return Err(AgentError::InvalidArgument(format!("descriptor {fd} is the process's input")))
                }
            },
        };
        read(&buf)
    }

    /// Writes to stdin (`fd` 0) or to an extra descriptor the process reads.
    pub fn write_stdin(&self, id: &str, exec_id: &str, fd: u32, data: &[u8]) -> Result<usize> {
        let write = |input: &Stdin| {
            input.write(data).map_err(|e| match e {
                None => AgentError::FailedPrecondition("stdin is closed".into()),
                Some(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                    AgentError::FailedPrecondition("the process no longer reads its stdin".into())
                }
                Some(e) => AgentError::Internal(format!("write stdin: {e}")),
            })
        };
        if id.is_empty() {
            return write(&self.port_input(exec_id, fd)?.input);
        }
        let p = self.container(id)?.process(exec_id)?;
        write(input_of(&p, fd)?)
    }

    pub fn close_stdin(&self, id: &str, exec_id: &str, fd: u32) -> Result<()> {
        if id.is_empty() {
            self.port_input(exec_id, fd)?.input.close();
            return Ok(());
        }
        let p = self.container(id)?.process(exec_id)?;
        input_of(&p, fd)?.close();
        Ok(())
    }

    /// The port stream `exec_id`, written as a process's stdin (`fd` 0).
    fn port_input(&self, exec_id: &str, fd: u32) -> Result<Arc<crate::forward::PortStream>> {
        if fd != 0 {
            return Err(AgentError::InvalidArgument(format!("a port stream has no descriptor {fd}")));
        }
        self.ports.get(exec_id)
    }

    /// The host stopped reading `which`: its read end closes once no read is
    /// in progress, and the process's next write fails with EPIPE.
    pub fn close_output(&self, id: &str, exec_id: &str, which: Stream) -> Result<()> {
        if id.is_empty() {
            if let Stream::Stdout = which {
                self.ports.get(exec_id)?.output.close();
            }
            return Ok(());
        }
        let p = self.container(id)?.process(exec_id)?;
        match which {
            Stream::Stdout => p.stdout.close(),
            Stream::Stderr => {
                if let Some(e) = &p.stderr {
                    e.close();
                }
            }
            Stream::Extra(fd) => match p.extra(fd)? {
                ExtraStream::Output(o) => o.close(),
                ExtraStream::Input(_) => {
                    return Err(AgentError::InvalidArgument(format!("descriptor {fd} is the process's input")))
                }
            },
        }
        Ok(())
    }

    pub fn resize_tty(&self, id: &str, exec_id: &str, rows: u16, cols: u16) -> Result<()> {
        let p = self.container(id)?.process(exec_id)?;
        let tty = p.tty.as_ref().ok_or_else(|| AgentError::FailedPrecondition("the process has no terminal".into()))?;
        crate::tty::resize(tty, rows, cols).map_err(|e| AgentError::Internal(format!("resize: {e}")))
    }
}

/// The process's stdin (`fd` 0) or the extra descriptor `fd` it reads.
fn input_of(p: &Process, fd: u32) -> Result<&Stdin> {
    if fd == 0 {
        return Ok(&p.stdin);
    }
    match p.extra(fd)? {
        ExtraStream::Input(i) => Ok(i),
        ExtraStream::Output(_) => Err(AgentError::InvalidArgument(format!("descriptor {fd} is the process's output"))),
    }
}

/// Writes `value` as JSON to `path`, for crun to read.
fn write_json(path: &Path, value: &serde_json::Value) -> Result<()> {
    let bytes = serde_json::to_vec(value).map_err(|e| AgentError::Internal(e.to_string()))?;
    std::fs::write(path, bytes).map_err(|e| AgentError::Internal(format!("write {}: {e}", path.display())))
}
