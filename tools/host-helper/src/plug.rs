//! `plug`: gives a running QEMU the queues of a tap in a pod's network
//! namespace, as a netdev (the NIC itself is then added by the caller with
//! `device_add`). QMP `getfd` takes each descriptor as SCM_RIGHTS, which
//! Node.js cannot send, and names it; `netdev_add` then uses the names. Both
//! run on one connection, because QEMU keeps the names per monitor
//! connection.
//!
//! QEMU is treated as untrusted here (a guest may have taken it over): its
//! replies are bounded in size and in time, and only their `return` or
//! `error` member is looked at.
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use thiserror::Error;

use crate::jail;

/// The longest reply line read from QEMU.
const MAX_REPLY: u64 = 64 * 1024;
/// How long QEMU may take over each reply.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);
/// Most queues of one tap (one per vCPU; the jail's own limit).
const MAX_QUEUES: usize = 64;

#[derive(Debug, Error)]
pub enum PlugError {
    #[error("usage: {0}")]
    Usage(String),
    #[error("{what}: {source}")]
    Os { what: String, source: io::Error },
    #[error("QEMU refused {command}: {desc}")]
    Refused { command: String, desc: String },
    #[error("QEMU's reply to {0} is not QMP")]
    BadReply(String),
    #[error(transparent)]
    Tap(#[from] jail::JailError),
}

pub struct Plan {
    qmp: String,
    netdev: String,
    netns: String,
    ifname: String,
    queues: usize,
    /// Also a /dev/vhost-net descriptor per queue (the data path in the host kernel).
    vhost: bool,
}

/// A QEMU id: a letter, then letters, digits and `-` (it is written into JSON and QEMU option strings).
fn valid_id(s: &str) -> bool {
    s.len() <= 32
        && s.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// `--qmp SOCKET --netdev ID --tap NETNS:IFNAME --queues N [--vhost]`
pub fn parse(args: &[String]) -> Result<Plan, PlugError> {
    let usage = || PlugError::Usage("plug --qmp SOCKET --netdev ID --tap NETNS:IFNAME --queues N [--vhost]".into());
    let (mut qmp, mut netdev, mut tap, mut queues) = (None, None, None, None);
    let mut vhost = false;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        if flag == "--vhost" {
            vhost = true;
            continue;
        }
        let value = it.next().ok_or_else(usage)?.clone();
        match flag.as_str() {
            "--qmp" => qmp = Some(value),
            "--netdev" => netdev = Some(value),
            "--tap" => tap = Some(value),
            "--queues" => queues = Some(value.parse::<usize>().map_err(|_| usage())?),
            _ => return Err(usage()),
        }
    }
    let (qmp, netdev, tap, queues) = (
        qmp.ok_or_else(usage)?,
        netdev.ok_or_else(usage)?,
        tap.ok_or_else(usage)?,
        queues.ok_or_else(usage)?,
    );
    if !valid_id(&netdev) {
        return Err(PlugError::Usage(format!("--netdev {netdev:?} is not a QEMU id")));
    }
    if queues == 0 || queues > MAX_QUEUES {
        return Err(PlugError::Usage(format!("--queues {queues}: 1 to {MAX_QUEUES}")));
    }
    let (netns, ifname) = tap.rsplit_once(':').ok_or_else(|| PlugError::Usage(format!("--tap {tap:?} is not NETNS:IFNAME")))?;
    if !netns.starts_with('/') || ifname.is_empty() || ifname.len() > 15 {
        return Err(PlugError::Usage(format!("--tap {tap:?} is not NETNS:IFNAME")));
    }
    Ok(Plan { qmp, netdev, netns: netns.into(), ifname: ifname.into(), queues, vhost })
}

struct Monitor {
    stream: UnixStream,
    replies: BufReader<UnixStream>,
}

impl Monitor {
    fn connect(path: &str) -> Result<Self, PlugError> {
        let os = |what: &str| {
            let what = format!("{what} {path}");
            move |source| PlugError::Os { what, source }
        };
        let stream = UnixStream::connect(path).map_err(os("connect to QMP at"))?;
        stream.set_read_timeout(Some(REPLY_TIMEOUT)).map_err(os("set a timeout on"))?;
        let replies = BufReader::new(stream.try_clone().map_err(os("clone the connection to"))?);
        let mut m = Monitor { stream, replies };
        m.line("the greeting")?;
        m.call("qmp_capabilities", "{\"execute\":\"qmp_capabilities\"}", None)?;
        Ok(m)
    }

