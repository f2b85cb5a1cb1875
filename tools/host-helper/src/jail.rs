//! `exec`: starts a host process (QEMU, virtiofsd) confined. As root it
//! first opens what the process needs and could not open itself once
//! confined (listening and connected Unix sockets, files, a queue of a tap
//! in a pod's network namespace), as descriptors
//! of fixed numbers, and marks every other descriptor it inherited
//! close-on-exec; then joins the sandbox's cgroups, limits core dumps,
//! optionally leaves the host's network, IPC and mount namespaces (with
//! private, empty /tmp, /var/tmp and /dev/shm), narrows the capability
//! bounding set, switches to the given uid/gid with no supplementary groups
//! but the given ones, asks for SIGKILL when its parent dies (after the uid
//! switch, which clears that request), sets no_new_privs, and executes the
//! program in its place (same pid).
use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use thiserror::Error;

#[derive(Debug, Error)]
pub enum JailError {
    #[error("usage: {0}")]
    Usage(String),
    #[error("{what}: {source}")]
    Os { what: String, source: io::Error },
}

fn os(what: impl Into<String>) -> impl FnOnce(io::Error) -> JailError {
    let what = what.into();
    move |source| JailError::Os { what, source }
}

fn check(r: libc::c_int, what: &str) -> Result<(), JailError> {
    if r < 0 {
        Err(JailError::Os { what: what.to_string(), source: io::Error::last_os_error() })
    } else {
        Ok(())
    }
}

/// Capability names (without `cap_`) and numbers, from linux/capability.h.
const CAPS: [(&str, u32); 41] = [
    ("chown", 0),
    ("dac_override", 1),
    ("dac_read_search", 2),
    ("fowner", 3),
    ("fsetid", 4),
    ("kill", 5),
    ("setgid", 6),
    ("setuid", 7),
    ("setpcap", 8),
    ("linux_immutable", 9),
    ("net_bind_service", 10),
    ("net_broadcast", 11),
    ("net_admin", 12),
    ("net_raw", 13),
    ("ipc_lock", 14),
    ("ipc_owner", 15),
    ("sys_module", 16),
    ("sys_rawio", 17),
    ("sys_chroot", 18),
    ("sys_ptrace", 19),
    ("sys_pacct", 20),
    ("sys_admin", 21),
    ("sys_boot", 22),
    ("sys_nice", 23),
    ("sys_resource", 24),
    ("sys_time", 25),
    ("sys_tty_config", 26),
    ("mknod", 27),
    ("lease", 28),
    ("audit_write", 29),
    ("audit_control", 30),
    ("setfcap", 31),
    ("mac_override", 32),
    ("mac_admin", 33),
    ("syslog", 34),
    ("wake_alarm", 35),
    ("block_suspend", 36),
    ("audit_read", 37),
    ("perfmon", 38),
    ("bpf", 39),
    ("checkpoint_restore", 40),
];

/// A descriptor the confined process gets, made before it is confined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Passed {
    /// A listening Unix socket bound at the path (mode 0600, root's).
    Listen(String),
    /// A Unix socket connected to the path.
    Connect(String),
    /// A file opened read-only, write-only (created, truncated) or read-write.
    Open(String, Access),
    /// A queue of the tap device named, in the network namespace at the
    /// path (a pod's): the VMM needs neither that namespace nor CAP_NET_ADMIN.
    Tap { netns: String, ifname: String, multi_queue: bool },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
    ReadWrite,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub groups: Vec<u32>,
    /// The capabilities kept in the bounding set; None keeps them all.
    pub keep_caps: Option<Vec<u32>>,
    pub no_new_privs: bool,
    /// The baseline seccomp filter (filter.rs); implies no_new_privs.
    pub seccomp: bool,
    pub pdeathsig: bool,
    pub no_core: bool,
    /// New network, IPC and mount namespaces (a VMM needs none of the host's).
    pub isolate: bool,
    pub cgroups: Vec<String>,
    pub fds: Vec<(i32, Passed)>,
    pub argv: Vec<String>,
}

fn number<T: std::str::FromStr>(flag: &str, v: &str) -> Result<T, JailError> {
    v.parse().map_err(|_| JailError::Usage(format!("{flag} takes a number, not {v:?}")))
}

