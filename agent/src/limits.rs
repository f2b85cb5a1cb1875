//! Every limit the agent enforces on what the host sends, in one place.

/// Largest ttrpc payload accepted or sent (ttrpc's own limit).
pub const MAX_FRAME_PAYLOAD: usize = 4 << 20;
/// Requests handled at once; more get RESOURCE_EXHAUSTED.
pub const MAX_IN_FLIGHT: usize = 256;
/// Slots that long polls (WaitProcess, ReadStdout…) can never take.
pub const RESERVED_SHORT: usize = 32;
/// Container and exec ids: [A-Za-z0-9][A-Za-z0-9_.-]*, at most this long.
pub const MAX_ID_LEN: usize = 128;
/// Largest OCI spec or process JSON.
pub const MAX_SPEC_BYTES: usize = 1 << 20;
/// Largest ReadStdout/ReadStderr reply and WriteStdin chunk.
pub const MAX_STREAM_CHUNK: usize = 1 << 20;
/// TCP connections to the sandbox's ports open at once (port-forward).
pub const MAX_PORT_STREAMS: usize = 64;
/// Containers per sandbox and processes per container.
pub const MAX_CONTAINERS: usize = 1024;
pub const MAX_EXECS: usize = 1024;
/// Most descriptors a process gets beyond its stdio (--preserve-fds).
pub const MAX_EXTRA_FDS: usize = 32;
/// Storages in one request; mount options per storage.
pub const MAX_STORAGES: usize = 64;
pub const MAX_OPTIONS: usize = 64;
/// Any other string field.
pub const MAX_STRING: usize = 4096;
/// Where the agent keeps its state and mounts inside the guest.
pub const GUEST_RUN_DIR: &str = "/run/hako";
/// How long a crun invocation may take before it is killed.
pub const CRUN_TIMEOUT_SECS: u64 = 60;
