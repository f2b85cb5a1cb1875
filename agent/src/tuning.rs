//! The scheduling a process asks for in its OCI `process` object:
//! `ioPriority`, `scheduler` and `execCPUAffinity`. The crun in the guest
//! does not know these fields, so the agent takes them out of the spec,
//! checks them, and sets them on crun's own process just before it
//! executes crun: crun then starts the container's process as its child,
//! which inherits them (I/O priority and scheduling policy survive fork and
//! exec). Joining the container's cgroup resets the CPU affinity to the
//! cgroup's CPUs, so the affinity is set again on the process once crun has
//! made it ([`Tuning::place`]).
use serde_json::{Map, Value};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum TuningError {
    #[error("process.{field}: {msg}")]
    Invalid { field: &'static str, msg: String },
}

fn invalid(field: &'static str, msg: impl Into<String>) -> TuningError {
    TuningError::Invalid { field, msg: msg.into() }
}

// Values from the kernel's uapi headers (linux/ioprio.h, linux/sched.h).
const IOPRIO_WHO_PROCESS: libc::c_long = 1;
const IOPRIO_CLASS_SHIFT: u32 = 13;
const SCHED_DEADLINE: u32 = 6;
const SCHED_FLAG_RESET_ON_FORK: u64 = 0x01;

/// `struct sched_attr` of sched_setattr(2), version 0 (48 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SchedAttr {
    size: u32,
    policy: u32,
    flags: u64,
    nice: i32,
    priority: u32,
    runtime: u64,
    deadline: u64,
    period: u64,
}

/// Sets the CPU affinity of thread `tid` (0: the caller). A system call only.
fn set_affinity(tid: libc::pid_t, set: &libc::cpu_set_t) -> std::io::Result<()> {
    // SAFETY: `set` is a valid cpu_set_t of the size given; the kernel only reads it.
    let r = unsafe { libc::sched_setaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), set) };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// The checked settings, ready to apply without allocating (in a child
/// between fork and exec).
#[derive(Clone, Default)]
pub struct Tuning {
    ioprio: Option<libc::c_long>,
    sched: Option<SchedAttr>,
    affinity: Option<libc::cpu_set_t>,
}

impl std::fmt::Debug for Tuning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tuning")
            .field("ioprio", &self.ioprio)
            .field("sched", &self.sched)
            .field("affinity", &self.affinity.is_some())
            .finish()
    }
}

