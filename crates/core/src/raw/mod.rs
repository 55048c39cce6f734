//! AWS CLI- and kubectl-shaped input documents, exactly as the tools print them.
//!
//! This is phase one of podreach's two-phase input: every file of a snapshot (and, later, every
//! live API answer) is first read into these plain serde structs, which mirror the JSON the AWS
//! CLI (`PascalCase` EC2 shapes, `camelCase` EKS shapes) and `kubectl -o json` print. They keep
//! only the fields the analysis needs; unknown fields are ignored because AWS adds fields over
//! time. The structs also serialise back to the same shapes, so a live collector can write a
//! snapshot that the offline reader accepts unchanged. Validation into the typed model happens
//! once, in [`crate::model`].

pub mod collection;
pub mod ec2;
pub mod eks;
pub mod kube;
pub mod tgw;

pub use collection::*;
pub use ec2::*;
pub use eks::*;
pub use kube::*;
pub use tgw::*;
