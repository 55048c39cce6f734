//! Typed failures of the lab.
//!
//! The lab drives real kernel state through userland tools, so most failures are "a tool is
//! missing", "we are not root" or "this command failed with this stderr". Each gets its own
//! variant so callers (the differential test, a future CLI subcommand) can tell "could not run"
//! apart from "ran and measured", and so the message names the exact command to reproduce by hand.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum LabError {
    /// Creating network namespaces and writing netfilter rules needs `CAP_SYS_ADMIN`/`CAP_NET_ADMIN`.
    #[error("the datapath lab needs root (it creates network namespaces); effective uid is {uid}")]
    NotRoot { uid: u32 },
    /// A userland tool the lab drives is not installed.
    #[error("`{tool}` is not installed: {hint}")]
    MissingTool {
        tool: &'static str,
        hint: &'static str,
    },
    /// A command exited unsuccessfully.
    #[error("`{cmd}` failed: {stderr}")]
    Command { cmd: String, stderr: String },
    /// The model lacks something the lab needs to build the node (unknown cluster, node, subnet, …).
    #[error("cannot build the lab for {what}: {why}")]
    Model { what: String, why: String },
    /// A system call or file operation failed (setns, socket, /proc).
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl LabError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        LabError::Io {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn model(what: impl Into<String>, why: impl Into<String>) -> Self {
        LabError::Model {
            what: what.into(),
            why: why.into(),
        }
    }
}