impl Tuning {
    /// Sets the CPU affinity on every thread of `pid`, once it is in its cgroup.
    pub fn place(&self, pid: i32) -> std::io::Result<()> {
        let Some(set) = &self.affinity else { return Ok(()) };
        for entry in std::fs::read_dir(format!("/proc/{pid}/task"))? {
            let Some(tid) = entry?.file_name().to_str().and_then(|n| n.parse::<libc::pid_t>().ok()) else {
                continue;
            };
            match set_affinity(tid, set) {
                // A thread that has exited since the listing is no failure.
                Err(e) if e.raw_os_error() != Some(libc::ESRCH) => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }

    pub fn has_affinity(&self) -> bool {
        self.affinity.is_some()
    }

    pub fn is_empty(&self) -> bool {
        self.ioprio.is_none() && self.sched.is_none() && self.affinity.is_none()
    }

    /// Applies the settings to the calling process. Only system calls: safe
    /// between fork and exec.
    pub fn apply_to_self(&self) -> std::io::Result<()> {
        if let Some(value) = self.ioprio {
            // SAFETY: ioprio_set takes three integers and touches no memory of ours.
            let r = unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0 as libc::c_long, value) };
            if r < 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        if let Some(attr) = &self.sched {
            // SAFETY: `attr` is a valid sched_attr whose size field is its size; the kernel only reads it.
            let r = unsafe {
                libc::syscall(
                    libc::SYS_sched_setattr,
                    0 as libc::c_long,
                    attr as *const SchedAttr,
                    0 as libc::c_long,
                )
            };
            if r < 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        if let Some(set) = &self.affinity {
            set_affinity(0, set)?;
        }
        Ok(())
    }
}

/// The guest's online CPUs (as in /sys/devices/system/cpu/online), asked
/// for only when a process names CPUs: not on every container's start.
pub type OnlineCpus<'a> = &'a dyn Fn() -> String;

/// Removes the three fields from `process` and checks them.
pub fn take(process: &mut Value, online: OnlineCpus<'_>) -> Result<Tuning, TuningError> {
    let Some(p) = process.as_object_mut() else {
        return Ok(Tuning::default());
    };
    let mut t = Tuning::default();
    if let Some(v) = p.remove("ioPriority").filter(|v| !v.is_null()) {
        t.ioprio = Some(io_priority(&v)?);
    }
    if let Some(v) = p.remove("scheduler").filter(|v| !v.is_null()) {
        t.sched = Some(scheduler(&v)?);
    }
    if let Some(v) = p.remove("execCPUAffinity").filter(|v| !v.is_null()) {
        t.affinity = Some(affinity(&v, &online())?);
    }
    Ok(t)
}

fn object<'a>(v: &'a Value, field: &'static str) -> Result<&'a Map<String, Value>, TuningError> {
    v.as_object().ok_or_else(|| invalid(field, "must be an object"))
}

fn int_in(o: &Map<String, Value>, key: &str, field: &'static str, lo: i64, hi: i64) -> Result<i64, TuningError> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(0),
        Some(v) => match v.as_i64() {
            Some(n) if (lo..=hi).contains(&n) => Ok(n),
            _ => Err(invalid(
                field,
                format!("{key} must be a whole number from {lo} to {hi}"),
            )),
        },
    }
}

fn io_priority(v: &Value) -> Result<libc::c_long, TuningError> {
    const F: &str = "ioPriority";
    let o = object(v, F)?;
    let class = match o.get("class").and_then(Value::as_str) {
        Some("IOPRIO_CLASS_RT") => 1,
        Some("IOPRIO_CLASS_BE") => 2,
        Some("IOPRIO_CLASS_IDLE") => 3,
        other => {
            return Err(invalid(
                F,
                format!("class {other:?} is not IOPRIO_CLASS_RT, IOPRIO_CLASS_BE or IOPRIO_CLASS_IDLE"),
            ))
        }
    };
    let priority = int_in(o, "priority", F, 0, 7)?;
    Ok((class << IOPRIO_CLASS_SHIFT) | priority)
}

fn scheduler(v: &Value) -> Result<SchedAttr, TuningError> {
    const F: &str = "scheduler";
    let o = object(v, F)?;
    let policy = match o.get("policy").and_then(Value::as_str) {
        Some("SCHED_OTHER") => 0,
        Some("SCHED_FIFO") => 1,
        Some("SCHED_RR") => 2,
        Some("SCHED_BATCH") => 3,
        Some("SCHED_ISO") => return Err(invalid(F, "policy SCHED_ISO does not exist in Linux")),
        Some("SCHED_IDLE") => 5,
        Some("SCHED_DEADLINE") => SCHED_DEADLINE,
        other => return Err(invalid(F, format!("policy {other:?} is not a Linux scheduling policy"))),
    };
    let mut flags = 0u64;
    if let Some(list) = o.get("flags").filter(|v| !v.is_null()) {
        let list = list.as_array().ok_or_else(|| invalid(F, "flags must be a list"))?;
        for f in list {
            flags |= match f.as_str() {
                Some("SCHED_FLAG_RESET_ON_FORK") => {
                    return Err(invalid(
                        F,
                        "flag SCHED_FLAG_RESET_ON_FORK cannot be honoured in a VM: the guest's crun starts the process as its child, which would lose the policy",
                    ))
                }
                Some("SCHED_FLAG_RECLAIM") => 0x02,
                Some("SCHED_FLAG_DL_OVERRUN") => 0x04,
                Some("SCHED_FLAG_KEEP_POLICY") => 0x08,
                Some("SCHED_FLAG_KEEP_PARAMS") => 0x10,
                Some("SCHED_FLAG_UTIL_CLAMP_MIN") => 0x20,
                Some("SCHED_FLAG_UTIL_CLAMP_MAX") => 0x40,
                other => return Err(invalid(F, format!("flag {other:?} is not a sched_setattr flag"))),
            };
        }
    }
    debug_assert_eq!(flags & SCHED_FLAG_RESET_ON_FORK, 0);
    let realtime = policy == 1 || policy == 2;
    let priority = int_in(o, "priority", F, 0, 99)?;
    if realtime && priority == 0 {
        return Err(invalid(F, "priority must be 1 to 99 for SCHED_FIFO and SCHED_RR"));
    }
    if !realtime && priority != 0 {
        return Err(invalid(
            F,
            "priority must be 0 unless the policy is SCHED_FIFO or SCHED_RR",
        ));
    }
    let nice = int_in(o, "nice", F, -20, 19)?;
    let runtime = int_in(o, "runtime", F, 0, i64::MAX)?;
    let deadline = int_in(o, "deadline", F, 0, i64::MAX)?;
    let period = int_in(o, "period", F, 0, i64::MAX)?;
    if policy == SCHED_DEADLINE && (runtime == 0 || runtime > deadline || (period != 0 && deadline > period)) {
        return Err(invalid(
            F,
            "SCHED_DEADLINE needs 0 < runtime <= deadline <= period (or no period)",
        ));
    }
    Ok(SchedAttr {
        size: std::mem::size_of::<SchedAttr>() as u32,
        policy,
        flags,
        // The ranges were checked above, so these conversions are exact.
        nice: nice as i32,
        priority: priority as u32,
        runtime: runtime as u64,
        deadline: deadline as u64,
        period: period as u64,
    })
}

/// A CPU list such as `0-3,7`; every CPU must be one the guest has online.
pub fn cpu_list(list: &str, online: &str, field: &'static str) -> Result<Vec<usize>, TuningError> {
    let have = parse_list(online).unwrap_or_default();
    let cpus = parse_list(list).ok_or_else(|| invalid(field, format!("{list:?} is not a CPU list such as 0-3,7")))?;
    if cpus.is_empty() {
        return Err(invalid(field, "the CPU list is empty"));
    }
    if let Some(c) = cpus.iter().find(|c| !have.contains(c)) {
        return Err(invalid(
            field,
            format!("CPU {c} is not in the VM, which has CPUs {}", online.trim()),
        ));
    }
    Ok(cpus)
}

/// The CPUs of a list such as `0-3,7` (each below CPU_SETSIZE), or None.
pub fn parse_list(s: &str) -> Option<Vec<usize>> {
    let mut out = Vec::new();
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (a.trim().parse::<usize>().ok()?, b.trim().parse::<usize>().ok()?),
            None => {
                let n = part.trim().parse::<usize>().ok()?;
                (n, n)
            }
        };
        // cpu_set_t holds CPU_SETSIZE (1024) CPUs.
        if lo > hi || hi >= 1024 {
            return None;
        }
        out.extend(lo..=hi);
    }
    Some(out)
}

