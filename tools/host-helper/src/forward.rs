//! `forward --netns PATH --to SOCKET`: `kubectl port-forward` into a VM pod.
//! containerd serves a port-forward by dialing 127.0.0.1:PORT inside the
//! pod's network namespace on the node, where nothing of a Hako pod
//! listens: its processes run in the VM. This enters that namespace,
//! listens on a port of its loopback, and has every other TCP connection to
//! 127.0.0.1 there redirected to it (an iptables nat OUTPUT REDIRECT in a
//! chain of its own). For each connection it learns the port it was meant
//! for (SO_ORIGINAL_DST) and relays it to SOCKET, where the runtime carries
//! it into the guest.
//!
//! On SOCKET, per connection: this side sends the port (2 bytes,
//! big-endian); the runtime answers one byte, 0 when the guest connected,
//! anything else when nothing listens there. A refused connection is reset,
//! as a refused dial fails. Then bytes flow both ways, half-closes included.
//!
//! Once listening and redirecting, it prints `ready` and gives up every
//! capability: what is left is accept, connect to SOCKET, copy.
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;

use crate::jail;

/// Connections relayed at once (the agent's own bound on port streams).
const MAX_CONNECTIONS: usize = 64;
/// How long the runtime may take to connect in the guest.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);
/// The nat chain this owns in the pod's namespace.
const CHAIN: &str = "HAKO-PORT-FORWARD";
/// How long the guest's side may go on once the caller's has ended.
/// containerd never half-closes: the end of its side is its close, after
/// which nobody reads what the guest still sends.
const CLOSE_GRACE: Duration = Duration::from_secs(5);
/// From linux/netfilter_ipv4.h.
const SO_ORIGINAL_DST: libc::c_int = 80;

#[derive(Debug, Error)]
pub enum ForwardError {
    #[error("usage: {0}")]
    Usage(String),
    #[error("{what}: {source}")]
    Os { what: String, source: io::Error },
    #[error("{0} is this host's own network namespace: its loopback is not redirected")]
    HostNamespace(String),
    #[error("iptables-restore in {netns}: {why}")]
    Redirect { netns: String, why: String },
    #[error(transparent)]
    Jail(#[from] jail::JailError),
}

fn os(what: impl Into<String>) -> impl FnOnce(io::Error) -> ForwardError {
    let what = what.into();
    move |source| ForwardError::Os { what, source }
}

pub struct Plan {
    netns: String,
    to: String,
}

/// `--netns PATH --to SOCKET`
pub fn parse(args: &[String]) -> Result<Plan, ForwardError> {
    let usage = || ForwardError::Usage("forward --netns PATH --to SOCKET".into());
    let (mut netns, mut to) = (None, None);
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(usage)?.clone();
        match flag.as_str() {
            "--netns" => netns = Some(value),
            "--to" => to = Some(value),
            _ => return Err(usage()),
        }
    }
    let (netns, to) = (netns.ok_or_else(usage)?, to.ok_or_else(usage)?);
    if !netns.starts_with('/') || !to.starts_with('/') {
        return Err(ForwardError::Usage("--netns and --to take absolute paths".into()));
    }
    Ok(Plan { netns, to })
}

/// The rules that send TCP to 127.0.0.1, but for `own` port, to `own`.
/// Declaring the chain empties it: a second run replaces the first's rules.
fn rules(own: u16) -> String {
    format!(
        "*nat\n:{CHAIN} - [0:0]\n\
         -A {CHAIN} -p tcp -d 127.0.0.1/32 --dport {own} -j RETURN\n\
         -A {CHAIN} -p tcp -d 127.0.0.1/32 -j REDIRECT --to-ports {own}\n\
         {jump}COMMIT\n",
        jump = if jump_exists() { String::new() } else { format!("-A OUTPUT -j {CHAIN}\n") },
    )
}

