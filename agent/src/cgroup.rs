//! A container's cgroup (v2) inside the guest: its statistics and its
//! processes. crun puts each container in /sys/fs/cgroup/hako/<id>.
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::error::AgentError;
use crate::proto::agent::{CgroupStats, IoStat};

pub const CGROUP_ROOT: &str = "/sys/fs/cgroup/hako";
/// cgroup files are small; anything larger is not what we expect.
const MAX_FILE: u64 = 1 << 20;

#[derive(Debug, Error)]
pub enum CgroupError {
    #[error("read {0}: {1}")]
    Read(String, std::io::Error),
    #[error("{0} is larger than expected")]
    TooLarge(String),
}

impl From<CgroupError> for AgentError {
    fn from(e: CgroupError) -> AgentError {
        AgentError::Internal(e.to_string())
    }
}

pub fn dir(container_id: &str) -> PathBuf {
    Path::new(CGROUP_ROOT).join(container_id)
}

fn read(dir: &Path, name: &str) -> Result<String, CgroupError> {
    // cgroup files report a size of 0: bound the read itself.
    let path = dir.join(name);
    let mut text = String::new();
    std::fs::File::open(&path)
        .and_then(|f| f.take(MAX_FILE + 1).read_to_string(&mut text))
        .map_err(|e| CgroupError::Read(path.display().to_string(), e))?;
    if text.len() as u64 > MAX_FILE {
        return Err(CgroupError::TooLarge(path.display().to_string()));
    }
    Ok(text)
}

/// Missing files (a controller not enabled) read as empty.
fn read_optional(dir: &Path, name: &str) -> String {
    read(dir, name).unwrap_or_default()
}

/// "key value" lines (cpu.stat, memory.stat, memory.events).
pub fn parse_flat_keyed(text: &str) -> HashMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let k = it.next()?;
            let v = it.next()?.parse().ok()?;
            Some((k.to_string(), v))
        })
        .collect()
}

/// A single number, or "max" (no limit) as 0.
pub fn parse_limit(text: &str) -> u64 {
    let t = text.trim();
    if t == "max" {
        0
    } else {
        t.parse().unwrap_or(0)
    }
}

/// io.stat lines: "MAJ:MIN rbytes=N wbytes=N rios=N wios=N …".
pub fn parse_io_stat(text: &str) -> Vec<IoStat> {
    let mut out = vec![];
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let Some((maj, min)) = fields.next().and_then(|d| d.split_once(':')) else { continue };
        let mut e = IoStat::new();
        e.major = maj.parse().unwrap_or(0);
        e.minor = min.parse().unwrap_or(0);
        for f in fields {
            let Some((k, v)) = f.split_once('=') else { continue };
            let v = v.parse().unwrap_or(0);
            match k {
                "rbytes" => e.rbytes = v,
                "wbytes" => e.wbytes = v,
                "rios" => e.rios = v,
                "wios" => e.wios = v,
                _ => {}
            }
        }
        out.push(e);
    }
    out
}

pub fn stats(container_id: &str) -> Result<CgroupStats, CgroupError> {
    let d = dir(container_id);
    // The cgroup itself must exist; single controllers may be missing.
    let cpu = parse_flat_keyed(&read(&d, "cpu.stat")?);
    let get = |m: &HashMap<String, u64>, k: &str| m.get(k).copied().unwrap_or(0);
    let mut s = CgroupStats::new();
    s.cpu_usage_usec = get(&cpu, "usage_usec");
    s.cpu_user_usec = get(&cpu, "user_usec");
    s.cpu_system_usec = get(&cpu, "system_usec");
    s.cpu_nr_periods = get(&cpu, "nr_periods");
    s.cpu_nr_throttled = get(&cpu, "nr_throttled");
    s.cpu_throttled_usec = get(&cpu, "throttled_usec");
    s.memory_current = parse_limit(&read_optional(&d, "memory.current"));
    s.memory_max = parse_limit(&read_optional(&d, "memory.max"));
    s.memory_swap_current = parse_limit(&read_optional(&d, "memory.swap.current"));
    s.memory_swap_max = parse_limit(&read_optional(&d, "memory.swap.max"));
    s.memory_stat = parse_flat_keyed(&read_optional(&d, "memory.stat"));
    s.memory_events = parse_flat_keyed(&read_optional(&d, "memory.events"));
    s.pids_current = parse_limit(&read_optional(&d, "pids.current"));
    s.pids_max = parse_limit(&read_optional(&d, "pids.max"));
    s.io = protobuf::RepeatedField::from_vec(parse_io_stat(&read_optional(&d, "io.stat")));
    Ok(s)
}

/// Every pid in the container's cgroup (and the ones below it).
pub fn pids(container_id: &str) -> Result<Vec<i32>, CgroupError> {
    fn walk(d: &Path, out: &mut Vec<i32>) -> Result<(), CgroupError> {
        out.extend(read(d, "cgroup.procs")?.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
        if let Ok(entries) = std::fs::read_dir(d) {
            for e in entries.flatten() {
                if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                    walk(&e.path(), out)?;
                }
            }
        }
        Ok(())
    }
    let mut out = vec![];
    walk(&dir(container_id), &mut out)?;
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// The oom_kill count in memory.events (0 when unreadable).
pub fn oom_kills(container_id: &str) -> u64 {
    parse_flat_keyed(&read_optional(&dir(container_id), "memory.events")).get("oom_kill").copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cgroup_files() {
        let m = parse_flat_keyed("usage_usec 123\nuser_usec 100\nbad line\n");
        assert_eq!(m.get("usage_usec"), Some(&123));
        assert_eq!(m.get("user_usec"), Some(&100));
        assert_eq!(parse_limit("max\n"), 0);
        assert_eq!(parse_limit("4096\n"), 4096);
        let io = parse_io_stat("254:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\nnonsense\n");
        assert_eq!(io.len(), 1);
        assert_eq!((io[0].major, io[0].minor, io[0].rbytes, io[0].wbytes, io[0].rios, io[0].wios), (254, 0, 10, 20, 1, 2));
    }
}
