//! Checks and rewrites the OCI spec the host sends, for use inside the guest:
//! the rootfs path becomes the guest path, hooks are dropped but for
//! createContainer and startContainer (which run in the container's
//! namespaces, here: crun runs them; the host runs the rest), namespace paths and host cgroup paths are meaningless here (a
//! pod's network namespace becomes the sandbox's), and LSM labels refer to
//! the host's policies.
use serde_json::{Map, Value};
use thiserror::Error;

use crate::error::AgentError;
use crate::limits::{MAX_SPEC_BYTES, MAX_STRING};
use crate::tuning::{self, Tuning, TuningError};

#[derive(Debug, Error)]
pub enum SpecError {
    #[error("OCI spec of {0} bytes is larger than {MAX_SPEC_BYTES}")]
    TooLarge(usize),
    #[error("OCI spec is not valid JSON: {0}")]
    Json(String),
    #[error("OCI spec: {0}")]
    Invalid(String),
}

impl From<TuningError> for SpecError {
    fn from(e: TuningError) -> SpecError {
        SpecError::Invalid(e.to_string())
    }
}

impl From<SpecError> for AgentError {
    fn from(e: SpecError) -> AgentError {
        AgentError::InvalidArgument(e.to_string())
    }
}

fn parse(json: &[u8]) -> Result<Map<String, Value>, SpecError> {
    if json.len() > MAX_SPEC_BYTES {
        return Err(SpecError::TooLarge(json.len()));
    }
    match serde_json::from_slice::<Value>(json) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(SpecError::Invalid("must be a JSON object".into())),
        Err(e) => Err(SpecError::Json(e.to_string())),
    }
}

fn invalid(msg: impl Into<String>) -> SpecError {
    SpecError::Invalid(msg.into())
}

fn string_list(v: Option<&Value>, what: &str) -> Result<(), SpecError> {
    match v {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Array(items)) => {
            for i in items {
                match i.as_str() {
                    Some(s) if s.len() <= MAX_STRING * 8 => {}
                    _ => return Err(invalid(format!("{what} must be a list of strings"))),
                }
            }
            Ok(())
        }
        Some(_) => Err(invalid(format!("{what} must be a list of strings"))),
    }
}

/// Validates an OCI `process` object.
pub fn check_process(p: &Value) -> Result<(), SpecError> {
    let p = p.as_object().ok_or_else(|| invalid("process must be an object"))?;
    match p.get("args") {
        Some(Value::Array(a)) if !a.is_empty() => string_list(p.get("args"), "process.args")?,
        _ => return Err(invalid("process.args must be a non-empty list of strings")),
    }
    string_list(p.get("env"), "process.env")?;
    match p.get("cwd") {
        Some(Value::String(c)) if c.starts_with('/') => {}
        _ => return Err(invalid("process.cwd must be an absolute path")),
    }
    if let Some(t) = p.get("terminal") {
        if !t.is_boolean() {
            return Err(invalid("process.terminal must be true or false"));
        }
    }
    if let Some(u) = p.get("user") {
        let u = u.as_object().ok_or_else(|| invalid("process.user must be an object"))?;
        for k in ["uid", "gid"] {
            if let Some(v) = u.get(k) {
                if v.as_u64().map(|n| n > u32::MAX as u64).unwrap_or(true) {
                    return Err(invalid(format!("process.user.{k} must be a 32-bit unsigned number")));
                }
            }
        }
    }
    Ok(())
}

pub fn wants_terminal(process: &Value) -> bool {
    process.get("terminal").and_then(Value::as_bool).unwrap_or(false)
}

fn strip_process_labels(p: &mut Value) {
    if let Some(o) = p.as_object_mut() {
        o.remove("apparmorProfile");
        o.remove("selinuxLabel");
    }
}