    /// Gives QEMU each descriptor by `getfd`, named `<netdev>-<prefix><n>`; the names.
    fn give(&mut self, netdev: &str, prefix: &str, fds: &[OwnedFd]) -> Result<Vec<String>, PlugError> {
        let mut names = Vec::new();
        for (n, fd) in fds.iter().enumerate() {
            let name = format!("{netdev}-{prefix}{n}");
            let json = format!("{{\"execute\":\"getfd\",\"arguments\":{{\"fdname\":\"{name}\"}}}}");
            self.call("getfd", &json, Some(fd))?;
            names.push(name);
        }
        Ok(names)
    }

    /// One reply line, bounded.
    fn line(&mut self, what: &str) -> Result<serde_json::Value, PlugError> {
        let mut line = Vec::new();
        let read = (&mut self.replies).take(MAX_REPLY).read_until(b'\n', &mut line);
        match read {
            Ok(0) => Err(PlugError::BadReply(format!("{what} (the connection closed)"))),
            Ok(_) if line.last() != Some(&b'\n') => Err(PlugError::BadReply(format!("{what} (too long)"))),
            Ok(_) => serde_json::from_slice(&line).map_err(|_| PlugError::BadReply(what.into())),
            Err(source) => Err(PlugError::Os { what: format!("read QEMU's reply to {what}"), source }),
        }
    }

