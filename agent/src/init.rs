//! PID 1 duties: move off the initramfs root (pivot_root, which crun needs,
//! refuses to leave rootfs), mount the kernel filesystems, and power off.
use std::ffi::CString;
use std::fs;
use std::io;
use std::os::unix::fs::{symlink, DirBuilderExt};
use std::path::Path;

use nix::mount::{mount, MsFlags};
use nix::unistd::{chdir, chroot};

use crate::log;

/// Options read from the kernel command line (`hako.<key>=<value>`).
pub struct BootOptions {
    pub debug: bool,
    pub port_name: String,
    /// `hako.warmup=1`: the host runs us under software emulation.
    pub warm_up: bool,
    /// `hako.template=1`: this boot becomes a VM template. The guest is set
    /// up before the port opens, so that the host, which saves the VM when
    /// the port opens, saves a guest with nothing left to do.
    pub template: bool,
    /// TEST ONLY (`--features hostile`): `hako.hostile=<host path>`, see hostile.rs.
    #[cfg(feature = "hostile")]
    pub hostile: Option<String>,
}

impl BootOptions {
    pub fn from_cmdline() -> BootOptions {
        let cmdline = fs::read_to_string("/proc/cmdline").unwrap_or_default();
        Self::parse(&cmdline)
    }

    pub fn parse(cmdline: &str) -> BootOptions {
        let mut o = BootOptions {
            debug: false,
            port_name: "hako.agent".into(),
            warm_up: false,
            template: false,
            #[cfg(feature = "hostile")]
            hostile: None,
        };
        for word in cmdline.split_whitespace() {
            if let Some((k, v)) = word.split_once('=') {
                match k {
                    "hako.debug" => o.debug = v == "1",
                    "hako.warmup" => o.warm_up = v == "1",
                    "hako.template" => o.template = v == "1",
                    "hako.port" if !v.is_empty() && v.len() <= 64 => o.port_name = v.to_string(),
                    #[cfg(feature = "hostile")]
                    "hako.hostile" if v.starts_with('/') => o.hostile = Some(v.to_string()),
                    _ => {}
                }
            }
        }
        o
    }
}

const NEW_ROOT: &str = "/.hako-root";

/// Makes the root a bind mount of the initramfs instead of the initramfs
/// itself (pivot_root, which crun needs, refuses to leave the absolute root
/// "rootfs"; a bind mount of it has a parent, so pivoting away from it works)
/// and moves this process into it. Nothing is copied.
pub fn switch_root() -> io::Result<()> {
    fs::DirBuilder::new().mode(0o755).create(NEW_ROOT).or_else(ignore_exists)?;
    mount(Some("/"), NEW_ROOT, None::<&str>, MsFlags::MS_BIND | MsFlags::MS_REC, None::<&str>)?;
    chdir(NEW_ROOT)?;
    mount(Some("."), "/", None::<&str>, MsFlags::MS_MOVE, None::<&str>)?;
    chroot(".")?;
    chdir("/")?;
    Ok(())
}

fn ignore_exists(e: io::Error) -> io::Result<()> {
    if e.kind() == io::ErrorKind::AlreadyExists {
        Ok(())
    } else {
        Err(e)
    }
}

struct KernelFs {
    source: &'static str,
    target: &'static str,
    fstype: &'static str,
    flags: MsFlags,
    data: &'static str,
}

const NOSUID_NODEV_NOEXEC: MsFlags =
    MsFlags::from_bits_truncate(MsFlags::MS_NOSUID.bits() | MsFlags::MS_NODEV.bits() | MsFlags::MS_NOEXEC.bits());

const KERNEL_FS: [KernelFs; 8] = [
    KernelFs { source: "proc", target: "/proc", fstype: "proc", flags: NOSUID_NODEV_NOEXEC, data: "" },
    KernelFs { source: "sysfs", target: "/sys", fstype: "sysfs", flags: NOSUID_NODEV_NOEXEC, data: "" },
    KernelFs { source: "devtmpfs", target: "/dev", fstype: "devtmpfs", flags: MsFlags::MS_NOSUID, data: "mode=0755" },
    KernelFs {
        source: "devpts",
        target: "/dev/pts",
        fstype: "devpts",
        flags: MsFlags::from_bits_truncate(MsFlags::MS_NOSUID.bits() | MsFlags::MS_NOEXEC.bits()),
        data: "gid=5,mode=620,ptmxmode=666",
    },
    KernelFs { source: "shm", target: "/dev/shm", fstype: "tmpfs", flags: MsFlags::MS_NOSUID.union(MsFlags::MS_NODEV), data: "mode=1777" },
    KernelFs { source: "run", target: "/run", fstype: "tmpfs", flags: MsFlags::MS_NOSUID.union(MsFlags::MS_NODEV), data: "mode=0755" },
    KernelFs { source: "tmp", target: "/tmp", fstype: "tmpfs", flags: MsFlags::MS_NOSUID.union(MsFlags::MS_NODEV), data: "mode=1777" },
    KernelFs { source: "cgroup2", target: "/sys/fs/cgroup", fstype: "cgroup2", flags: NOSUID_NODEV_NOEXEC, data: "nsdelegate" },
];

