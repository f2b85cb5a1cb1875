//! CPUs and memory the host hot-plugged: they arrive offline (the kernel
//! command line says `memhp_default_state=offline`), and are brought online
//! here. Memory goes into the movable zone, which holds no kernel data, so
//! the guest can give it back when the host unplugs it.
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use thiserror::Error;

use crate::error::AgentError;

pub const SYS_ROOT: &str = "/sys/devices/system";
/// More entries than this under cpu/ or memory/ is not a VM we run.
const MAX_ENTRIES: usize = 16_384;
const POLL: Duration = Duration::from_millis(10);

#[derive(Debug, Error)]
pub enum HotplugError {
    #[error("read {0}: {1}")]
    Read(String, std::io::Error),
    #[error("{0}: unexpected content {1:?}")]
    Parse(String, String),
}

impl From<HotplugError> for AgentError {
    fn from(e: HotplugError) -> AgentError {
        AgentError::Internal(e.to_string())
    }
}

fn read(path: &Path) -> Result<String, HotplugError> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .map_err(|e| HotplugError::Read(path.display().to_string(), e))
}

/// The numbered entries `prefix<N>` of a directory.
fn numbered(dir: &Path, prefix: &str) -> Result<Vec<PathBuf>, HotplugError> {
    let entries = std::fs::read_dir(dir).map_err(|e| HotplugError::Read(dir.display().to_string(), e))?;
    Ok(entries
        .filter_map(|e| e.ok())
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.strip_prefix(prefix).is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        })
        .take(MAX_ENTRIES)
        .map(|e| e.path())
        .collect())
}

/// Counts a CPU list such as "0-3,5".
pub fn count_cpu_list(text: &str) -> Option<u32> {
    // At most CPU_SETSIZE (1024) entries: the count fits.
    crate::tuning::parse_list(text).map(|cpus| cpus.len() as u32)
}

fn cpu_number(path: &Path) -> u32 {
    path.file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("cpu"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(u32::MAX)
}

fn online_count(dir: &Path) -> Result<u32, HotplugError> {
    let list = dir.join("online");
    let text = read(&list)?;
    count_cpu_list(&text).ok_or_else(|| HotplugError::Parse(list.display().to_string(), text))
}

/// Brings CPUs online (lowest first) or takes them offline (highest first,
/// never cpu0) until `want` are online; returns how many are.
fn set_online_cpus(root: &Path, want: u32) -> Result<u32, HotplugError> {
    let dir = root.join("cpu");
    let mut online = online_count(&dir)?;
    let mut cpus = numbered(&dir, "cpu")?;
    cpus.sort_by_key(|p| cpu_number(p));
    let (from, to) = if online < want { ("0", "1") } else { ("1", "0") };
    if online > want {
        cpus.reverse();
    }
    for cpu in cpus {
        if online == want {
            break;
        }
        // cpu0 has no switch; a CPU being unplugged may vanish meanwhile.
        let file = cpu.join("online");
        if read(&file).map(|s| s == from).unwrap_or(false) && std::fs::write(&file, to).is_ok() {
            online = if to == "1" { online + 1 } else { online - 1 };
        }
    }
    online_count(&dir)
}

/// Brings every offline memory block online (movable if it can be); returns the MiB online.
fn online_memory(root: &Path) -> Result<u64, HotplugError> {
    let dir = root.join("memory");
    let size_file = dir.join("block_size_bytes");
    let size_text = read(&size_file)?;
    let block = u64::from_str_radix(&size_text, 16)
        .ok()
        .filter(|b| *b > 0)
        .ok_or_else(|| HotplugError::Parse(size_file.display().to_string(), size_text))?;
    let mut online = 0u64;
    for mem in numbered(&dir, "memory")? {
        let file = mem.join("state");
        let state = read(&file).unwrap_or_default();
        let on = state == "online"
            || (state == "offline"
                && (std::fs::write(&file, "online_movable").is_ok() || std::fs::write(&file, "online").is_ok()));
        if on {
            online += block;
        }
    }
    Ok(online >> 20)
}

/// Has `cpus` CPUs online and every memory block, until that and at least
/// `memory_mib` MiB are online or `timeout` passes; returns what is online then.
pub fn online_cpu_mem(root: &Path, cpus: u32, memory_mib: u64, timeout: Duration) -> Result<(u32, u64), HotplugError> {
    let deadline = Instant::now() + timeout;
    loop {
        let have = (set_online_cpus(root, cpus)?, online_memory(root)?);
        if (have.0 == cpus && have.1 >= memory_mib) || Instant::now() >= deadline {
            return Ok(have);
        }
        std::thread::sleep(POLL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> PathBuf {
        let root = std::env::temp_dir().join(format!("hako-hotplug-{}-{:?}", std::process::id(), Instant::now()));
        for (path, text) in [
            ("cpu/online", "0-1\n"),
            ("cpu/cpu0/topology", ""),
            ("cpu/cpu1/online", "1\n"),
            ("cpu/cpu2/online", "0\n"),
            ("memory/block_size_bytes", "8000000\n"),
            ("memory/memory0/state", "online\n"),
            ("memory/memory8/state", "offline\n"),
            ("memory/memory9/state", "going-offline\n"),
        ] {
            let p = root.join(path);
            if text.is_empty() {
                std::fs::create_dir_all(&p).expect("test tree");
            } else {
                std::fs::create_dir_all(p.parent().expect("has a parent")).expect("test tree");
                std::fs::write(&p, text).expect("test tree");
            }
        }
        root
    }

    #[test]
    fn cpu_lists_count() {
        assert_eq!(count_cpu_list("0-3,5\n"), Some(5));
        assert_eq!(count_cpu_list("0"), Some(1));
        assert_eq!(count_cpu_list("3-1"), None);
        assert_eq!(count_cpu_list("x"), None);
    }

    #[test]
    fn offline_cpus_and_memory_are_brought_online() {
        let root = tree();
        // The fake cpu/online list does not follow the writes: the count is what it says.
        let (cpus, mib) = online_cpu_mem(&root, 3, 0, Duration::ZERO).expect("reads the tree");
        assert_eq!(cpus, 2);
        assert_eq!(read(&root.join("cpu/cpu2/online")).expect("written"), "1");
        assert_eq!(read(&root.join("cpu/cpu1/online")).expect("untouched"), "1");
        assert_eq!(read(&root.join("memory/memory8/state")).expect("written"), "online_movable");
        assert_eq!(read(&root.join("memory/memory9/state")).expect("untouched"), "going-offline");
        assert_eq!(mib, 256);
        std::fs::remove_dir_all(&root).expect("cleanup");
    }

    #[test]
    fn extra_cpus_go_offline_highest_first() {
        let root = tree();
        std::fs::write(root.join("cpu/cpu2/online"), "1").expect("test tree");
        std::fs::write(root.join("cpu/online"), "0-2").expect("test tree");
        online_cpu_mem(&root, 2, 0, Duration::ZERO).expect("reads the tree");
        assert_eq!(read(&root.join("cpu/cpu2/online")).expect("written"), "0");
        assert_eq!(read(&root.join("cpu/cpu1/online")).expect("untouched"), "1");
        std::fs::remove_dir_all(&root).expect("cleanup");
    }

    #[test]
    fn a_malformed_block_size_is_an_error() {
        let root = tree();
        std::fs::write(root.join("memory/block_size_bytes"), "zz").expect("test tree");
        assert!(online_cpu_mem(&root, 1, 0, Duration::ZERO).is_err());
        std::fs::remove_dir_all(&root).expect("cleanup");
    }
}
