//! The agent's RPC-level errors: a closed set, each mapped once to a ttrpc
//! (gRPC) status code and to a stable reason the host can branch on.
use thiserror::Error;

/// gRPC status codes used on the wire.
pub mod code {
    pub const INVALID_ARGUMENT: i32 = 3;
    pub const NOT_FOUND: i32 = 5;
    pub const ALREADY_EXISTS: i32 = 6;
    pub const RESOURCE_EXHAUSTED: i32 = 8;
    pub const FAILED_PRECONDITION: i32 = 9;
    pub const UNIMPLEMENTED: i32 = 12;
    pub const INTERNAL: i32 = 13;
}

#[derive(Debug, Error)]
pub enum AgentError {
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    FailedPrecondition(String),
    #[error("{0}")]
    ResourceExhausted(String),
    #[error("{0}")]
    Unimplemented(String),
    #[error("{0}")]
    Internal(String),
    /// The container's executable does not exist (the host exits 127).
    #[error("{0}")]
    ExecutableNotFound(String),
    /// The container's executable cannot be run (the host exits 126).
    #[error("{0}")]
    ExecutablePermission(String),
}

impl AgentError {
    pub fn code(&self) -> i32 {
        match self {
            AgentError::InvalidArgument(_) => code::INVALID_ARGUMENT,
            AgentError::NotFound(_) | AgentError::ExecutableNotFound(_) => code::NOT_FOUND,
            AgentError::AlreadyExists(_) => code::ALREADY_EXISTS,
            AgentError::FailedPrecondition(_) | AgentError::ExecutablePermission(_) => {
                code::FAILED_PRECONDITION
            }
            AgentError::ResourceExhausted(_) => code::RESOURCE_EXHAUSTED,
            AgentError::Unimplemented(_) => code::UNIMPLEMENTED,
            AgentError::Internal(_) => code::INTERNAL,
        }
    }

    /// The stable reason sent in ErrorDetail; the host maps it to its own
    /// error codes (src/agent-client/errors.ts).
    pub fn reason(&self) -> &'static str {
        match self {
            AgentError::InvalidArgument(_) => "invalid_argument",
            AgentError::NotFound(_) => "not_found",
            AgentError::AlreadyExists(_) => "already_exists",
            AgentError::FailedPrecondition(_) => "failed_precondition",
            AgentError::ResourceExhausted(_) => "resource_exhausted",
            AgentError::Unimplemented(_) => "unimplemented",
            AgentError::Internal(_) => "internal",
            AgentError::ExecutableNotFound(_) => "executable_not_found",
            AgentError::ExecutablePermission(_) => "executable_permission",
        }
    }
}

pub type Result<T> = std::result::Result<T, AgentError>;
