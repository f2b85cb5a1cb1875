//! Paths inside a root directory, resolved so that nothing can lead out of
//! it: every lookup is openat2 with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
//! RESOLVE_NO_MAGICLINKS, from a descriptor of the root. A symlink planted
//! anywhere on the way is an error (ELOOP), never followed, and `..` cannot
//! climb out. Directories are made one component at a time, each opened
//! the same way before the next is made in it.
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use thiserror::Error;

use crate::sys::{lstat_at, openat2, tolerating, RESOLVE_BENEATH, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS};

pub const CONFINED: u64 = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;

#[derive(Debug, Error)]
pub enum PathError {
    #[error("{0:?} is not a plain relative path (no empty, '.' or '..' components, at most 4096 bytes)")]
    NotRelative(String),
    #[error("{path}: a symbolic link is in the way (refused, not followed)")]
    Symlink { path: String },
    #[error("{path}: {source}")]
    Io { path: String, source: io::Error },
}

impl PathError {
    pub fn io(path: &str, source: io::Error) -> PathError {
        if source.raw_os_error() == Some(libc::ELOOP) {
            return PathError::Symlink { path: path.to_string() };
        }
        PathError::Io { path: path.to_string(), source }
    }

    pub fn errno(&self) -> Option<i32> {
        match self {
            PathError::Io { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }
}

/// The components of a relative path, checked: no absolute paths, no
/// empty, `.` or `..` components.
pub fn components(path: &str) -> Result<Vec<&str>, PathError> {
    let bad = || PathError::NotRelative(path.to_string());
    if path.is_empty() || path.len() > 4096 || path.starts_with('/') || path.contains('\0') {
        return Err(bad());
    }
    let parts: Vec<&str> = path.split('/').collect();
    if parts.iter().any(|c| c.is_empty() || *c == "." || *c == "..") {
        return Err(bad());
    }
    Ok(parts)
}

/// A directory that paths are confined to.
/// The mode of the staging directories the helper makes: search but no
/// listing for others. A container with a user namespace is set up by crun
/// as a user the guest does not map to root, and must still traverse the
/// path to its rootfs and volumes; the sandbox directory above (0700) keeps
/// the host's other users out.
pub const STAGING_DIR_MODE: u32 = 0o711;

pub struct Root {
    fd: OwnedFd,
}

impl Root {
    /// Opens the root itself by its absolute path. The caller chose it
    /// (a sandbox directory of ours), so its own path may be followed.
    pub fn open(path: &str) -> Result<Root, PathError> {
        if !path.starts_with('/') {
            return Err(PathError::NotRelative(path.to_string()));
        }
        let cwd = unsafe_cwd();
        let fd = openat2(cwd, path, libc::O_PATH | libc::O_DIRECTORY, 0, 0).map_err(|e| PathError::io(path, e))?;
        Ok(Root { fd })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Opens `path` beneath the root with `flags` (O_PATH, O_DIRECTORY…).
    /// A link as the last component is refused too (O_PATH|O_NOFOLLOW would
    /// open the link itself).
    pub fn open_beneath(&self, path: &str, flags: i32) -> Result<OwnedFd, PathError> {
        components(path)?;
        let fd = openat2(self.fd(), path, flags | libc::O_NOFOLLOW, 0, CONFINED).map_err(|e| PathError::io(path, e))?;
        if is_link(fd.as_fd()) {
            return Err(PathError::Symlink { path: path.to_string() });
        }
        Ok(fd)
    }

    /// Makes the directory `path` and any missing parent (mode `mode`),
    /// and returns it opened (O_PATH). Existing components must be
    /// directories, not links.
    pub fn mkdir_all(&self, path: &str, mode: u32) -> Result<OwnedFd, PathError> {
        let parts = components(path)?;
        let mut dir: Option<OwnedFd> = None;
        for (i, name) in parts.iter().enumerate() {
            let so_far = parts[..=i].join("/");
            let parent = dir.as_ref().map_or(self.fd(), |d| d.as_fd());
            mkdirat(parent, name, mode).map_err(|e| PathError::io(&so_far, e))?;
            let next = openat2(parent, name, libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW, 0, CONFINED)
                .map_err(|e| classify(parent, name, &so_far, e))?;
            dir = Some(next);
        }
        // components() returned at least one part, so the loop set `dir`.
        dir.ok_or_else(|| PathError::NotRelative(path.to_string()))
    }

    /// Makes the empty regular file `path` (its parents as directories) and
    /// returns it opened (O_PATH). An existing regular file is kept.
    pub fn make_file(&self, path: &str, mode: u32) -> Result<OwnedFd, PathError> {
        let parts = components(path)?;
        let (name, parents) = parts.split_last().ok_or_else(|| PathError::NotRelative(path.to_string()))?;
        let parent = if parents.is_empty() { None } else { Some(self.mkdir_all(&parents.join("/"), STAGING_DIR_MODE)?) };
        let dir = parent.as_ref().map_or(self.fd(), |d| d.as_fd());
        let flags = libc::O_CREAT | libc::O_WRONLY | libc::O_NOFOLLOW;
        let file = openat2(dir, name, flags, mode, CONFINED).map_err(|e| PathError::io(path, e))?;
        drop(file);
        openat2(dir, name, libc::O_PATH | libc::O_NOFOLLOW, 0, CONFINED).map_err(|e| PathError::io(path, e))
    }
}

fn is_link(fd: BorrowedFd<'_>) -> bool {
    use std::os::fd::AsRawFd;
    // SAFETY: an all-zero stat is a valid value for fstat to overwrite.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fd is open and st a valid stat buffer.
    let r = unsafe { libc::fstat(fd.as_raw_fd(), &mut st) };
    r == 0 && st.st_mode & libc::S_IFMT == libc::S_IFLNK
}

/// An open that failed with ENOTDIR on a link (O_DIRECTORY|O_NOFOLLOW) is
/// reported as the link it is.
fn classify(dir: BorrowedFd<'_>, name: &str, path: &str, e: io::Error) -> PathError {
    if e.raw_os_error() == Some(libc::ENOTDIR) {
        if let Ok(c) = std::ffi::CString::new(name) {
            if let Ok(Some(st)) = lstat_at(dir, &c) {
                if st.st_mode & libc::S_IFMT == libc::S_IFLNK {
                    return PathError::Symlink { path: path.to_string() };
                }
            }
        }
    }
    PathError::io(path, e)
}

fn mkdirat(dir: BorrowedFd<'_>, name: &str, mode: u32) -> io::Result<()> {
    let c = std::ffi::CString::new(name).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    use std::os::fd::AsRawFd;
    // SAFETY: c is a valid C string; mkdirat only reads it.
    tolerating(unsafe { libc::mkdirat(dir.as_raw_fd(), c.as_ptr(), mode) }, libc::EEXIST)
}

/// AT_FDCWD as a borrowed descriptor, for the one absolute lookup (the root's own path).
fn unsafe_cwd() -> BorrowedFd<'static> {
    // SAFETY: AT_FDCWD is a sentinel the *at calls accept in place of a
    // descriptor; it is never closed or read through.
    unsafe { BorrowedFd::borrow_raw(libc::AT_FDCWD) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tmp() -> tempdir::Dir {
        tempdir::Dir::new()
    }

    /// A private temporary directory, removed at drop.
    mod tempdir {
        pub struct Dir(pub std::path::PathBuf);
        impl Dir {
            pub fn new() -> Dir {
                let base = std::env::temp_dir();
                for i in 0..1000u32 {
                    let p = base.join(format!("hako-helper-test-{}-{i}", std::process::id()));
                    if std::fs::create_dir(&p).is_ok() {
                        return Dir(p);
                    }
                }
                panic!("no temporary directory");
            }
            pub fn path(&self) -> &str {
                self.0.to_str().expect("temporary paths are UTF-8")
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    #[test]
    fn refuses_paths_that_are_not_plain_and_relative() {
        for bad in ["", "/etc", "a/../b", "a//b", "./a", "a/.", ".."] {
            assert!(matches!(components(bad), Err(PathError::NotRelative(_))), "{bad:?}");
        }
        assert_eq!(components("a/b").unwrap(), vec!["a", "b"]);
    }

    #[test]
    fn makes_directories_and_files_beneath() {
        let t = tmp();
        let root = Root::open(t.path()).unwrap();
        root.mkdir_all("a/b/c", 0o700).unwrap();
        root.make_file("a/f", 0o600).unwrap();
        assert!(t.0.join("a/b/c").is_dir());
        assert!(t.0.join("a/f").is_file());
        // Again: both are kept.
        root.mkdir_all("a/b/c", 0o700).unwrap();
        root.make_file("a/f", 0o600).unwrap();
    }

    #[test]
    fn never_follows_a_planted_symlink() {
        let t = tmp();
        let outside = tmp();
        let root = Root::open(t.path()).unwrap();
        symlink(outside.path(), t.0.join("link")).unwrap();
        assert!(matches!(root.mkdir_all("link/x", 0o700), Err(PathError::Symlink { .. })));
        assert!(matches!(root.make_file("link/f", 0o600), Err(PathError::Symlink { .. })));
        symlink("/etc/passwd", t.0.join("f")).unwrap();
        assert!(matches!(root.make_file("f", 0o600), Err(PathError::Symlink { .. })));
        assert!(matches!(root.open_beneath("link", libc::O_PATH), Err(PathError::Symlink { .. })));
        assert_eq!(std::fs::read_dir(&outside.0).unwrap().count(), 0, "nothing was made outside");
    }
}
