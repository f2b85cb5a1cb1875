//! `fs ROOT`: a batch of file operations confined beneath ROOT, read as a
//! JSON array on stdin and applied in order; the first failure stops the
//! batch. One process per batch keeps a container's staging to one exec.
//!
//!   {"op":"mkdir","path":P}                  directories, as mkdir -p (0711)
//!   {"op":"file","path":P}                   an empty regular file (0600)
//!   {"op":"bind","source":ABS,"path":P,"recursive":B,"readonly":B,"follow":B}
//!   {"op":"share","host":P,"view":P}         the staging tree (mounts.rs)
//!   {"op":"unmount","path":P}                detach what is mounted on P
//!   {"op":"remove","path":P}                 remove P, never into a mount
use serde_json::Value;
use thiserror::Error;

use crate::beneath::{PathError, Root, STAGING_DIR_MODE};
use crate::mounts::{self, BindOptions, MountError};
use crate::remove::{self, RemoveError};

/// Operations in one batch, at most.
const MAX_OPS: usize = 1024;

#[derive(Debug, Error)]
pub enum OpError {
    #[error("operation {index}: {message}")]
    Invalid { index: usize, message: String },
    #[error(transparent)]
    Path(#[from] PathError),
    #[error(transparent)]
    Mount(#[from] MountError),
    #[error(transparent)]
    Remove(#[from] RemoveError),
}

fn field<'a>(op: &'a Value, index: usize, name: &str) -> Result<&'a str, OpError> {
    op.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| OpError::Invalid { index, message: format!("needs the string field {name:?}") })
}

fn flag(op: &Value, name: &str) -> bool {
    op.get(name).and_then(Value::as_bool).unwrap_or(false)
}

fn apply(root: &Root, op: &Value, index: usize) -> Result<(), OpError> {
    match field(op, index, "op")? {
        "mkdir" => {
            root.mkdir_all(field(op, index, "path")?, STAGING_DIR_MODE)?;
        }
        "file" => {
            root.make_file(field(op, index, "path")?, 0o600)?;
        }
        "bind" => {
            let o = BindOptions {
                recursive: flag(op, "recursive"),
                readonly: flag(op, "readonly"),
                follow: flag(op, "follow"),
            };
            mounts::bind(root, field(op, index, "source")?, field(op, index, "path")?, o)?;
        }
        "share" => mounts::share(root, field(op, index, "host")?, field(op, index, "view")?)?,
        "unmount" => mounts::unmount(root, field(op, index, "path")?)?,
        "remove" => remove::remove(root, field(op, index, "path")?)?,
        other => return Err(OpError::Invalid { index, message: format!("unknown op {other:?}") }),
    }
    Ok(())
}

/// Applies the batch `input` beneath `root`.
pub fn run(root: &str, input: &str) -> Result<(), OpError> {
    let ops: Value = serde_json::from_str(input)
        .map_err(|e| OpError::Invalid { index: 0, message: format!("the batch is not JSON: {e}") })?;
    let ops = ops
        .as_array()
        .ok_or_else(|| OpError::Invalid { index: 0, message: "the batch must be a JSON array".into() })?;
    if ops.len() > MAX_OPS {
        return Err(OpError::Invalid { index: MAX_OPS, message: format!("more than {MAX_OPS} operations") });
    }
    let root = Root::open(root)?;
    for (i, op) in ops.iter().enumerate() {
        apply(&root, op, i)?;
    }
    Ok(())
}
