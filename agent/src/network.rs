//! The sandbox's network: the guest's own network namespace, which the
//! containers given their pod's namespace stay in (spec.rs). Its `lo` must be
//! up, as it is in any namespace crun makes, and the `net.*` sysctls those
//! containers ask for are set here.
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::error::AgentError;

fn step(what: &str) -> impl FnOnce(io::Error) -> io::Error + '_ {
    move |e| io::Error::new(e.kind(), format!("set lo up: {what}: {e}"))
}

/// Sets `lo` up (IFF_UP), as `ip link set lo up` does.
pub fn loopback_up() -> io::Result<()> {
    // SAFETY: socket() has no memory arguments; a negative result is checked.
    let raw = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(step("socket")(io::Error::last_os_error()));
    }
    // SAFETY: socket() just returned this descriptor and nothing else owns it.
    let sock = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: ifreq is plain old data, for which all zeroes is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: both ioctls read and write only `req`, an ifreq as they expect.
    unsafe {
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) < 0 {
            return Err(step("SIOCGIFFLAGS")(io::Error::last_os_error()));
        }
        req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) < 0 {
            return Err(step("SIOCSIFFLAGS")(io::Error::last_os_error()));
        }
    }
    Ok(())
}

/// Sets `net.*` sysctls (names checked by spec.rs) in the guest's namespace,
/// which is the sandbox's network. Every file is opened before any is
/// written, so that a name this kernel lacks changes nothing. They stay set
/// if the container's creation fails later: they are the pod's, and the VM
/// is the pod's alone.
pub fn set_sysctls(sysctls: &[(String, String)]) -> Result<(), AgentError> {
    use std::io::Write;
    let fail = |key: &str, e: std::io::Error| AgentError::InvalidArgument(format!("sysctl {key} in the sandbox's network: {e}"));
    let mut files = Vec::with_capacity(sysctls.len());
    for (key, value) in sysctls {
        let path = crate::spec::sysctl_path(key)
            .ok_or_else(|| fail(key, std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a sysctl name")))?;
        let file = std::fs::OpenOptions::new().write(true).open(&path).map_err(|e| fail(key, e))?;
        files.push((key, value, file));
    }
    for (key, value, mut file) in files {
        file.write_all(value.as_bytes()).map_err(|e| fail(key, e))?;
    }
    Ok(())
}