fn affinity(v: &Value, online: &str) -> Result<libc::cpu_set_t, TuningError> {
    const F: &str = "execCPUAffinity";
    let o = object(v, F)?;
    // `initial` applies while the runtime sets the process up, `final` once
    // it runs; crun sets nothing up here that a CPU choice would change, so
    // the process gets `final` (or `initial` alone) from the start.
    let list = match (
        o.get("final").and_then(Value::as_str),
        o.get("initial").and_then(Value::as_str),
    ) {
        (Some(f), _) => f,
        (None, Some(i)) => i,
        (None, None) => return Err(invalid(F, "needs initial or final, a CPU list such as 0-3,7")),
    };
    let cpus = cpu_list(list, online, F)?;
    // SAFETY: cpu_set_t is plain bits; all zeroes is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for c in cpus {
        // SAFETY: parse_list keeps every CPU below CPU_SETSIZE, the set's size.
        unsafe { libc::CPU_SET(c, &mut set) };
    }
    Ok(set)
}

/// The guest's online CPUs.
pub fn online_cpus() -> String {
    std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap_or_else(|_| "0".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn takes_and_checks_the_fields() {
        let mut p = json!({"args":["a"],"ioPriority":{"class":"IOPRIO_CLASS_BE","priority":4},
            "scheduler":{"policy":"SCHED_BATCH","nice":5},"execCPUAffinity":{"initial":"0","final":"0-1"}});
        let t = take(&mut p, &|| "0-3\n".to_string()).unwrap();
        assert!(p.get("ioPriority").is_none() && p.get("scheduler").is_none() && p.get("execCPUAffinity").is_none());
        assert_eq!(t.ioprio, Some((2 << 13) | 4));
        let s = t.sched.unwrap();
        assert_eq!((s.policy, s.nice, s.size), (3, 5, 48));
        assert!(t.affinity.is_some());
        assert!(take(&mut json!({"args":["a"]}), &|| "0".to_string())
            .unwrap()
            .is_empty());
    }

    #[test]
    fn refuses_what_it_cannot_honour() {
        let err = |p: Value| take(&mut p.clone(), &|| "0-1".to_string()).unwrap_err().to_string();
        assert!(err(json!({"ioPriority":{"class":"BEST","priority":1}})).contains("process.ioPriority: class"));
        assert!(err(json!({"ioPriority":{"class":"IOPRIO_CLASS_RT","priority":8}})).contains("priority must be"));
        assert!(err(json!({"scheduler":{"policy":"SCHED_FIFO"}})).contains("1 to 99"));
        assert!(
            err(json!({"scheduler":{"policy":"SCHED_OTHER","flags":["SCHED_FLAG_RESET_ON_FORK"]}}))
                .contains("RESET_ON_FORK")
        );
        assert!(err(json!({"scheduler":{"policy":"SCHED_DEADLINE","runtime":10,"deadline":5}})).contains("runtime"));
        assert!(err(json!({"execCPUAffinity":{"final":"0-2"}})).contains("CPU 2 is not in the VM, which has CPUs 0-1"));
        assert!(err(json!({"execCPUAffinity":{"final":"x"}})).contains("not a CPU list"));
        assert!(err(json!({"execCPUAffinity":{}})).contains("needs initial or final"));
    }

    #[test]
    fn parses_cpu_lists() {
        assert_eq!(parse_list("0-2,5"), Some(vec![0, 1, 2, 5]));
        assert_eq!(parse_list("3-1"), None);
        assert_eq!(parse_list("2000"), None);
    }
}
