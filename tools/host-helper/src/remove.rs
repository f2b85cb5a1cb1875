//! Removing a tree beneath a root without ever following a link or
//! entering a mount point. Each directory is opened from its parent's
//! descriptor with RESOLVE_NO_XDEV as well, so a directory that is a mount
//! point (a container's rootfs or volume still mounted) stops the removal
//! with an error instead of emptying what is mounted there. Links are
//! removed as links.
use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use thiserror::Error;

use crate::beneath::{components, PathError, Root, CONFINED};
use crate::sys::{lstat_at, openat2, tolerating, RESOLVE_NO_XDEV};

/// Deeper than any tree Hako makes; a guard against unbounded recursion.
const MAX_DEPTH: usize = 256;

#[derive(Debug, Error)]
pub enum RemoveError {
    #[error(transparent)]
    Path(#[from] PathError),
    #[error("{0} is a mount point: not removed")]
    MountPoint(String),
    #[error("{0}: deeper than {MAX_DEPTH} levels: not removed")]
    TooDeep(String),
}

/// Removes `path` (a file, link or directory tree) beneath `root`; absent is fine.
pub fn remove(root: &Root, path: &str) -> Result<(), RemoveError> {
    let parts = components(path)?;
    let (name, parents) = parts.split_last().ok_or_else(|| PathError::NotRelative(path.to_string()))?;
    let parent: Option<OwnedFd> = if parents.is_empty() {
        None
    } else {
        let dir = parents.join("/");
        match openat2(root.fd(), &dir, libc::O_DIRECTORY | libc::O_RDONLY | libc::O_NOFOLLOW, 0, CONFINED) {
            Ok(fd) => Some(fd),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(()),
            Err(e) => return Err(PathError::io(&dir, e).into()),
        }
    };
    let dir = parent.as_ref().map_or(root.fd(), |d| d.as_fd());
    remove_entry(dir, name, path, 0)
}

fn cname(name: &str, shown: &str) -> Result<CString, PathError> {
    CString::new(name).map_err(|_| PathError::NotRelative(shown.to_string()))
}

fn unlink_at(dir: BorrowedFd<'_>, name: &CStr, flags: i32) -> io::Result<()> {
    // SAFETY: name is a valid C string; unlinkat only reads it.
    tolerating(unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), flags) }, libc::ENOENT)
}

/// The names in the open directory `dir` (but `.` and `..`).
fn names(dir: &OwnedFd) -> io::Result<Vec<CString>> {
    // fdopendir takes the descriptor over: give it a duplicate.
    // SAFETY: dup of a descriptor we own.
    let dup = unsafe { libc::fcntl(dir.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 0) };
    if dup < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: dup is a fresh descriptor of a directory; on success the
    // stream owns it and closedir below closes it.
    let stream = unsafe { libc::fdopendir(dup) };
    if stream.is_null() {
        let e = io::Error::last_os_error();
        // SAFETY: fdopendir failed, so dup is still ours to close.
        unsafe { libc::close(dup) };
        return Err(e);
    }
    let mut out = vec![];
    loop {
        // SAFETY: stream is a valid, open directory stream.
        let ent = unsafe { libc::readdir(stream) };
        if ent.is_null() {
            break;
        }
        // SAFETY: readdir returned a valid dirent whose d_name is NUL-terminated.
        let name = unsafe { CStr::from_ptr((*ent).d_name.as_ptr()) };
        let bytes = name.to_bytes();
        if bytes != b"." && bytes != b".." {
            out.push(name.to_owned());
        }
    }
    // SAFETY: stream is valid and closed exactly once.
    unsafe { libc::closedir(stream) };
    Ok(out)
}

fn remove_entry(dir: BorrowedFd<'_>, name: &str, shown: &str, depth: usize) -> Result<(), RemoveError> {
    if depth > MAX_DEPTH {
        return Err(RemoveError::TooDeep(shown.to_string()));
    }
    let c = cname(name, shown)?;
    let Some(st) = lstat_at(dir, &c).map_err(|e| PathError::io(shown, e))? else { return Ok(()) };
    if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
        return unlink_at(dir, &c, 0).map_err(|e| PathError::io(shown, e).into());
    }
    let flags = libc::O_DIRECTORY | libc::O_RDONLY | libc::O_NOFOLLOW;
    let sub = match openat2(dir, name, flags, 0, CONFINED | RESOLVE_NO_XDEV) {
        Ok(fd) => fd,
        Err(e) if e.raw_os_error() == Some(libc::EXDEV) => return Err(RemoveError::MountPoint(shown.to_string())),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(()),
        Err(e) => return Err(PathError::io(shown, e).into()),
    };
    for child in names(&sub).map_err(|e| PathError::io(shown, e))? {
        let child = child.to_str().map_err(|_| PathError::NotRelative(format!("{shown}/<non-UTF-8 name>")))?;
        remove_entry(sub.as_fd(), child, &format!("{shown}/{child}"), depth + 1)?;
    }
    unlink_at(dir, &c, libc::AT_REMOVEDIR).map_err(|e| PathError::io(shown, e).into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tmp(tag: &str) -> std::path::PathBuf {
        let p = std::env::temp_dir().join(format!("hako-rm-test-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir(&p).unwrap();
        p
    }

    #[test]
    fn removes_a_tree_and_only_the_links_out_of_it() {
        let root_dir = tmp("a");
        let outside = tmp("b");
        std::fs::write(outside.join("keep"), "x").unwrap();
        std::fs::create_dir_all(root_dir.join("t/d/e")).unwrap();
        std::fs::write(root_dir.join("t/d/f"), "y").unwrap();
        symlink(&outside, root_dir.join("t/out")).unwrap();
        symlink(outside.join("keep"), root_dir.join("t/d/e/keep")).unwrap();
        let root = Root::open(root_dir.to_str().unwrap()).unwrap();
        remove(&root, "t").unwrap();
        assert!(!root_dir.join("t").exists());
        assert!(outside.join("keep").exists(), "a link's target is never removed");
        remove(&root, "t").unwrap();
        remove(&root, "nothing/here").unwrap();
        // A parent that is a link is refused, not followed.
        symlink(&outside, root_dir.join("l")).unwrap();
        assert!(remove(&root, "l/keep").is_err());
        assert!(outside.join("keep").exists());
        std::fs::remove_dir_all(&root_dir).unwrap();
        std::fs::remove_dir_all(&outside).unwrap();
    }
}
