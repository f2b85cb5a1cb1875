//! hako-agent: PID 1 of a Hako sandbox VM.
//!
//! It prepares the guest (mounts, reaping, clock), then serves the agent API
//! (proto/agent.proto) over ttrpc on a virtio-serial port, creating containers
//! with crun. `--listen-unix PATH` serves on a Unix socket instead, without
//! the PID 1 duties: that mode exists for tests on the host.

mod cgroup;
mod container;
mod crun;
mod entropy;
mod error;
#[cfg(feature = "hostile")]
mod hostile;
mod hotplug;
mod init;
mod limits;
mod log;
mod mount;
mod netconf;
mod netlink;
mod forward;
mod network;
mod oom;
mod pool;
mod port;
mod process;
mod proto;
mod reaper;
mod ready;
mod rpc;
mod sandbox;
mod spec;
mod stdio;
mod ttrpc;
mod tty;
mod tuning;

use std::path::PathBuf;
use std::sync::Arc;

/// How the agent was asked to run.
enum Mode {
    /// PID 1 of the guest, serving on the named virtio-serial port.
    Guest,
    /// A host-side test process serving on a Unix socket.
    Unix(PathBuf),
}

fn parse_mode(args: &[String]) -> Result<Mode, String> {
    if std::process::id() == 1 {
        // The kernel passes unknown command-line words to init: ignore them.
        return Ok(Mode::Guest);
    }
    match args.get(1).map(String::as_str) {
        None => Ok(Mode::Guest),
        Some("--listen-unix") => match args.get(2) {
            Some(p) => Ok(Mode::Unix(PathBuf::from(p))),
            None => Err("--listen-unix needs a socket path".into()),
        },
        Some("--version") => {
            println!("hako-agent {}", env!("CARGO_PKG_VERSION"));
            std::process::exit(0);
        }
        Some(other) => Err(format!("unknown argument {other:?}")),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = match parse_mode(&args) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("hako-agent: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(mode) {
        log::error(&format!("fatal: {e}"));
        if std::process::id() == 1 {
            init::power_off();
        }
        std::process::exit(1);
    }
}

fn run(mode: Mode) -> Result<(), String> {
    let is_pid1 = std::process::id() == 1;
    let owns_guest = is_pid1 && matches!(mode, Mode::Guest);
    let t_start = log::uptime();
    if is_pid1 {
        init::switch_root().map_err(|e| format!("switch root: {e}"))?;
    }
    // SIGCHLD must be blocked before any thread exists, so that only the
    // reaper thread ever sees it.
    let reaper = reaper::Reaper::start().map_err(|e| format!("reaper: {e}"))?;
    if owns_guest {
        init::setup_early().map_err(|e| format!("guest setup: {e}"))?;
    }
    let opts = init::BootOptions::from_cmdline();
    log::set_debug(opts.debug);
    match mode {
        Mode::Guest => {
            // A template is set up before its port opens (the host saves it
            // then); otherwise the port is served first, and the host's first
            // round trips overlap the rest of the set-up, which requests other
            // than Check wait for.
            let early = owns_guest && opts.template;
            let new_agent = || Arc::new(sandbox::Agent::new(reaper.clone(), PathBuf::from(limits::GUEST_RUN_DIR), owns_guest, opts.template));
            let mut set_up = None;
            if early {
                init::setup().map_err(|e| format!("guest setup: {e}"))?;
                entropy::check_source().map_err(|e| format!("a template's clones could not be reseeded: {e}"))?;
                set_up = Some(new_agent());
            }
            let port = port::VirtioPort::open(&opts.port_name).map_err(|e| format!("port: {e}"))?;
            let ready = Arc::new(ready::Ready::default());
            let handler = Arc::new(rpc::Dispatcher::new(ready.clone()));
            // A template's clone warms crun up once it runs, that is when its
            // host first connects: translations are not saved with a VM.
            let warm_on_connect: Box<dyn FnOnce() + Send> = match &set_up {
                Some(agent) if opts.warm_up => {
                    let agent = agent.clone();
                    Box::new(move || agent.warm_up())
                }
                _ => Box::new(|| ()),
            };
            let server = std::thread::spawn(move || ttrpc::serve_port(port, handler, warm_on_connect));
            let t_serving = log::uptime();
            if owns_guest && !early {
                init::setup().map_err(|e| format!("guest setup: {e}"))?;
            }
            let agent = set_up.unwrap_or_else(new_agent);
            #[cfg(feature = "hostile")]
            if let Some(target) = &opts.hostile {
                log::warn("hostile: THIS AGENT ATTACKS ITS HOST (a test-only build)");
                agent.set_hostile();
                hostile::start(target.clone());
            }
            ready.set(agent.clone());
            log::debug(&format!("agent started at {t_start:.6}, serving at {t_serving:.6}; guest set up"));
            if owns_guest && opts.warm_up && !opts.template {
                agent.warm_up();
            }
            server.join().map_err(|_| "the server thread panicked".to_string())
        }
        Mode::Unix(path) => {
            let agent = Arc::new(sandbox::Agent::new(reaper, path.with_extension("state"), false, false));
            let handler = rpc::Dispatcher::new(Arc::new(ready::Ready::with(agent)));
            ttrpc::serve_unix(&path, Arc::new(handler)).map_err(|e| format!("listen: {e}"))
        }
    }
}