fn cap_list(v: &str) -> Result<Vec<u32>, JailError> {
    if v == "none" {
        return Ok(vec![]);
    }
    v.split(',')
        .map(|name| {
            CAPS.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, c)| *c)
                .ok_or_else(|| JailError::Usage(format!("unknown capability {name:?}")))
        })
        .collect()
}

fn passed(flag: &str, v: &str) -> Result<(i32, Passed), JailError> {
    let (fd, rest) = v.split_once('=').ok_or_else(|| JailError::Usage(format!("{flag} takes FD=PATH")))?;
    let fd: i32 = number(flag, fd)?;
    if fd < 3 {
        return Err(JailError::Usage(format!("{flag}: descriptor {fd} is one of stdin, stdout, stderr")));
    }
    let p = match flag {
        "--listen" => Passed::Listen(rest.to_string()),
        "--connect" => Passed::Connect(rest.to_string()),
        "--tap" => {
            let (rest, multi_queue) = match rest.strip_suffix(":mq") {
                Some(r) => (r, true),
                None => (rest, false),
            };
            let (netns, ifname) = rest.rsplit_once(':').ok_or_else(|| JailError::Usage("--tap takes FD=NETNS:IFNAME[:mq]".into()))?;
            if ifname.is_empty() || ifname.len() > 15 || !netns.starts_with('/') {
                return Err(JailError::Usage(format!("--tap: {rest:?} is not NETNS:IFNAME")));
            }
            Passed::Tap { netns: netns.to_string(), ifname: ifname.to_string(), multi_queue }
        }
        _ => {
            let (path, mode) = rest.rsplit_once(':').ok_or_else(|| JailError::Usage("--open takes FD=PATH:r|w|rw".into()))?;
            let access = match mode {
                "r" => Access::Read,
                "w" => Access::Write,
                "rw" => Access::ReadWrite,
                _ => return Err(JailError::Usage(format!("--open: unknown access {mode:?}"))),
            };
            Passed::Open(path.to_string(), access)
        }
    };
    Ok((fd, p))
}

/// Parses `exec`'s arguments (everything after `exec`).
pub fn parse(args: &[String]) -> Result<Plan, JailError> {
    let mut plan = Plan::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |flag: &str| it.next().cloned().ok_or_else(|| JailError::Usage(format!("{flag} needs a value")));
        match a.as_str() {
            "--" => break,
            "--uid" => plan.uid = Some(number("--uid", &value("--uid")?)?),
            "--gid" => plan.gid = Some(number("--gid", &value("--gid")?)?),
            "--groups" => {
                plan.groups = value("--groups")?.split(',').map(|g| number("--groups", g)).collect::<Result<_, _>>()?
            }
            "--keep-caps" => plan.keep_caps = Some(cap_list(&value("--keep-caps")?)?),
            "--no-new-privs" => plan.no_new_privs = true,
            "--seccomp" => {
                plan.seccomp = true;
                plan.no_new_privs = true;
            }
            "--pdeathsig" => plan.pdeathsig = true,
            "--no-core" => plan.no_core = true,
            "--isolate" => plan.isolate = true,
            "--cgroup" => plan.cgroups.push(value("--cgroup")?),
            flag @ ("--listen" | "--connect" | "--open" | "--tap") => plan.fds.push(passed(flag, &value(flag)?)?),
            other => return Err(JailError::Usage(format!("unknown option {other:?}"))),
        }
    }
    plan.argv = it.cloned().collect();
    // -1 means "unchanged" to setresuid: it would leave the process root.
    if plan.uid == Some(u32::MAX) || plan.gid == Some(u32::MAX) {
        return Err(JailError::Usage("uid and gid 4294967295 are not ids".into()));
    }
    if plan.argv.is_empty() {
        return Err(JailError::Usage("exec [options] -- PROGRAM [ARGS…]".into()));
    }
    let mut seen = std::collections::HashSet::new();
    if let Some((fd, _)) = plan.fds.iter().find(|(fd, _)| !seen.insert(*fd)) {
        return Err(JailError::Usage(format!("descriptor {fd} is given twice")));
    }
    Ok(plan)
}

