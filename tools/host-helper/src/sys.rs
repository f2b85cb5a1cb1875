//! The few Linux calls this helper needs that neither std nor the libc crate
//! wraps: openat2 (5.6), open_tree / move_mount (5.2) and mount_setattr
//! (5.12). Numbers and layouts are the kernel's x86-64 ABI.
use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

const SYS_OPEN_TREE: libc::c_long = 428;
const SYS_MOVE_MOUNT: libc::c_long = 429;
const SYS_OPENAT2: libc::c_long = 437;
const SYS_MOUNT_SETATTR: libc::c_long = 442;

pub const RESOLVE_NO_XDEV: u64 = 0x01;
pub const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
pub const RESOLVE_NO_SYMLINKS: u64 = 0x04;
pub const RESOLVE_BENEATH: u64 = 0x08;

const OPEN_TREE_CLONE: libc::c_uint = 1;
pub const AT_RECURSIVE: libc::c_uint = 0x8000;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x04;
const MOVE_MOUNT_T_EMPTY_PATH: libc::c_uint = 0x40;

pub const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub const MOUNT_ATTR_NODEV: u64 = 0x4;

/// Propagation types, as mount(2) names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Propagation {
    Private,
    Slave,
    Shared,
}

impl Propagation {
    fn bits(self) -> u64 {
        match self {
            Propagation::Private => libc::MS_PRIVATE,
            Propagation::Slave => libc::MS_SLAVE,
            Propagation::Shared => libc::MS_SHARED,
        }
    }
}

#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

fn cstr(path: &str) -> io::Result<CString> {
    CString::new(path).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path holds a NUL byte"))
}

fn fd_result(r: libc::c_long) -> io::Result<OwnedFd> {
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this descriptor; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(r as i32) })
}

fn unit_result(r: libc::c_long) -> io::Result<()> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// openat2(2): `path` resolved from `dir` under the `resolve` restrictions.
pub fn openat2(dir: BorrowedFd<'_>, path: &str, flags: i32, mode: u32, resolve: u64) -> io::Result<OwnedFd> {
    let p = cstr(path)?;
    let how = OpenHow { flags: (flags | libc::O_CLOEXEC) as u64, mode: u64::from(mode), resolve };
    // SAFETY: p is a valid C string and how a properly laid out open_how
    // whose size is passed along; the kernel reads both and writes nothing.
    let r = unsafe {
        libc::syscall(SYS_OPENAT2, dir.as_raw_fd(), p.as_ptr(), &how as *const OpenHow, std::mem::size_of::<OpenHow>())
    };
    fd_result(r)
}

/// open_tree(2) with OPEN_TREE_CLONE: a detached copy of the mount at `path`
/// (relative to `dir`; empty for `dir` itself), with its submounts when `recursive`.
pub fn clone_tree(dir: Option<BorrowedFd<'_>>, path: &str, recursive: bool) -> io::Result<OwnedFd> {
    let p = cstr(path)?;
    let mut flags = OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint;
    if recursive {
        flags |= AT_RECURSIVE;
    }
    if path.is_empty() {
        flags |= libc::AT_EMPTY_PATH as libc::c_uint;
    }
    let dirfd = dir.map_or(libc::AT_FDCWD, |d| d.as_raw_fd());
    // SAFETY: p is a valid C string; the call only reads it.
    let r = unsafe { libc::syscall(SYS_OPEN_TREE, dirfd, p.as_ptr(), flags) };
    fd_result(r)
}

/// move_mount(2) of the (detached) mount `from` onto the directory or file `to`.
pub fn attach(from: BorrowedFd<'_>, to: BorrowedFd<'_>) -> io::Result<()> {
    let empty = cstr("")?;
    let flags = MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH;
    // SAFETY: both paths are the same valid empty C string; the call only reads them.
    let r = unsafe {
        libc::syscall(SYS_MOVE_MOUNT, from.as_raw_fd(), empty.as_ptr(), to.as_raw_fd(), empty.as_ptr(), flags)
    };
    unit_result(r)
}

/// mount_setattr(2) on the mount `fd` refers to (and its submounts when `recursive`).
pub fn set_mount_attrs(fd: BorrowedFd<'_>, set: u64, propagation: Propagation, recursive: bool) -> io::Result<()> {
    let empty = cstr("")?;
    let attr = MountAttr { attr_set: set, attr_clr: 0, propagation: propagation.bits(), userns_fd: 0 };
    let mut flags = libc::AT_EMPTY_PATH as libc::c_uint;
    if recursive {
        flags |= AT_RECURSIVE;
    }
    // SAFETY: empty is a valid C string and attr a properly laid out
    // mount_attr whose size is passed along; the kernel only reads them.
    let r = unsafe {
        libc::syscall(
            SYS_MOUNT_SETATTR,
            fd.as_raw_fd(),
            empty.as_ptr(),
            flags,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    unit_result(r)
}

/// Lazily detaches the mount whose root `fd` refers to, with everything
/// below it. The path given to umount2 is the descriptor's magic link, so
/// nothing is looked up by name.
pub fn detach(fd: BorrowedFd<'_>) -> io::Result<()> {
    let p = cstr(&format!("/proc/self/fd/{}", fd.as_raw_fd()))?;
    // SAFETY: p is a valid C string; umount2 only reads it.
    let r = unsafe { libc::umount2(p.as_ptr(), libc::MNT_DETACH) };
    unit_result(libc::c_long::from(r))
}

/// A call that returned 0 or -1: its error, except `tolerated`, which counts
/// as success (EEXIST for a directory already there, ENOENT for one gone).
pub fn tolerating(r: libc::c_int, tolerated: i32) -> io::Result<()> {
    if r == 0 {
        return Ok(());
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() == Some(tolerated) {
        Ok(())
    } else {
        Err(e)
    }
}

/// fstatat without following a link; None when there is no such entry.
pub fn lstat_at(dir: BorrowedFd<'_>, name: &std::ffi::CStr) -> io::Result<Option<libc::stat>> {
    // SAFETY: an all-zero stat is a valid value for fstatat to overwrite.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: name is a valid C string and st a valid stat buffer.
    let r = unsafe { libc::fstatat(dir.as_raw_fd(), name.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) };
    if r == 0 {
        return Ok(Some(st));
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::ENOENT) {
        Ok(None)
    } else {
        Err(e)
    }
}