/// Whether OUTPUT already jumps to the chain (a forwarder ran here before).
fn jump_exists() -> bool {
    Command::new("iptables")
        .args(["-w", "-t", "nat", "-C", "OUTPUT", "-j", CHAIN])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn redirect(netns: &str, own: u16) -> Result<(), ForwardError> {
    let fail = |why: String| ForwardError::Redirect { netns: netns.into(), why };
    let mut child = Command::new("iptables-restore")
        .args(["--noflush", "-w"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(format!("start: {e}")))?;
    let written = child.stdin.take().map(|mut i| i.write_all(rules(own).as_bytes()));
    let out = child.wait_with_output().map_err(|e| fail(e.to_string()))?;
    if let Some(Err(e)) = written {
        return Err(fail(format!("write the rules: {e}")));
    }
    if !out.status.success() {
        return Err(fail(String::from_utf8_lossy(&out.stderr).trim().to_string()));
    }
    Ok(())
}

/// Whether `ns` is the namespace this process is in (the host's: the
/// runtime runs there).
fn is_own_namespace(ns: &std::os::fd::OwnedFd) -> Result<bool, ForwardError> {
    use std::os::unix::fs::MetadataExt;
    let own = std::fs::metadata("/proc/self/ns/net").map_err(os("stat /proc/self/ns/net"))?;
    let target = std::fs::File::from(ns.try_clone().map_err(os("duplicate the namespace"))?)
        .metadata()
        .map_err(os("stat the namespace"))?;
    Ok(own.dev() == target.dev() && own.ino() == target.ino())
}

pub fn run(plan: &Plan) -> Result<std::convert::Infallible, ForwardError> {
    let ns = jail::open_ns(&plan.netns)?;
    // A spec that names the host's namespace would have every TCP
    // connection to the host's 127.0.0.1 redirected into a VM.
    if is_own_namespace(&ns)? {
        return Err(ForwardError::HostNamespace(plan.netns.clone()));
    }
    jail::enter_net(&ns, &format!("enter the network namespace {}", plan.netns))?;
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(os("listen on 127.0.0.1"))?;
    let own = listener.local_addr().map_err(os("the listening address"))?.port();
    redirect(&plan.netns, own)?;
    jail::drop_all_caps()?;
    println!("ready");
    io::stdout().flush().map_err(os("report ready"))?;
    let active = Arc::new(AtomicUsize::new(0));
    loop {
        let client = match listener.accept() {
            Ok((c, _)) => c,
            Err(e) if e.kind() == io::ErrorKind::Interrupted || e.kind() == io::ErrorKind::ConnectionAborted => continue,
            Err(e) => return Err(os("accept")(e)),
        };
        if active.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            active.fetch_sub(1, Ordering::SeqCst);
            reset(client);
            continue;
        }
        let (active, to) = (active.clone(), plan.to.clone());
        std::thread::spawn(move || {
            if let Err(e) = serve(client, own, &to) {
                eprintln!("hako-host-helper: forward: {e}");
            }
            active.fetch_sub(1, Ordering::SeqCst);
        });
    }
}

/// The address a redirected connection was meant for; None when it was not redirected.
fn original_port(s: &TcpStream) -> Option<u16> {
    // SAFETY: sockaddr_in is plain old data, for which all zeroes is a valid value.
    let mut addr: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `addr`.
    let r = unsafe { libc::getsockopt(s.as_raw_fd(), libc::SOL_IP, SO_ORIGINAL_DST, (&mut addr as *mut libc::sockaddr_in).cast(), &mut len) };
    if r < 0 || addr.sin_family != libc::AF_INET as libc::sa_family_t || u32::from_be(addr.sin_addr.s_addr) != u32::from(Ipv4Addr::LOCALHOST) {
        return None;
    }
    Some(u16::from_be(addr.sin_port))
}

/// Closes with a reset (SO_LINGER 0), as a connection to a closed port ends.
fn reset(s: TcpStream) {
    let linger = libc::linger { l_onoff: 1, l_linger: 0 };
    // SAFETY: setsockopt reads a linger struct, which `linger` is.
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
}

fn serve(client: TcpStream, own: u16, to: &str) -> io::Result<()> {
    let port = match original_port(&client) {
        Some(p) if p != own => p,
        _ => {
            reset(client);
            return Ok(());
        }
    };
    let mut up = UnixStream::connect(to)?;
    up.write_all(&port.to_be_bytes())?;
    up.set_read_timeout(Some(ANSWER_TIMEOUT))?;
    let mut answer = [0u8; 1];
    if up.read_exact(&mut answer).is_err() || answer[0] != 0 {
        reset(client);
        return Ok(());
    }
    up.set_read_timeout(None)?;
    client.set_nodelay(true)?;
    relay(client, up)
}

/// Copies both ways; each side's end of input is passed on as a half-close.
/// An error on either way ends both, and so does the guest's side going on
/// for CLOSE_GRACE after the caller's ended.
fn relay(client: TcpStream, up: UnixStream) -> io::Result<()> {
    let (mut c_in, mut u_out) = (client.try_clone()?, up.try_clone()?);
    let (c_kill, u_kill) = (client.try_clone()?, up.try_clone()?);
    let (outbound_done, outbound_ended) = std::sync::mpsc::channel::<()>();
    let inbound = std::thread::spawn(move || {
        let r = io::copy(&mut c_in, &mut u_out).map(|_| ());
        if r.is_ok() {
            let _ = u_out.shutdown(Shutdown::Write);
        }
        if r.is_err() || outbound_ended.recv_timeout(CLOSE_GRACE).is_err() {
            let _ = u_out.shutdown(Shutdown::Both);
            let _ = c_in.shutdown(Shutdown::Both);
        }
        r
    });
    let (mut u_in, mut c_out) = (up, client);
    let outbound = io::copy(&mut u_in, &mut c_out).map(|_| ());
    let _ = outbound_done.send(());
    match &outbound {
        Ok(()) => {
            let _ = c_out.shutdown(Shutdown::Write);
        }
        Err(_) => {
            let _ = c_kill.shutdown(Shutdown::Both);
            let _ = u_kill.shutdown(Shutdown::Both);
        }
    }
    let inbound = inbound.join().unwrap_or_else(|_| Err(io::Error::new(io::ErrorKind::Other, "relay thread panicked")));
    outbound.and(inbound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_its_flags() {
        let args: Vec<String> = ["--netns", "/run/netns/p", "--to", "/run/h/pf.sock"].iter().map(|s| s.to_string()).collect();
        let p = parse(&args).unwrap();
        assert_eq!((p.netns.as_str(), p.to.as_str()), ("/run/netns/p", "/run/h/pf.sock"));
        assert!(parse(&args[..3]).is_err());
        assert!(parse(&["--netns".into(), "p".into(), "--to".into(), "/s".into()]).is_err());
    }

    #[test]
    fn the_hosts_own_namespace_is_refused_before_anything_is_changed() {
        let plan = Plan { netns: "/proc/self/ns/net".into(), to: "/nonexistent/fwd.sock".into() };
        assert!(matches!(run(&plan), Err(ForwardError::HostNamespace(_))));
    }

    #[test]
    fn rules_spare_the_forwarders_own_port() {
        let r = rules(41000);
        let ret = r.find("--dport 41000 -j RETURN").unwrap();
        let redirect = r.find("-j REDIRECT --to-ports 41000").unwrap();
        assert!(ret < redirect, "{r}");
        assert!(r.starts_with("*nat\n:HAKO-PORT-FORWARD - [0:0]\n") && r.ends_with("COMMIT\n"), "{r}");
    }

    #[test]
    fn relays_both_ways_with_half_closes() {
        let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let addr = l.local_addr().unwrap();
        let (up_a, mut up_b) = UnixStream::pair().unwrap();
        let client_side = std::thread::spawn(move || {
            let mut c = TcpStream::connect(addr).unwrap();
            c.write_all(b"question").unwrap();
            c.shutdown(Shutdown::Write).unwrap();
            let mut answer = String::new();
            c.read_to_string(&mut answer).unwrap();
            answer
        });
        let (accepted, _) = l.accept().unwrap();
        let relaying = std::thread::spawn(move || relay(accepted, up_a));
        let mut got = String::new();
        up_b.read_to_string(&mut got).unwrap();
        assert_eq!(got, "question");
        up_b.write_all(b"answer").unwrap();
        up_b.shutdown(Shutdown::Write).unwrap();
        assert_eq!(client_side.join().unwrap(), "answer");
        relaying.join().unwrap().unwrap();
    }

    #[test]
    fn a_guest_side_that_goes_on_after_the_caller_left_is_cut_off() {
        let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (accepted, _) = l.accept().unwrap();
        let (up_a, mut up_b) = UnixStream::pair().unwrap();
        let t = std::time::Instant::now();
        let relaying = std::thread::spawn(move || relay(accepted, up_a));
        // The caller leaves; the guest's side never ends on its own.
        drop(c);
        let mut got = Vec::new();
        up_b.read_to_end(&mut got).unwrap();
        relaying.join().unwrap().ok();
        assert!(t.elapsed() >= CLOSE_GRACE && t.elapsed() < CLOSE_GRACE * 3, "{:?}", t.elapsed());
        drop(up_b);
    }

    #[test]
    fn a_connection_that_was_not_redirected_has_no_original_port() {
        let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (accepted, _) = l.accept().unwrap();
        // Without a nat rule there is no conntrack entry to ask (or it
        // names the listener's own port, which serve() refuses as well).
        let own = l.local_addr().unwrap().port();
        assert!(original_port(&accepted).map_or(true, |p| p == own));
        drop(c);
    }
}
