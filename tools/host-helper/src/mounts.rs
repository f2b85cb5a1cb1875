//! Mounts in a sandbox's staging tree, with the new mount API: a source is
//! copied into a detached tree (open_tree), its attributes and propagation
//! are set on that copy alone (mount_setattr), and it is attached onto a
//! target opened beneath the root (move_mount). No step looks a target up
//! by name after it was checked, and the copy is private (or, to follow
//! the source, its slave): unmounting it never propagates back to the
//! source's own submounts.
use std::os::fd::AsFd;

use thiserror::Error;

use crate::beneath::{PathError, Root, STAGING_DIR_MODE};
use crate::sys::{
    attach, clone_tree, detach, set_mount_attrs, Propagation, MOUNT_ATTR_NODEV, MOUNT_ATTR_NOSUID, MOUNT_ATTR_RDONLY,
};

#[derive(Debug, Error)]
pub enum MountError {
    #[error(transparent)]
    Path(#[from] PathError),
    #[error("bind mount source {path}: {source}")]
    Source { path: String, source: std::io::Error },
    #[error("{what} {path}: {source}")]
    Mount { what: &'static str, path: String, source: std::io::Error },
    #[error("{0} stays mounted after 64 detaches")]
    Stuck(String),
}

fn failed(what: &'static str, path: &str) -> impl FnOnce(std::io::Error) -> MountError {
    let path = path.to_string();
    move |source| MountError::Mount { what, path, source }
}

/// How a bind mount is made.
#[derive(Clone, Copy, Debug, Default)]
pub struct BindOptions {
    /// The source's submounts come too (`rbind`); otherwise only its own mount.
    pub recursive: bool,
    /// Read-only all the way down, submounts included.
    pub readonly: bool,
    /// Receives the mounts made in the source later: a slave of the source
    /// (if it is shared), and shared itself, so that the view and the
    /// shared-fs daemon, attached after, receive them in turn. Nothing
    /// flows back: a slave never propagates to its master.
    pub follow: bool,
}

/// The attributes every mount of a staging tree gets: the host never needs
/// to run a set-uid program or open a device through a share.
const SHARE_ATTRS: u64 = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;

/// Bind-mounts `source` (an absolute host path, the caller's own choice, so
/// followed as given) onto `target` beneath the root, which must exist
/// (a directory for a directory, a file for a file).
pub fn bind(root: &Root, source: &str, target: &str, o: BindOptions) -> Result<(), MountError> {
    if !source.starts_with('/') {
        return Err(MountError::Source {
            path: source.to_string(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not an absolute path"),
        });
    }
    let to = root.open_beneath(target, libc::O_PATH)?;
    let tree = clone_tree(None, source, o.recursive)
        .map_err(|e| MountError::Source { path: source.to_string(), source: e })?;
    let attrs = SHARE_ATTRS | if o.readonly { MOUNT_ATTR_RDONLY } else { 0 };
    let propagation = if o.follow { Propagation::Slave } else { Propagation::Private };
    set_mount_attrs(tree.as_fd(), attrs, propagation, true).map_err(failed("set attributes of", source))?;
    if o.follow {
        set_mount_attrs(tree.as_fd(), 0, Propagation::Shared, true).map_err(failed("share", source))?;
    }
    attach(tree.as_fd(), to.as_fd()).map_err(failed("attach onto", target))
}

/// Makes the staging tree of a sandbox: `host` (the host's own tree, where
/// every container's rootfs and volumes are mounted) becomes a mount with
/// shared propagation, and `view` a read-only copy of it that receives its
/// mounts (a slave), for the shared-fs daemon to serve. The guest can then
/// write inside the rootfs and volumes mounted there, and nowhere else.
pub fn share(root: &Root, host: &str, view: &str) -> Result<(), MountError> {
    let host_dir = root.mkdir_all(host, STAGING_DIR_MODE)?;
    let view_dir = root.mkdir_all(view, STAGING_DIR_MODE)?;
    let own = clone_tree(Some(host_dir.as_fd()), "", false).map_err(failed("copy", host))?;
    set_mount_attrs(own.as_fd(), SHARE_ATTRS, Propagation::Private, false).map_err(failed("set attributes of", host))?;
    attach(own.as_fd(), host_dir.as_fd()).map_err(failed("mount", host))?;
    let host_mount = root.open_beneath(host, libc::O_PATH | libc::O_DIRECTORY)?;
    set_mount_attrs(host_mount.as_fd(), 0, Propagation::Shared, false).map_err(failed("share", host))?;
    let copy = clone_tree(Some(host_mount.as_fd()), "", true).map_err(failed("copy", host))?;
    attach(copy.as_fd(), view_dir.as_fd()).map_err(failed("mount", view))?;
    let view_mount = root.open_beneath(view, libc::O_PATH | libc::O_DIRECTORY)?;
    set_mount_attrs(view_mount.as_fd(), SHARE_ATTRS | MOUNT_ATTR_RDONLY, Propagation::Slave, true)
        .map_err(failed("make read-only", view))
}

/// Detaches whatever is mounted on `target` beneath the root (every mount
/// stacked there, each with its submounts). Nothing mounted is fine.
pub fn unmount(root: &Root, target: &str) -> Result<(), MountError> {
    for _ in 0..64 {
        let fd = match root.open_beneath(target, libc::O_PATH) {
            Ok(fd) => fd,
            Err(e) if e.errno() == Some(libc::ENOENT) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        match detach(fd.as_fd()) {
            Ok(()) => continue,
            // Not a mount point (any more).
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => return Ok(()),
            Err(e) => return Err(MountError::Mount { what: "unmount", path: target.to_string(), source: e }),
        }
    }
    Err(MountError::Stuck(target.to_string()))
}