fn unix_socket() -> Result<OwnedFd, JailError> {
    // SAFETY: plain socket(2) call.
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    check(fd, "socket")?;
    // SAFETY: socket() just returned this descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn sockaddr(path: &str) -> Result<(libc::sockaddr_un, libc::socklen_t), JailError> {
    // SAFETY: an all-zero sockaddr_un is valid.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let bytes = path.as_bytes();
    if bytes.is_empty() || bytes.len() >= addr.sun_path.len() || bytes.contains(&0) {
        return Err(JailError::Usage(format!("socket path {path:?} is empty or too long")));
    }
    for (d, s) in addr.sun_path.iter_mut().zip(bytes) {
        *d = *s as libc::c_char;
    }
    let len = std::mem::size_of::<libc::sa_family_t>() + bytes.len() + 1;
    Ok((addr, len as libc::socklen_t))
}

fn listen(path: &str) -> Result<OwnedFd, JailError> {
    let fd = unix_socket()?;
    let (addr, len) = sockaddr(path)?;
    // A socket left by a killed start is in the way; only a socket is removed.
    if let Ok(m) = std::fs::symlink_metadata(path) {
        use std::os::unix::fs::FileTypeExt;
        if m.file_type().is_socket() {
            std::fs::remove_file(path).map_err(os(format!("remove stale socket {path}")))?;
        }
    }
    // Created 0600: nobody but root can connect, from the moment it exists.
    // SAFETY: umask only changes this (single-threaded) process's mask.
    let old = unsafe { libc::umask(0o177) };
    // SAFETY: addr/len describe a valid sockaddr_un.
    let r = unsafe { libc::bind(fd.as_raw_fd(), (&addr as *const libc::sockaddr_un).cast(), len) };
    // SAFETY: as above.
    unsafe { libc::umask(old) };
    check(r, &format!("bind {path}"))?;
    // SAFETY: plain listen(2) on our socket.
    check(unsafe { libc::listen(fd.as_raw_fd(), 16) }, &format!("listen on {path}"))?;
    Ok(fd)
}

/// How long a socket that exists may refuse connections: a daemon's socket
/// file appears at its bind(), a moment before its listen() (seen with
/// virtiofsd, whose socket the runtime waits for by its path).
const LISTEN_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

fn connect(path: &str) -> Result<OwnedFd, JailError> {
    let (addr, len) = sockaddr(path)?;
    let deadline = std::time::Instant::now() + LISTEN_WAIT;
    loop {
        let fd = unix_socket()?;
        // SAFETY: addr/len describe a valid sockaddr_un.
        let r = unsafe { libc::connect(fd.as_raw_fd(), (&addr as *const libc::sockaddr_un).cast(), len) };
        if r == 0 {
            return Ok(fd);
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::ECONNREFUSED) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
            continue;
        }
        return Err(JailError::Os { what: format!("connect to {path}"), source: e });
    }
}

fn open(path: &str, access: Access) -> Result<OwnedFd, JailError> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut o = std::fs::OpenOptions::new();
    match access {
        Access::Read => o.read(true),
        Access::Write => o.write(true).create(true).truncate(true).mode(0o600),
        Access::ReadWrite => o.read(true).write(true),
    };
    let f = o.custom_flags(libc::O_NOFOLLOW).open(path).map_err(os(format!("open {path}")))?;
    Ok(OwnedFd::from(f))
}

// From linux/if_tun.h.
const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
const IFF_TAP: libc::c_short = 0x0002;
const IFF_NO_PI: libc::c_short = 0x1000;
const IFF_VNET_HDR: libc::c_short = 0x4000;
const IFF_MULTI_QUEUE: libc::c_short = 0x0100;

pub fn open_ns(path: &str) -> Result<OwnedFd, JailError> {
    let f = std::fs::File::open(path).map_err(os(format!("open {path}")))?;
    Ok(OwnedFd::from(f))
}

pub fn enter_net(ns: &OwnedFd, what: &str) -> Result<(), JailError> {
    // SAFETY: setns on a namespace descriptor we own.
    check(unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) }, what)
}

