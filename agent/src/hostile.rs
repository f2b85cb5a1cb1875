//! TEST ONLY, compiled with `--features hostile` and never into a release
//! image: the guest as an attacker (test/integration/hostile-guest.test.ts).
//! Booted with `hako.hostile=<host path>`, the agent races the host's
//! staging tree through its own mount of the shared-fs tag for as long as
//! it runs: it plants links to that host path under every name a container
//! may get, swaps container directories for links, and tries to replace
//! their rootfs and mounts directories; and it fails every CreateContainer
//! of an id starting with `fail-`, so that the host's failure path runs
//! while it races. It logs how many attempts the host let through.
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::limits::GUEST_RUN_DIR;
use crate::log;

/// Container ids the hostile test uses, planted in advance.
const GUESSES: usize = 40;

fn attempt(ok: &mut u64, refused: &mut u64, r: std::io::Result<()>) {
    match r {
        Ok(()) => *ok += 1,
        Err(_) => *refused += 1,
    }
}

/// Starts the racer on a thread of its own.
pub fn start(target: String) {
    let spawned = std::thread::Builder::new().name("hostile".into()).spawn(move || race(&PathBuf::from(target)));
    if let Err(e) = spawned {
        log::warn(&format!("hostile: cannot start: {e}"));
    }
}

/// Whether the host's share is mounted at `shared` (before that, the
/// directory is the guest's own tmpfs, and nothing there reaches the host).
fn host_share_mounted(shared: &Path) -> bool {
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let point = shared.display().to_string();
    mounts.lines().any(|l| {
        let mut f = l.split(' ');
        let (_, at, kind) = (f.next(), f.next(), f.next());
        at == Some(point.as_str()) && matches!(kind, Some("virtiofs" | "9p"))
    })
}

fn race(target: &Path) {
    let shared = Path::new(GUEST_RUN_DIR).join("shared");
    let (mut ok, mut refused, mut rounds) = (0u64, 0u64, 0u64);
    loop {
        if !host_share_mounted(&shared) {
            std::thread::sleep(Duration::from_millis(5));
            continue;
        }
        for k in 0..GUESSES {
            for name in [format!("c{k}"), format!("fail-{k}")] {
                attempt(&mut ok, &mut refused, symlink(target, shared.join(&name)));
            }
        }
        let entries: Vec<PathBuf> = match std::fs::read_dir(&shared) {
            Ok(d) => d.filter_map(|e| e.ok().map(|e| e.path())).collect(),
            Err(_) => vec![],
        };
        for dir in entries {
            for sub in ["mounts", "rootfs"] {
                let p = dir.join(sub);
                let _ = std::fs::remove_dir(&p);
                attempt(&mut ok, &mut refused, symlink(target, &p));
            }
            let moved = dir.with_extension("moved");
            let swapped = std::fs::rename(&dir, &moved).and_then(|_| symlink(target, &dir));
            attempt(&mut ok, &mut refused, swapped);
            let _ = std::fs::rename(&moved, &dir);
        }
        rounds += 1;
        if rounds % 25 == 0 {
            log::warn(&format!("hostile: {} attempts, {ok} let through, {refused} refused", ok + refused));
        }
        std::thread::yield_now();
    }
}

/// Whether a CreateContainer of `id` must fail (the test's failure path).
pub fn fails(id: &str) -> bool {
    id.starts_with("fail-")
}
