//! Mounts the filesystems the host shares with the guest (Storage messages).
//! Mount points must lie under the agent's run directory.
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use thiserror::Error;

use crate::error::AgentError;
use crate::limits::{MAX_OPTIONS, MAX_STRING};
use crate::proto::agent::Storage;

#[derive(Debug, Error)]
pub enum MountError {
    #[error("mount point {0:?} must be an absolute path under {1}")]
    BadMountPoint(String, String),
    #[error("unknown storage driver {0:?} (expected virtiofs, 9p, tmpfs, bind or overlay)")]
    UnknownDriver(String),
    #[error("storage {0}: {1}")]
    BadField(&'static str, String),
    #[error("mount {what} on {target}: {err}")]
    Failed { what: String, target: String, err: nix::Error },
    #[error("create mount point {0}: {1}")]
    MountPoint(String, std::io::Error),
}

impl From<MountError> for AgentError {
    fn from(e: MountError) -> AgentError {
        match e {
            MountError::Failed { .. } | MountError::MountPoint(..) => AgentError::Internal(e.to_string()),
            _ => AgentError::InvalidArgument(e.to_string()),
        }
    }
}

/// `path` is absolute, below `base` and free of `..`.
pub fn is_under(path: &str, base: &Path) -> bool {
    let p = Path::new(path);
    p.is_absolute()
        && p.starts_with(base)
        && p != base
        && p.components().all(|c| !matches!(c, Component::ParentDir | Component::CurDir))
}

const FLAG_OPTIONS: [(&str, MsFlags); 8] = [
    ("ro", MsFlags::MS_RDONLY),
    ("nosuid", MsFlags::MS_NOSUID),
    ("nodev", MsFlags::MS_NODEV),
    ("noexec", MsFlags::MS_NOEXEC),
    ("bind", MsFlags::MS_BIND),
    ("rbind", MsFlags::from_bits_truncate(MsFlags::MS_BIND.bits() | MsFlags::MS_REC.bits())),
    ("relatime", MsFlags::MS_RELATIME),
    ("noatime", MsFlags::MS_NOATIME),
];

fn split_options(options: &[String]) -> (MsFlags, Vec<String>) {
    let mut flags = MsFlags::empty();
    let mut data = vec![];
    for o in options {
        match FLAG_OPTIONS.iter().find(|(name, _)| name == o) {
            Some((_, f)) => flags |= *f,
            None if o == "rw" => {}
            None => data.push(o.clone()),
        }
    }
    (flags, data)
}

/// Mounts one storage and returns what it mounted, in order (an overlay
/// mounts its writable layer first, then itself).
/// `hot_plugged`: the storage's device may still be arriving (a VM started
/// from a template gets its virtio-fs device as it resumes).
pub fn mount_storage(s: &Storage, base: &Path, hot_plugged: bool) -> Result<Vec<PathBuf>, MountError> {
    if !is_under(&s.mount_point, base) {
        return Err(MountError::BadMountPoint(s.mount_point.clone(), base.display().to_string()));
    }
    if s.options.len() > MAX_OPTIONS {
        return Err(MountError::BadField("options", format!("more than {MAX_OPTIONS}")));
    }
    if s.source.is_empty() || s.source.len() > MAX_STRING {
        return Err(MountError::BadField("source", "must be 1 to 4096 bytes".into()));
    }
    if s.driver == "overlay" {
        return mount_layer(&s.source, &s.mount_point, base);
    }
    let (mut flags, mut data) = split_options(&s.options);
    let fstype = match s.driver.as_str() {
        "virtiofs" => "virtiofs",
        "9p" => {
            data.extend(["trans=virtio".into(), "version=9p2000.L".into(), "msize=262144".into()]);
            "9p"
        }
        "tmpfs" => "tmpfs",
        "bind" => {
            if !s.source.starts_with('/') {
                return Err(MountError::BadField("source", "a bind source must be absolute".into()));
            }
            flags |= MsFlags::MS_BIND;
            ""
        }
        other => return Err(MountError::UnknownDriver(other.to_string())),
    };
    let target = PathBuf::from(&s.mount_point);
    std::fs::create_dir_all(&target).map_err(|e| MountError::MountPoint(s.mount_point.clone(), e))?;
    let data = data.join(",");
    let ro = flags.contains(MsFlags::MS_RDONLY);
    let fstype = if fstype.is_empty() { None } else { Some(fstype) };
    let data = if data.is_empty() { None } else { Some(data.as_str()) };
    let attempt = || mount(Some(s.source.as_str()), &target, fstype, flags, data);
    let mounted = if hot_plugged && fstype == Some("virtiofs") { retry_until_present(attempt) } else { attempt() };
    mounted.map_err(|err| MountError::Failed { what: s.source.clone(), target: s.mount_point.clone(), err })?;
    if ro && flags.contains(MsFlags::MS_BIND) {
        // A bind mount ignores MS_RDONLY until remounted.
        let re = MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY;
        mount(None::<&str>, &target, None::<&str>, re, None::<&str>).map_err(|err| MountError::Failed {
            what: s.source.clone(),
            target: s.mount_point.clone(),
            err,
        })?;
    }
    Ok(vec![target])
}

/// A writable layer over the read-only directory `lower` (a container's
/// rootfs that the host shares read-only, such as the built-in image): an
/// overlay at `mount_point` whose upper directory is on a tmpfs of its own
/// (`<mount_point>.layer`), so that what the container writes lives in the
/// guest's RAM and goes with the container.
fn mount_layer(lower: &str, mount_point: &str, base: &Path) -> Result<Vec<PathBuf>, MountError> {
    if !is_under(lower, base) {
        return Err(MountError::BadField("source", format!("an overlay's lower directory must be under {}", base.display())));
    }
    // Overlay options are separated by commas and lower layers by colons.
    for (field, v) in [("source", lower), ("mount_point", mount_point)] {
        if v.contains([',', ':', '\\']) {
            return Err(MountError::BadField(field, format!("{v:?} holds a ',' ':' or '\\'")));
        }
    }
    let layer = PathBuf::from(format!("{mount_point}.layer"));
    let target = PathBuf::from(mount_point);
    let failed = |what: &str, on: &Path| {
        let (what, on) = (what.to_string(), on.display().to_string());
        move |err| MountError::Failed { what, target: on, err }
    };
    for d in [&layer, &target] {
        std::fs::create_dir_all(d).map_err(|e| MountError::MountPoint(d.display().to_string(), e))?;
    }
    mount(Some("tmpfs"), &layer, Some("tmpfs"), MsFlags::empty(), Some("mode=0700")).map_err(failed("tmpfs", &layer))?;
    let made = (|| {
        for d in ["upper", "work"] {
            let p = layer.join(d);
            std::fs::create_dir(&p).map_err(|e| MountError::MountPoint(p.display().to_string(), e))?;
        }
        let data = format!("lowerdir={lower},upperdir={0}/upper,workdir={0}/work", layer.display());
        mount(Some("overlay"), &target, Some("overlay"), MsFlags::empty(), Some(data.as_str())).map_err(failed(lower, &target))
    })();
    if let Err(e) = made {
        unmount(&layer);
        return Err(e);
    }
    Ok(vec![layer, target])
}

/// How long a virtio-fs tag may take to appear: in a VM restored from a
/// template, its device is hot-plugged as the guest resumes.
const VIRTIOFS_APPEAR: Duration = Duration::from_secs(10);

/// Mounts a virtio-fs tag, retrying while the kernel does not know the tag
/// yet (EINVAL: "tag not found") until it appears or VIRTIOFS_APPEAR passes.
fn retry_until_present(attempt: impl Fn() -> nix::Result<()>) -> nix::Result<()> {
    let deadline = Instant::now() + VIRTIOFS_APPEAR;
    loop {
        match attempt() {
            Err(nix::Error::EINVAL) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(2)),
            other => return other,
        }
    }
}