/// Opens a queue of tap `ifname` in the network namespace at `netns`, then
/// comes back to this process's own namespace.
pub fn tap(netns: &str, ifname: &str, multi_queue: bool) -> Result<OwnedFd, JailError> {
    let own = open_ns("/proc/self/ns/net")?;
    let pod = open_ns(netns)?;
    enter_net(&pod, &format!("enter the network namespace {netns}"))?;
    let opened = (|| {
        let f = std::fs::OpenOptions::new().read(true).write(true).open("/dev/net/tun").map_err(os("open /dev/net/tun"))?;
        // SAFETY: ifreq is plain old data, for which all zeroes is a valid value.
        let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
        for (dst, src) in req.ifr_name.iter_mut().zip(ifname.bytes()) {
            *dst = src as libc::c_char;
        }
        req.ifr_ifru.ifru_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | if multi_queue { IFF_MULTI_QUEUE } else { 0 };
        // SAFETY: TUNSETIFF reads an ifreq, which `req` is.
        check(unsafe { libc::ioctl(f.as_raw_fd(), TUNSETIFF, &req) }, &format!("attach to tap {ifname} in {netns}"))?;
        Ok(OwnedFd::from(f))
    })();
    enter_net(&own, "come back to the helper's network namespace")?;
    opened
}

const SYS_CLOSE_RANGE: libc::c_long = 436;
const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;

/// Marks every descriptor from 3 up close-on-exec: what this process
/// inherited (a caller's pipes, its sockets) must not reach the program.
fn cloexec_all() -> Result<(), JailError> {
    // SAFETY: close_range with the CLOEXEC flag only sets flags on descriptors.
    let r = unsafe { libc::syscall(SYS_CLOSE_RANGE, 3 as libc::c_uint, libc::c_uint::MAX, CLOSE_RANGE_CLOEXEC) };
    if r == 0 {
        return Ok(());
    }
    // Older kernels: one by one.
    for entry in std::fs::read_dir("/proc/self/fd").map_err(os("list descriptors"))? {
        let fd: i32 = match entry.map(|e| e.file_name().to_string_lossy().parse()) {
            Ok(Ok(fd)) if fd >= 3 => fd,
            _ => continue,
        };
        // SAFETY: setting FD_CLOEXEC on a descriptor number; a stale one fails harmlessly.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    Ok(())
}

/// Leaves the host's network, IPC and mount namespaces. The new mount
/// namespace is private, and /tmp, /var/tmp and /dev/shm are empty tmpfs
/// of its own: nothing it writes there outlives it or reaches another.
fn isolate() -> Result<(), JailError> {
    // SAFETY: unshare with namespace flags only.
    check(unsafe { libc::unshare(libc::CLONE_NEWNET | libc::CLONE_NEWIPC | libc::CLONE_NEWNS) }, "unshare")?;
    let root = CString::new("/").map_err(|_| JailError::Usage("/".into()))?;
    // SAFETY: a propagation change of "/" with null source, type and data.
    let r = unsafe {
        libc::mount(std::ptr::null(), root.as_ptr(), std::ptr::null(), libc::MS_REC | libc::MS_PRIVATE, std::ptr::null())
    };
    check(r, "make the mounts private")?;
    let tmpfs = CString::new("tmpfs").map_err(|_| JailError::Usage("tmpfs".into()))?;
    let data = CString::new("mode=1777,size=16m").map_err(|_| JailError::Usage("data".into()))?;
    for dir in ["/tmp", "/var/tmp", "/dev/shm"] {
        if !std::path::Path::new(dir).is_dir() {
            continue;
        }
        let target = CString::new(dir).map_err(|_| JailError::Usage(dir.into()))?;
        let flags = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
        // SAFETY: all pointers are valid C strings that outlive the call.
        let r = unsafe { libc::mount(tmpfs.as_ptr(), target.as_ptr(), tmpfs.as_ptr(), flags, data.as_ptr().cast()) };
        check(r, &format!("mount a tmpfs on {dir}"))?;
    }
    Ok(())
}

/// Makes every passed descriptor and puts each at its number.
fn pass_fds(fds: &[(i32, Passed)]) -> Result<(), JailError> {
    let mut made = vec![];
    for (target, p) in fds {
        let fd = match p {
            Passed::Listen(path) => listen(path)?,
            Passed::Connect(path) => connect(path)?,
            Passed::Open(path, access) => open(path, *access)?,
            Passed::Tap { netns, ifname, multi_queue } => tap(netns, ifname, *multi_queue)?,
        };
        // Out of the way of every target number first.
        // SAFETY: duplicating a descriptor we own.
        let high = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 1000) };
        check(high, "dup")?;
        drop(fd);
        made.push((*target, high));
    }
    // Before the dup2s below, which clear the flag on the numbers passed.
    cloexec_all()?;
    for (target, high) in made {
        // SAFETY: dup2 onto a chosen number; it clears close-on-exec there.
        check(unsafe { libc::dup2(high, target) }, "dup2")?;
        // SAFETY: high is ours and no longer needed.
        unsafe { libc::close(high) };
    }
    Ok(())
}

