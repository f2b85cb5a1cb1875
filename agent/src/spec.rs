//! Checks and rewrites the OCI spec the host sends, for use inside the guest:
//! the rootfs path becomes the guest path, hooks are dropped (the host runs
//! them), namespace paths and host cgroup paths are meaningless here (a
//! pod's network namespace becomes the sandbox's), and LSM labels refer to
//! the host's policies.
use serde_json::{Map, Value};
use thiserror::Error;

use crate::error::AgentError;
use crate::limits::{MAX_SPEC_BYTES, MAX_STRING};

#[derive(Debug, Error)]
pub enum SpecError {
    #[error("OCI spec of {0} bytes is larger than {MAX_SPEC_BYTES}")]
    TooLarge(usize),
    #[error("OCI spec is not valid JSON: {0}")]
    Json(String),
    #[error("OCI spec: {0}")]
    Invalid(String),
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
pub fn container_spec(json: &[u8], rootfs: &str, cgroup_path: &str) -> Result<Value, SpecError> {
    let mut spec = parse(json)?;
    match spec.get("ociVersion") {
        Some(Value::String(_)) => {}
        _ => return Err(invalid("ociVersion must be a string")),
    }
    let process = spec.get_mut("process").ok_or_else(|| invalid("process is required"))?;
    check_process(process)?;
    strip_process_labels(process);
    let readonly = spec
        .get("root")
        .and_then(|r| r.get("readonly"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut root = Map::new();
    root.insert("path".into(), Value::String(rootfs.into()));
    root.insert("readonly".into(), Value::Bool(readonly));
    spec.insert("root".into(), Value::Object(root));
    spec.remove("hooks");
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
    if let Some(ns) = linux.get_mut("namespaces") {
        let list = ns.as_array_mut().ok_or_else(|| invalid("linux.namespaces must be a list"))?;
        for n in list.iter() {
            let o = n.as_object().ok_or_else(|| invalid("linux.namespaces entries must be objects"))?;
            if !o.get("type").map(Value::is_string).unwrap_or(false) {
                return Err(invalid("linux.namespaces entries need a type"));
            }
        }
        list.retain(|n| !joins_sandbox_network(n));
        for n in list.iter_mut() {
            // A path names a namespace of the host, which the guest cannot join.
            if let Some(o) = n.as_object_mut() {
                o.remove("path");
            }
        }
    }
    Ok(Value::Object(spec))
}

/// A network namespace given by path is the pod's (containerd, CRI, docker,
/// podman). Its counterpart here is the sandbox's network, which is the
/// guest's own: the container stays in it, so the containers of one pod share
/// their interfaces and loopback, as they do on a host. A network namespace
/// without a path asks for a private one, and crun makes it.
fn joins_sandbox_network(n: &Value) -> bool {
    n.get("type").and_then(Value::as_str) == Some("network") && n.get("path").is_some()
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

/// An exec process, checked and rewritten for the guest.
pub fn exec_process(json: &[u8]) -> Result<Value, SpecError> {
    let mut p = Value::Object(parse(json)?);
    check_process(&p)?;
    strip_process_labels(&mut p);
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = r#"{"ociVersion":"1.0.2","process":{"args":["sh"],"cwd":"/","env":["A=1"],"apparmorProfile":"x"},
      "root":{"path":"rootfs","readonly":true},"hooks":{"prestart":[{"path":"/bin/true"}]},
      "linux":{"cgroupsPath":"system.slice:x:y","namespaces":[{"type":"pid"},{"type":"network","path":"/proc/1/ns/net"}],
               "resources":{"blockIO":{"weight":0},"memory":{"limit":1}}}}"#;

    #[test]
    fn update_resources_lose_host_only_limits() {
        let r = resources(br#"{"blockIO":{"weight":10},"network":{"classID":1},"memory":{"limit":1}}"#).unwrap();
        assert!(r.get("blockIO").is_none());
        assert!(r.get("network").is_none());
        assert_eq!(r["memory"]["limit"], 1);
    }

    #[test]
    fn rewrites_for_the_guest() {
        let v = container_spec(SPEC.as_bytes(), "/run/hako/shared/c1/rootfs", "/hako/c1").unwrap();
        assert_eq!(v["root"]["path"], "/run/hako/shared/c1/rootfs");
        assert_eq!(v["root"]["readonly"], true);
        assert!(v.get("hooks").is_none());
        assert_eq!(v["linux"]["cgroupsPath"], "/hako/c1");
        // The pod's network namespace becomes the sandbox's (the guest's).
        assert_eq!(v["linux"]["namespaces"], serde_json::json!([{"type": "pid"}]));
        assert!(v["process"].get("apparmorProfile").is_none());
        assert!(v["linux"]["resources"].get("blockIO").is_none());
        assert_eq!(v["linux"]["resources"]["memory"]["limit"], 1);
    }

    #[test]
    fn namespaces_lose_host_paths_and_keep_private_networks() {
        let spec = r#"{"ociVersion":"1","process":{"args":["a"],"cwd":"/"},"linux":{"namespaces":[
            {"type":"network"},{"type":"ipc","path":"/proc/9/ns/ipc"},{"type":"mount"}]}}"#;
        let v = container_spec(spec.as_bytes(), "/r", "/c").unwrap();
        let want = serde_json::json!([{"type": "network"}, {"type": "ipc"}, {"type": "mount"}]);
        assert_eq!(v["linux"]["namespaces"], want);
        let untyped = r#"{"ociVersion":"1","process":{"args":["a"],"cwd":"/"},"linux":{"namespaces":[{"path":"/x"}]}}"#;
        assert!(matches!(container_spec(untyped.as_bytes(), "/r", "/c"), Err(SpecError::Invalid(_))));
    }

    #[test]
    fn rejects_bad_specs() {
        assert!(matches!(container_spec(b"{", "/r", "/c"), Err(SpecError::Json(_))));
        assert!(matches!(container_spec(b"[]", "/r", "/c"), Err(SpecError::Invalid(_))));
        let no_args = r#"{"ociVersion":"1","process":{"args":[],"cwd":"/"}}"#;
        assert!(container_spec(no_args.as_bytes(), "/r", "/c").is_err());
        let rel_cwd = r#"{"ociVersion":"1","process":{"args":["a"],"cwd":"x"}}"#;
        assert!(container_spec(rel_cwd.as_bytes(), "/r", "/c").is_err());
        let big = vec![b' '; MAX_SPEC_BYTES + 1];
        assert!(matches!(container_spec(&big, "/r", "/c"), Err(SpecError::TooLarge(_))));
    }
}