/// Best-effort lazy unmount (the caller is tearing down).
pub fn unmount(target: &Path) {
    let _ = umount2(target, MntFlags::MNT_DETACH);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_points_stay_under_base() {
        let base = Path::new("/run/hako");
        assert!(is_under("/run/hako/shared", base));
        assert!(!is_under("/run/hako", base));
        assert!(!is_under("/run/hako/../etc", base));
        assert!(!is_under("run/hako/x", base));
        assert!(!is_under("/etc", base));
    }

    #[test]
    fn splits_flags_from_data() {
        let (f, d) = split_options(&["ro".into(), "nosuid".into(), "size=10m".into(), "rw".into()]);
        assert!(f.contains(MsFlags::MS_RDONLY | MsFlags::MS_NOSUID));
        assert_eq!(d, vec!["size=10m".to_string()]);
    }

    #[test]
    fn rejects_bad_storages() {
        let mut s = Storage::new();
        s.driver = "nfs".into();
        s.source = "x".into();
        s.mount_point = "/run/hako/x".into();
        assert!(matches!(mount_storage(&s, Path::new("/run/hako"), false), Err(MountError::UnknownDriver(_))));
        s.mount_point = "/etc".into();
        assert!(matches!(mount_storage(&s, Path::new("/run/hako"), false), Err(MountError::BadMountPoint(..))));
        s.driver = "overlay".into();
        s.mount_point = "/run/hako/layers/c".into();
        s.source = "/etc".into();
        assert!(matches!(mount_storage(&s, Path::new("/run/hako"), false), Err(MountError::BadField("source", _))));
        s.source = "/run/hako/shared/c,x/rootfs".into();
        assert!(matches!(mount_storage(&s, Path::new("/run/hako"), false), Err(MountError::BadField("source", _))));
    }
}