/// The container spec, rewritten for the guest.
pub fn container_spec(
    json: &[u8],
    rootfs: &str,
    cgroup_path: &str,
    online_cpus: tuning::OnlineCpus<'_>,
    joinable: Joinable<'_>,
) -> Result<GuestSpec, SpecError> {
    let mut spec = parse(json)?;
    match spec.get("ociVersion") {
        Some(Value::String(_)) => {}
        _ => return Err(invalid("ociVersion must be a string")),
    }
    let process = spec.get_mut("process").ok_or_else(|| invalid("process is required"))?;
    check_process(process)?;
    strip_process_labels(process);
    let tuning = tuning::take(process, online_cpus)?;
    let readonly = spec
        .get("root")
        .and_then(|r| r.get("readonly"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut root = Map::new();
    root.insert("path".into(), Value::String(rootfs.into()));
    root.insert("readonly".into(), Value::Bool(readonly));
    spec.insert("root".into(), Value::Object(root));
    keep_guest_hooks(&mut spec, rootfs)?;
    if let Some(m) = spec.get("mounts") {
        if !m.is_array() {
            return Err(invalid("mounts must be a list"));
        }
    }
    let linux = spec.entry("linux").or_insert_with(|| Value::Object(Map::new()));
    let linux = linux.as_object_mut().ok_or_else(|| invalid("linux must be an object"))?;
    linux.insert("cgroupsPath".into(), Value::String(cgroup_path.into()));
    linux.remove("mountLabel");
    if let Some(resources) = linux.get_mut("resources").and_then(Value::as_object_mut) {
        strip_host_resources(resources);
    }
    let join = joins_sandbox_network(linux)?;
    let network_sysctls = if join { take_network_sysctls(linux)? } else { Vec::new() };
    if let Some(list) = linux.get_mut("namespaces").and_then(Value::as_array_mut) {
        list.retain_mut(|n| {
            if join && n.get("type").and_then(Value::as_str) == Some("network") {
                return false;
            }
            // A path names a namespace of the host, which the guest cannot join,
            // unless it is a pod's UTS, IPC or PID namespace (a shared PID
            // namespace: shareProcessNamespace), named by its sandbox
            // container's pid (which the host knows as the guest's: CRI).
            if let Some(o) = n.as_object_mut() {
                let kind = o.get("type").and_then(Value::as_str).unwrap_or("");
                let keep = matches!(kind, "uts" | "ipc" | "pid")
                    && o.get("path").and_then(Value::as_str).and_then(|p| container_ns_pid(p, kind)).is_some_and(joinable);
                if !keep {
                    o.remove("path");
                }
            }
            true
        });
    }
    Ok(GuestSpec { spec: Value::Object(spec), network_sysctls, tuning })
}

/// Whether a guest pid is the init process of a container of this sandbox,
/// whose namespaces a container of the same pod may join.
pub type Joinable<'a> = &'a dyn Fn(i32) -> bool;

/// The pid in `/proc/<pid>/ns/<kind>`, the only form of path kept.
fn container_ns_pid(path: &str, kind: &str) -> Option<i32> {
    let pid = path.strip_prefix("/proc/")?.strip_suffix(&format!("/ns/{kind}"))?;
    if pid.is_empty() || pid.len() > 10 || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    pid.parse().ok().filter(|p| *p > 1)
}

/// A container's spec as crun gets it in the guest, and the `net.*` sysctls
/// it asked for, which apply to the sandbox's network (the guest's) instead.
pub struct GuestSpec {
    pub spec: Value,
    pub network_sysctls: Vec<(String, String)>,
    /// The process's scheduling, which the agent applies (crun ignores it).
    pub tuning: Tuning,
}

/// Whether a namespace entry names an existing namespace (a non-empty path).
fn names_a_namespace(n: &Value) -> bool {
    n.get("path").and_then(Value::as_str).is_some_and(|p| !p.is_empty())
}

/// A network namespace given by path is the pod's (containerd, CRI, docker,
/// podman). Its counterpart here is the sandbox's network, which is the
/// guest's own: the container stays in it, so the containers of one pod share
/// their interfaces and loopback, as they do on a host. A network namespace
/// without a path asks for a private one, and crun makes it; so does one in a
/// container with a user namespace, whose own network namespace lets it
/// mount a sysfs of its own.
fn joins_sandbox_network(linux: &Map<String, Value>) -> Result<bool, SpecError> {
    let list = match linux.get("namespaces") {
        None => return Ok(false),
        Some(Value::Array(l)) => l,
        Some(_) => return Err(invalid("linux.namespaces must be a list")),
    };
    let mut named_network = false;
    let mut user = false;
    for n in list {
        let o = n.as_object().ok_or_else(|| invalid("linux.namespaces entries must be objects"))?;
        match o.get("type").and_then(Value::as_str) {
            Some("network") => named_network |= names_a_namespace(n),
            Some("user") => user = true,
            Some(_) => {}
            None => return Err(invalid("linux.namespaces entries need a type")),
        }
    }
    Ok(named_network && !user)
}

/// Where a sysctl lives under /proc/sys, if its name is one: dotted
/// (`net.ipv4.ping_group_range`), or with slashes, whose parts may then hold
/// dots (`net/ipv4/conf/eth0.100/rp_filter`). Parts are letters, digits,
/// `_`, `-` (and `.` in the slash form), never empty, `.` or `..`.
pub fn sysctl_path(key: &str) -> Option<String> {
    let slashed = key.contains('/');
    let parts: Vec<&str> = if slashed { key.split('/').collect() } else { key.split('.').collect() };
    let part_ok = |p: &&str| {
        !p.is_empty()
            && *p != "."
            && *p != ".."
            && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || (slashed && c == '.'))
    };
    if parts.len() < 2 || !parts.iter().all(part_ok) {
        return None;
    }
    Some(format!("/proc/sys/{}", parts.join("/")))
}

/// Takes the `net.*` entries out of `linux.sysctl` (crun refuses them without
/// a network namespace of the container's own), checked: names that
/// [`sysctl_path`] accepts, values of at most MAX_STRING bytes on one line.
fn take_network_sysctls(linux: &mut Map<String, Value>) -> Result<Vec<(String, String)>, SpecError> {
    let Some(sysctl) = linux.get_mut("sysctl") else { return Ok(Vec::new()) };
    let map = match sysctl {
        Value::Null => return Ok(Vec::new()),
        Value::Object(m) => m,
        _ => return Err(invalid("linux.sysctl must be an object")),
    };
    let keys: Vec<String> = map.keys().filter(|k| k.starts_with("net.") || k.starts_with("net/")).cloned().collect();
    let mut out = Vec::with_capacity(keys.len());
    for key in keys {
        let value = map.remove(&key).unwrap_or(Value::Null);
        let value = value.as_str().ok_or_else(|| invalid(format!("linux.sysctl {key:?} must be a string")))?;
        let name_ok = key.len() <= MAX_STRING && sysctl_path(&key).is_some();
        if !name_ok {
            return Err(invalid(format!("linux.sysctl {key:?} is not a sysctl name")));
        }
        if value.len() > MAX_STRING || value.contains('\n') {
            return Err(invalid(format!("linux.sysctl {key:?} has an invalid value")));
        }
        out.push((key, value.to_string()));
    }
    Ok(out)
}

/// Drops the limits that cannot apply in the guest, at creation and update alike.
fn strip_host_resources(resources: &mut Map<String, Value>) {
    // Block I/O limits name the host's devices, and the guest has no block
    // device of the container's (its files come over virtio-fs).
    resources.remove("blockIO");
    // net_cls / net_prio exist only in cgroup v1; the guest runs v2.
    resources.remove("network");
}

/// Resources for `crun update`, rewritten for the guest like a spec's.
pub fn resources(json: &[u8]) -> Result<Value, SpecError> {
    let mut r = parse(json)?;
    strip_host_resources(&mut r);
    Ok(Value::Object(r))
}

/// An exec process, checked and rewritten for the guest, and its scheduling.
pub fn exec_process(json: &[u8], online_cpus: tuning::OnlineCpus<'_>) -> Result<(Value, Tuning), SpecError> {
    let mut p = Value::Object(parse(json)?);
    check_process(&p)?;
    strip_process_labels(&mut p);
    let tuning = tuning::take(&mut p, online_cpus)?;
    Ok((p, tuning))
}

/// The hooks that run in the container's namespaces, which are in this
/// guest: createContainer and startContainer, checked; every other kind is
/// the host's and goes. crun looks a createContainer hook up before it
/// enters the container's root (where runc would find the host's file):
/// here the path is the container's, so it is made one under `rootfs`.
fn keep_guest_hooks(spec: &mut Map<String, Value>, rootfs: &str) -> Result<(), SpecError> {
    let Some(hooks) = spec.remove("hooks") else { return Ok(()) };
    let Value::Object(mut hooks) = hooks else { return Err(invalid("hooks must be an object")) };
    let mut kept = Map::new();
    for kind in ["createContainer", "startContainer"] {
        let Some(list) = hooks.remove(kind) else { continue };
        let Value::Array(mut list) = list else { return Err(invalid(&format!("hooks.{kind} must be a list"))) };
        for h in &mut list {
            let path = h.get("path").and_then(Value::as_str).unwrap_or("").to_string();
            if !path.starts_with('/') || path.split('/').any(|c| c == "..") {
                return Err(invalid(&format!("hooks.{kind}: path {path:?} must be absolute, without ..")));
            }
            if kind == "createContainer" {
                if let Some(o) = h.as_object_mut() {
                    o.insert("path".into(), Value::String(format!("{}{path}", rootfs.trim_end_matches('/'))));
                }
            }
            for field in ["args", "env"] {
                match h.get(field) {
                    None => {}
                    Some(Value::Array(a)) if a.iter().all(Value::is_string) => {}
                    Some(_) => return Err(invalid(&format!("hooks.{kind}: {field} must be a list of strings"))),
                }
            }
            if let Some(t) = h.get("timeout") {
                if !t.as_i64().is_some_and(|t| t > 0) {
                    return Err(invalid(&format!("hooks.{kind}: timeout must be a positive integer")));
                }
            }
        }
        kept.insert(kind.into(), Value::Array(list));
    }
    if !kept.is_empty() {
        spec.insert("hooks".into(), Value::Object(kept));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = r#"{"ociVersion":"1.0.2","process":{"args":["sh"],"cwd":"/","env":["A=1"],"apparmorProfile":"x"},
      "root":{"path":"rootfs","readonly":true},"hooks":{"prestart":[{"path":"/bin/true"}]},
      "linux":{"cgroupsPath":"system.slice:x:y","namespaces":[{"type":"pid"},{"type":"network","path":"/proc/1/ns/net"}],
               "resources":{"blockIO":{"weight":0},"memory":{"limit":1}}}}"#;

    #[test]
    fn a_pods_uts_ipc_and_pid_namespaces_are_joined_by_its_containers_pid_only() {
        let spec = SPEC.replace(
            r#"{"type":"pid"},"#,
            r#"{"type":"pid","path":"/proc/7/ns/pid"},{"type":"uts","path":"/proc/7/ns/uts"},{"type":"ipc","path":"/proc/8/ns/ipc"},{"type":"mount","path":"/proc/7/ns/mnt"},"#,
        );
        let v = container_spec(spec.as_bytes(), "/r", "/c", &|| "0".to_string(), &|pid| pid == 7).unwrap().spec;
        let ns = serde_json::to_string(&v["linux"]["namespaces"]).unwrap();
        assert!(ns.contains(r#"{"path":"/proc/7/ns/uts","type":"uts"}"#), "{ns}");
        assert!(ns.contains(r#"{"path":"/proc/7/ns/pid","type":"pid"}"#), "{ns}");
        // Not a container of this sandbox, or not a kind shared in a pod: a new one.
        assert!(ns.contains(r#"{"type":"ipc"}"#), "{ns}");
        assert!(ns.contains(r#"{"type":"mount"}"#), "{ns}");
        assert_eq!(container_ns_pid("/proc/12/ns/uts", "uts"), Some(12));
        for bad in ["/proc/1/ns/uts", "/proc/12/ns/ipc", "/proc/x/ns/uts", "/proc//ns/uts", "/proc/12/../1/ns/uts", "/host/proc/12/ns/uts"] {
            assert_eq!(container_ns_pid(bad, "uts"), None, "{bad}");
        }
    }

    #[test]
    fn update_resources_lose_host_only_limits() {
        let r = resources(br#"{"blockIO":{"weight":10},"network":{"classID":1},"memory":{"limit":1}}"#).unwrap();
        assert!(r.get("blockIO").is_none());
        assert!(r.get("network").is_none());
        assert_eq!(r["memory"]["limit"], 1);
    }

    #[test]
    fn rewrites_for_the_guest() {
        let v = rewrite(SPEC.as_bytes(), "/run/hako/shared/c1/rootfs", "/hako/c1").unwrap().spec;
        assert_eq!(v["root"]["path"], "/run/hako/shared/c1/rootfs");
        assert_eq!(v["root"]["readonly"], true);
        assert!(v.get("hooks").is_none());
        assert_eq!(v["linux"]["cgroupsPath"], "/hako/c1");
        let guest = SPEC.replace(
            r#""prestart":[{"path":"/bin/true"}]"#,
            r#""prestart":[{"path":"/bin/true"}],"startContainer":[{"path":"/bin/sh","args":["sh"],"timeout":5}]"#,
        );
        let v = rewrite(guest.as_bytes(), "/r", "/hako/c1").unwrap().spec;
        assert_eq!(v["hooks"], serde_json::json!({"startContainer": [{"path": "/bin/sh", "args": ["sh"], "timeout": 5}]}));
        let created = SPEC.replace(r#""prestart":[{"path":"/bin/true"}]"#, r#""createContainer":[{"path":"/h"}]"#);
        let v = rewrite(created.as_bytes(), "/r/", "/hako/c1").unwrap().spec;
        assert_eq!(v["hooks"]["createContainer"][0]["path"], "/r/h");
        for path in ["rel", "/../x"] {
            let bad = SPEC.replace(r#""prestart":[{"path":"/bin/true"}]"#, &format!(r#""createContainer":[{{"path":"{path}"}}]"#));
            assert!(rewrite(bad.as_bytes(), "/r", "/hako/c1").is_err());
        }
        // The pod's network namespace becomes the sandbox's (the guest's).
        assert_eq!(v["linux"]["namespaces"], serde_json::json!([{"type": "pid"}]));
        assert!(v["process"].get("apparmorProfile").is_none());
        assert!(v["linux"]["resources"].get("blockIO").is_none());
        assert_eq!(v["linux"]["resources"]["memory"]["limit"], 1);
    }

    /// The rewrite with one CPU online and no container to join.
    fn rewrite(json: &[u8], rootfs: &str, cgroup: &str) -> Result<GuestSpec, SpecError> {
        container_spec(json, rootfs, cgroup, &|| "0".to_string(), &|_| false)
    }

    fn with_linux(linux: &str) -> Result<GuestSpec, SpecError> {
        let spec = format!(r#"{{"ociVersion":"1","process":{{"args":["a"],"cwd":"/"}},"linux":{linux}}}"#);
        rewrite(spec.as_bytes(), "/r", "/c")
    }

    #[test]
    fn namespaces_lose_host_paths_and_keep_private_networks() {
        let g = with_linux(r#"{"namespaces":[{"type":"network"},{"type":"ipc","path":"/proc/9/ns/ipc"},{"type":"mount"}],
            "sysctl":{"net.core.somaxconn":"9"}}"#)
        .unwrap();
        let want = serde_json::json!([{"type": "network"}, {"type": "ipc"}, {"type": "mount"}]);
        assert_eq!(g.spec["linux"]["namespaces"], want);
        // A private network namespace keeps its sysctls: crun sets them there.
        assert_eq!(g.spec["linux"]["sysctl"]["net.core.somaxconn"], "9");
        assert!(g.network_sysctls.is_empty());
        // An empty path asks for a new namespace, as no path does.
        let g = with_linux(r#"{"namespaces":[{"type":"network","path":""}]}"#).unwrap();
        assert_eq!(g.spec["linux"]["namespaces"], serde_json::json!([{"type": "network"}]));
        // With a user namespace, the container keeps a network namespace of its own.
        let g = with_linux(r#"{"namespaces":[{"type":"user"},{"type":"network","path":"/x"}],"sysctl":{"net.a":"1"}}"#)
            .unwrap();
        assert_eq!(g.spec["linux"]["namespaces"], serde_json::json!([{"type": "user"}, {"type": "network"}]));
        assert_eq!(g.spec["linux"]["sysctl"]["net.a"], "1");
        assert!(g.network_sysctls.is_empty());
        assert!(matches!(with_linux(r#"{"namespaces":null}"#), Err(SpecError::Invalid(_))));
        assert!(matches!(with_linux(r#"{"namespaces":[{"path":"/x"}]}"#), Err(SpecError::Invalid(_))));
    }

    #[test]
    fn a_pods_network_sysctls_go_to_the_sandbox() {
        let g = with_linux(r#"{"namespaces":[{"type":"network","path":"/var/run/netns/p"}],
            "sysctl":{"net.ipv4.ping_group_range":"0 2147483647","kernel.msgmax":"9000"}}"#)
        .unwrap();
        assert_eq!(g.network_sysctls, vec![("net.ipv4.ping_group_range".to_string(), "0 2147483647".to_string())]);
        assert_eq!(g.spec["linux"]["sysctl"], serde_json::json!({"kernel.msgmax": "9000"}));
        let pod = |sysctl: &str| with_linux(&format!(r#"{{"namespaces":[{{"type":"network","path":"/p"}}],"sysctl":{sysctl}}}"#));
        let g = pod(r#"{"net/core/somaxconn":"9","netfoo.x":"1"}"#).unwrap();
        assert_eq!(g.network_sysctls, vec![("net/core/somaxconn".to_string(), "9".to_string())]);
        assert_eq!(sysctl_path("net/ipv4/conf/eth0.100/rp_filter").as_deref(), Some("/proc/sys/net/ipv4/conf/eth0.100/rp_filter"));
        assert_eq!(sysctl_path("net.ipv4.ping_group_range").as_deref(), Some("/proc/sys/net/ipv4/ping_group_range"));
        assert_eq!(sysctl_path("net/../kernel/x"), None);
        assert_eq!(g.spec["linux"]["sysctl"], serde_json::json!({"netfoo.x": "1"}));
        for bad in [r#"{"net.ipv4..x":"1"}"#, r#"{"net/../../kernel/x":"1"}"#, r#"{"net.a b":"1"}"#, r#"{"net.a":1}"#, r#"{"net.a":"1\n2"}"#, "[]"] {
            assert!(matches!(pod(bad), Err(SpecError::Invalid(_))), "{bad}");
        }
    }

    #[test]
    fn rejects_bad_specs() {
        assert!(matches!(rewrite(b"{", "/r", "/c"), Err(SpecError::Json(_))));
        assert!(matches!(rewrite(b"[]", "/r", "/c"), Err(SpecError::Invalid(_))));
        let no_args = r#"{"ociVersion":"1","process":{"args":[],"cwd":"/"}}"#;
        assert!(rewrite(no_args.as_bytes(), "/r", "/c").is_err());
        let rel_cwd = r#"{"ociVersion":"1","process":{"args":["a"],"cwd":"x"}}"#;
        assert!(rewrite(rel_cwd.as_bytes(), "/r", "/c").is_err());
        let big = vec![b' '; MAX_SPEC_BYTES + 1];
        assert!(matches!(rewrite(&big, "/r", "/c"), Err(SpecError::TooLarge(_))));
    }
}