/// How many of KERNEL_FS (proc, sys, dev) the agent's port and console need.
const EARLY_FS: usize = 3;

fn mount_all(list: &[KernelFs]) -> io::Result<()> {
    for fsys in list {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(fsys.target)
            .map_err(|e| io::Error::new(e.kind(), format!("create {}: {e}", fsys.target)))?;
        mount(Some(fsys.source), fsys.target, Some(fsys.fstype), fsys.flags, Some(fsys.data))
            .map_err(|e| io::Error::new(io::ErrorKind::Other, format!("mount {}: {e}", fsys.target)))?;
    }
    Ok(())
}

/// What serving the agent's port needs: /proc, /sys, /dev, the console and
/// the kernel modules (a modular kernel may have virtio-console as one).
/// The root is sealed here too, before any thread but the reaper (which
/// touches no file) runs: a read-only remount fails (EBUSY) while anything
/// writes to it, atime updates of the files other threads read included.
pub fn setup_early() -> io::Result<()> {
    mount_all(&KERNEL_FS[..EARLY_FS])?;
    attach_console();
    load_modules();
    seal_root()
}

/// The rest of the kernel filesystems, and the guest tuned for containers.
pub fn setup() -> io::Result<()> {
    mount_all(&KERNEL_FS[EARLY_FS..])?;
    for (link, target) in [("/dev/fd", "/proc/self/fd"), ("/dev/stdin", "/proc/self/fd/0"),
        ("/dev/stdout", "/proc/self/fd/1"), ("/dev/stderr", "/proc/self/fd/2")] {
        symlink(target, link).or_else(ignore_exists)?;
    }
    // A large pid space makes pid reuse (and a stale exit status) unlikely.
    if fs::write("/proc/sys/kernel/pid_max", "4194304").is_err() {
        // Kernels built with BASE_SMALL cap pid_max at 32768.
        let _ = fs::write("/proc/sys/kernel/pid_max", "32768");
    }
    fs::DirBuilder::new().recursive(true).mode(0o711).create(crate::limits::GUEST_RUN_DIR)?;
    crate::network::loopback_up()
}

/// Makes the root (the agent, crun and their libraries) read-only: nothing
/// in the guest may change them. All that is written later lives on the
/// tmpfs mounts (/run, /tmp, /dev/shm), whose mount points the initramfs
/// already has.
fn seal_root() -> io::Result<()> {
    let flags = MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY;
    mount(None::<&str>, "/", None::<&str>, flags, None::<&str>)
        .map_err(|e| io::Error::new(io::ErrorKind::Other, format!("remount / read-only: {e}")))
}

/// The initramfs has no /dev/console node, so the kernel could not give
/// init its standard streams: take them from devtmpfs now.
fn attach_console() {
    use std::os::fd::AsRawFd;
    if let Ok(null) = fs::OpenOptions::new().read(true).open("/dev/null") {
        let _ = nix::unistd::dup2(null.as_raw_fd(), 0);
    }
    if let Ok(console) = fs::OpenOptions::new().write(true).open("/dev/console") {
        let _ = nix::unistd::dup2(console.as_raw_fd(), 1);
        let _ = nix::unistd::dup2(console.as_raw_fd(), 2);
    }
}

const MODULE_DIR: &str = "/lib/modules/hako";

/// Loads the kernel modules listed in /lib/modules/hako/load-order (only the
/// fallback cloud kernel has any; the minimal kernel has everything built in).
fn load_modules() {
    let order = match fs::read_to_string(Path::new(MODULE_DIR).join("load-order")) {
        Ok(o) => o,
        Err(_) => return,
    };
    for name in order.lines().map(str::trim).filter(|l| !l.is_empty() && !l.contains('/')) {
        let path = Path::new(MODULE_DIR).join(name);
        let result = fs::File::open(&path).map_err(|e| nix::Error::from_i32(e.raw_os_error().unwrap_or(libc::EIO))).and_then(|f| {
            let params = CString::default();
            nix::kmod::finit_module(&f, &params, nix::kmod::ModuleInitFlags::empty())
        });
        match result {
            Ok(()) | Err(nix::Error::EEXIST) => {}
            Err(e) => log::warn(&format!("load module {name}: {e}")),
        }
    }
}

/// Syncs and powers the VM off. Never returns when running as PID 1.
pub fn power_off() {
    nix::unistd::sync();
    if std::process::id() == 1 {
        let _ = nix::sys::reboot::reboot(nix::sys::reboot::RebootMode::RB_POWER_OFF);
    }
    std::process::exit(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_boot_options() {
        let o = BootOptions::parse("console=ttyS0 hako.debug=1 hako.port=p1 hako.warmup=1 hako.template=1 quiet");
        assert!(o.template);
        assert!(o.debug);
        assert!(o.warm_up);
        assert_eq!(o.port_name, "p1");
        let d = BootOptions::parse("quiet hako.warmup=0");
        assert!(!d.debug);
        assert!(!d.warm_up);
        assert!(!d.template);
        assert_eq!(d.port_name, "hako.agent");
    }
}