fn last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40)
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const CAP_V3: u32 = 0x2008_0522;

/// Drops every capability not in `keep` from the bounding set, and empties
/// the inheritable and ambient sets, so that what the program runs with
/// after exec is `keep` at most.
fn narrow_caps(keep: &[u32]) -> Result<(), JailError> {
    for cap in 0..=last_cap() {
        if !keep.contains(&cap) {
            // SAFETY: prctl with integer arguments only.
            let r = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) };
            // EINVAL: a capability this kernel does not know.
            if r < 0 && io::Error::last_os_error().raw_os_error() != Some(libc::EINVAL) {
                return Err(JailError::Os { what: format!("drop capability {cap}"), source: io::Error::last_os_error() });
            }
        }
    }
    // SAFETY: prctl with integer arguments only.
    let r = unsafe { libc::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong, 0, 0, 0) };
    check(r, "clear ambient capabilities")?;
    let mut header = CapHeader { version: CAP_V3, pid: 0 };
    let mut data = [CapData::default(); 2];
    // SAFETY: header and data are valid capget buffers of the v3 layout.
    check(unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) } as i32, "capget")?;
    for d in &mut data {
        d.inheritable = 0;
    }
    // SAFETY: as above, for capset.
    check(unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) } as i32, "capset")
}

/// Gives up every capability this process has, for good (no exec follows:
/// the effective and permitted sets go, and the bounding set with them).
pub fn drop_all_caps() -> Result<(), JailError> {
    narrow_caps(&[])?;
    let mut header = CapHeader { version: CAP_V3, pid: 0 };
    let data = [CapData::default(); 2];
    // SAFETY: header and data are valid capset buffers of the v3 layout.
    check(unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) } as i32, "capset")?;
    // SAFETY: prctl with integer arguments only.
    check(unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) }, "no_new_privs")
}

fn join_cgroup(dir: &str) -> Result<(), JailError> {
    let path = format!("{dir}/cgroup.procs");
    std::fs::write(&path, b"0").map_err(os(format!("join cgroup {dir}")))
}