    /// Sends `json` (with `fd` as SCM_RIGHTS, when given) and waits for its reply, skipping events.
    fn call(&mut self, command: &str, json: &str, fd: Option<&OwnedFd>) -> Result<(), PlugError> {
        let line = format!("{json}\n");
        match fd {
            Some(fd) => send_with_fd(&self.stream, line.as_bytes(), fd),
            None => self.stream.write_all(line.as_bytes()),
        }
        .map_err(|source| PlugError::Os { what: format!("send {command} to QEMU"), source })?;
        loop {
            let reply = self.line(command)?;
            if reply.get("event").is_some() {
                continue;
            }
            if reply.get("return").is_some() {
                return Ok(());
            }
            let desc = reply.pointer("/error/desc").and_then(|d| d.as_str());
            return match desc {
                Some(d) => Err(PlugError::Refused { command: command.into(), desc: d.chars().take(512).collect() }),
                None => Err(PlugError::BadReply(command.into())),
            };
        }
    }
}

/// One sendmsg carrying `bytes` and `fd` (SCM_RIGHTS).
fn send_with_fd(stream: &UnixStream, bytes: &[u8], fd: &OwnedFd) -> io::Result<()> {
    let raw = fd.as_raw_fd();
    // SAFETY: CMSG_SPACE only computes a size.
    let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<libc::c_int>() as u32) } as usize;
    let mut control = vec![0u8; space];
    let mut iov = libc::iovec { iov_base: bytes.as_ptr() as *mut libc::c_void, iov_len: bytes.len() };
    // SAFETY: msghdr is plain old data, for which all zeroes is a valid value.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr() as *mut libc::c_void;
    msg.msg_controllen = space;
    // SAFETY: msg_control points at `space` bytes, room for one header and one int.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<libc::c_int>() as u32) as usize;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg) as *mut libc::c_int, raw);
    }
    // SAFETY: msg describes live buffers for the length of the call.
    let sent = unsafe { libc::sendmsg(stream.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    // The control message went with the first byte; the rest is plain.
    let mut s = stream;
    s.write_all(&bytes[sent as usize..])
}

pub fn run(p: &Plan) -> Result<(), PlugError> {
    let fds = (0..p.queues)
        .map(|_| jail::tap(&p.netns, &p.ifname, p.queues > 1))
        .collect::<Result<Vec<_>, _>>()?;
    let vhost_fds = if p.vhost {
        (0..p.queues)
            .map(|_| {
                std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(VHOST_NET)
                    .map(OwnedFd::from)
                    .map_err(|source| PlugError::Os { what: format!("open {VHOST_NET}"), source })
            })
            .collect::<Result<Vec<_>, _>>()?
    } else {
        Vec::new()
    };
    let mut m = Monitor::connect(&p.qmp)?;
    let names = m.give(&p.netdev, "q", &fds)?;
    let vhost = if p.vhost {
        format!("\"vhost\":true,\"vhostfds\":\"{}\"", m.give(&p.netdev, "v", &vhost_fds)?.join(":"))
    } else {
        "\"vhost\":false".to_string()
    };
    let json = format!(
        "{{\"execute\":\"netdev_add\",\"arguments\":{{\"type\":\"tap\",\"id\":\"{}\",\"fds\":\"{}\",{vhost}}}}}",
        p.netdev,
        names.join(":")
    );
    m.call("netdev_add", &json, None)
}

/// The host kernel's virtio-net backend.
const VHOST_NET: &str = "/dev/vhost-net";

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    /// A monitor whose QEMU is the other end of a socket pair, played by the test.
    fn monitor() -> (Monitor, UnixStream) {
        let (ours, theirs) = UnixStream::pair().unwrap();
        let replies = BufReader::new(ours.try_clone().unwrap());
        (Monitor { stream: ours, replies }, theirs)
    }

    #[test]
    fn a_hostile_qemu_gets_bounded_reads_and_errors_named() {
        // A reply line past the bound is refused, not buffered without end.
        let (mut m, mut qemu) = monitor();
        qemu.write_all(&vec![b'x'; (MAX_REPLY as usize) + 10]).unwrap();
        assert!(matches!(m.line("getfd"), Err(PlugError::BadReply(w)) if w.contains("too long")));
        // An error reply is reported with QEMU's description; events before it are skipped.
        let (mut m, mut qemu) = monitor();
        qemu.write_all(b"{\"event\":\"X\"}\n{\"error\":{\"class\":\"GenericError\",\"desc\":\"no such fd\"}}\n").unwrap();
        assert!(matches!(m.call("netdev_add", "{}", None), Err(PlugError::Refused { desc, .. }) if desc == "no such fd"));
        // Not JSON, or neither return nor error: refused.
        let (mut m, mut qemu) = monitor();
        qemu.write_all(b"garbage\n").unwrap();
        assert!(matches!(m.call("getfd", "{}", None), Err(PlugError::BadReply(_))));
        let (mut m, mut qemu) = monitor();
        qemu.write_all(b"{\"what\":1}\n").unwrap();
        assert!(matches!(m.call("getfd", "{}", None), Err(PlugError::BadReply(_))));
    }

    #[test]
    fn parses_and_refuses_by_name() {
        let p = parse(&args("--qmp /r/qmp.sock --netdev net1 --tap /proc/7/ns/net:tap1_hako --queues 2")).unwrap();
        assert_eq!((p.netns.as_str(), p.ifname.as_str(), p.queues, p.vhost), ("/proc/7/ns/net", "tap1_hako", 2, false));
        assert!(parse(&args("--vhost --qmp /q --netdev n --tap /n:t --queues 1")).unwrap().vhost);
        for bad in [
            "--qmp /q --netdev Net1 --tap /n:t --queues 1",
            "--qmp /q --netdev n\" --tap /n:t --queues 1",
            "--qmp /q --netdev n --tap rel:t --queues 1",
            "--qmp /q --netdev n --tap /n:t --queues 0",
            "--qmp /q --netdev n --tap /n:t --queues 65",
            "--qmp /q --netdev n --tap /n:t",
        ] {
            assert!(parse(&args(bad)).is_err(), "{bad}");
        }
    }
}
