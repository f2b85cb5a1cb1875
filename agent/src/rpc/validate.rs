//! Field checks shared by the RPC handlers. Every message from the host is
//! checked here before the agent acts on it.
use crate::error::{AgentError, Result};
use crate::limits::{MAX_EXTRA_FDS, MAX_ID_LEN, MAX_STORAGES, MAX_STRING};
use crate::proto::agent::{ExtraFd, Storage};

fn id_chars_ok(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphanumeric() => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-')
}

/// A container or sandbox id.
pub fn id(value: &str, what: &str) -> Result<()> {
    if value.is_empty() || value.len() > MAX_ID_LEN || !id_chars_ok(value) {
        return Err(AgentError::InvalidArgument(format!(
            "{what} {value:?} must be 1 to {MAX_ID_LEN} characters of [A-Za-z0-9_.-], starting with a letter or digit"
        )));
    }
    Ok(())
}

/// A port stream's id (forward.rs): decimal digits.
pub fn port_stream_id(value: &str) -> Result<()> {
    if value.is_empty() || value.len() > 20 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AgentError::InvalidArgument(format!("port stream id {value:?} must be 1 to 20 decimal digits")));
    }
    Ok(())
}

/// An exec id: empty (the init process) or an id.
pub fn exec_id(value: &str) -> Result<()> {
    if value.is_empty() {
        return Ok(());
    }
    id(value, "exec_id")
}

pub fn string(value: &str, what: &str) -> Result<()> {
    if value.len() > MAX_STRING {
        return Err(AgentError::InvalidArgument(format!("{what} is longer than {MAX_STRING} bytes")));
    }
    Ok(())
}

pub fn storages(list: &[Storage]) -> Result<()> {
    if list.len() > MAX_STORAGES {
        return Err(AgentError::InvalidArgument(format!("more than {MAX_STORAGES} storages")));
    }
    for s in list {
        string(&s.driver, "storage driver")?;
        string(&s.source, "storage source")?;
        string(&s.fstype, "storage fstype")?;
        string(&s.mount_point, "storage mount_point")?;
        for o in &s.options {
            string(o, "storage option")?;
        }
    }
    Ok(())
}

/// The extra descriptors a process asks for: whether each is an output.
pub fn extra_fds(list: &[ExtraFd]) -> Result<Vec<bool>> {
    if list.len() > MAX_EXTRA_FDS {
        return Err(AgentError::InvalidArgument(format!("more than {MAX_EXTRA_FDS} extra descriptors")));
    }
    Ok(list.iter().map(|x| x.output).collect())
}

/// A stream's descriptor number: 0 (the call's own stream) or an extra one (3 or more).
pub fn stream_fd(fd: u32) -> Result<u32> {
    if fd == 0 || (3..3 + MAX_EXTRA_FDS as u32).contains(&fd) {
        return Ok(fd);
    }
    Err(AgentError::InvalidArgument(format!("descriptor {fd} is neither 0 nor an extra descriptor (3 to {})", 2 + MAX_EXTRA_FDS)))
}

pub fn signal(value: u32) -> Result<i32> {
    if value == 0 || value > 64 {
        return Err(AgentError::InvalidArgument(format!("signal {value} is not between 1 and 64")));
    }
    Ok(value as i32)
}

/// Any name sethostname(2) takes is set as given (as runc and crun do):
/// up to 64 bytes. Only a NUL, which would cut it short, and other control
/// characters, which no tool prints sanely, are refused.
pub fn hostname(value: &str) -> Result<()> {
    if value.len() > 64 {
        return Err(AgentError::InvalidArgument(format!("hostname {value:?} is longer than 64 bytes")));
    }
    if value.chars().any(|c| c.is_control()) {
        return Err(AgentError::InvalidArgument(format!("hostname {value:?} holds a control character")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(id("abc-1.2_x", "id").is_ok());
        assert!(id("", "id").is_err());
        assert!(id("-a", "id").is_err());
        assert!(id("a/b", "id").is_err());
        assert!(id("../x", "id").is_err());
        assert!(id(&"a".repeat(129), "id").is_err());
        assert!(exec_id("").is_ok());
    }

    #[test]
    fn signals_and_hostnames() {
        assert_eq!(signal(15).unwrap(), 15);
        assert!(signal(0).is_err());
        assert!(signal(65).is_err());
        assert!(hostname("hako-1").is_ok());
        assert!(hostname("test-tmpkm_3vk0t").is_ok());
        assert!(hostname(&"a".repeat(64)).is_ok());
        assert!(hostname(&"a".repeat(65)).is_err());
        assert!(hostname("nul\0name").is_err());
        assert!(hostname("new\nline").is_err());
    }
}