/// Confines this process as `plan` says, then executes its program.
pub fn run(plan: &Plan) -> Result<std::convert::Infallible, JailError> {
    // SAFETY: getppid has no preconditions.
    let parent = unsafe { libc::getppid() };
    pass_fds(&plan.fds)?;
    for dir in &plan.cgroups {
        join_cgroup(dir)?;
    }
    if plan.isolate {
        isolate()?;
    }
    if plan.no_core {
        let zero = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: setrlimit reads a valid rlimit.
        check(unsafe { libc::setrlimit(libc::RLIMIT_CORE, &zero) }, "limit core dumps")?;
    }
    if let Some(keep) = &plan.keep_caps {
        narrow_caps(keep)?;
    }
    if plan.uid.is_some() || plan.gid.is_some() {
        let groups: Vec<libc::gid_t> = plan.groups.clone();
        // SAFETY: setgroups reads `groups.len()` gids from a valid slice.
        check(unsafe { libc::setgroups(groups.len(), groups.as_ptr()) }, "setgroups")?;
    }
    if let Some(gid) = plan.gid {
        // SAFETY: plain setresgid.
        check(unsafe { libc::setresgid(gid, gid, gid) }, "setgid")?;
    }
    if let Some(uid) = plan.uid {
        // SAFETY: plain setresuid.
        check(unsafe { libc::setresuid(uid, uid, uid) }, "setuid")?;
    }
    if plan.pdeathsig {
        // After the uid switch, which clears it.
        // SAFETY: prctl with integer arguments only.
        check(unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0) }, "pdeathsig")?;
        // SAFETY: getppid has no preconditions.
        if unsafe { libc::getppid() } != parent {
            return Err(JailError::Os { what: "the parent died before the start".into(), source: io::Error::from_raw_os_error(libc::ESRCH) });
        }
    }
    if plan.no_new_privs {
        // SAFETY: prctl with integer arguments only.
        check(unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) }, "no_new_privs")?;
    }
    std::env::set_current_dir("/").map_err(os("chdir /"))?;
    if plan.seccomp {
        // Last: it refuses calls made above (setgroups is not among them, but
        // nothing after this point needs more than exec).
        crate::filter::install().map_err(os("install the seccomp filter"))?;
    }
    let argv: Vec<CString> = plan
        .argv
        .iter()
        .map(|a| CString::new(a.as_str()).map_err(|_| JailError::Usage(format!("argument {a:?} holds a NUL byte"))))
        .collect::<Result<_, _>>()?;
    let mut ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    // SAFETY: ptrs is a NULL-terminated array of valid C strings that
    // outlive the call (execvp only returns on failure).
    unsafe { libc::execvp(ptrs[0], ptrs.as_ptr()) };
    Err(JailError::Os { what: format!("execute {}", plan.argv[0]), source: io::Error::last_os_error() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split(' ').map(String::from).collect()
    }

    #[test]
    fn parses_a_full_plan() {
        let p = parse(&args(
            "--uid 2000000001 --gid 2000000001 --keep-caps none --no-new-privs --pdeathsig --no-core --cgroup /c/a --cgroup /c/b --listen 3=/r/q.sock --connect 4=/r/fs.sock --open 5=/t/state:r -- qemu -S",
        ))
        .unwrap();
        assert_eq!(p.uid, Some(2_000_000_001));
        assert_eq!(p.keep_caps, Some(vec![]));
        assert_eq!(p.cgroups, vec!["/c/a", "/c/b"]);
        assert_eq!(p.fds[2], (5, Passed::Open("/t/state".into(), Access::Read)));
        assert_eq!(p.argv, vec!["qemu", "-S"]);
        let caps = parse(&args("--keep-caps chown,sys_admin -- x")).unwrap();
        assert_eq!(caps.keep_caps, Some(vec![0, 21]));
    }

    #[test]
    fn refuses_bad_plans() {
        for bad in ["--uid 4294967295 -- a", "--uid x -- a", "--keep-caps nope -- a", "--open 2=/x:r -- a", "--listen 3=/a --listen 3=/b -- a", "--uid 1", "--bogus -- a"] {
            assert!(parse(&args(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn passes_descriptors_at_their_numbers() {
        let dir = std::env::temp_dir().join(format!("hako-jail-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("f");
        std::fs::write(&f, "x").unwrap();
        // A child, so that descriptor numbers of the test process are not disturbed.
        // SAFETY: fork in a test; the child only calls async-signal-safe-enough code and exits.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            let ok = pass_fds(&[(40, Passed::Open(f.to_str().unwrap().into(), Access::Read))]).is_ok();
            let mut buf = [0u8; 1];
            // SAFETY: reading one byte from the passed descriptor.
            let n = unsafe { libc::read(40, buf.as_mut_ptr().cast(), 1) };
            // SAFETY: leaving the child at once.
            unsafe { libc::_exit(if ok && n == 1 && buf[0] == b'x' { 0 } else { 1 }) };
        }
        let mut status = 0;
        // SAFETY: waiting for our own child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        assert_eq!(status, 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn connect_waits_for_a_socket_bound_but_not_yet_listening() {
        let dir = std::env::temp_dir().join(format!("hk-listen-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.sock");
        let p = path.to_str().unwrap().to_string();
        // Bound, not listening: what virtiofsd's socket is for a moment.
        let fd = unix_socket().unwrap();
        let (addr, len) = sockaddr(&p).unwrap();
        // SAFETY: addr/len describe a valid sockaddr_un.
        assert_eq!(unsafe { libc::bind(fd.as_raw_fd(), (&addr as *const libc::sockaddr_un).cast(), len) }, 0);
        let raw = fd.as_raw_fd();
        let listener = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(100));
            // SAFETY: listen(2) on the bound socket, which `fd` keeps open.
            assert_eq!(unsafe { libc::listen(raw, 1) }, 0);
            fd
        });
        assert!(connect(&p).is_ok());
        drop(listener.join().unwrap());
        // Nothing listens any more: refused, after the wait.
        let t = std::time::Instant::now();
        assert!(connect(&p).is_err());
        assert!(t.elapsed() >= LISTEN_WAIT);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
