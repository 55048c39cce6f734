//! What the lab builds for one node, read from the validated model: a plain description with no
//! kernel state in it.
//!
//! The model is rich (every VPC object of a snapshot); the lab needs a small, concrete picture of
//! one node: its ENIs as interfaces (name, addresses, gateway, host table), one pod address per
//! ENI that carries pod addresses, the cluster-VPC route tables those ENIs' subnets use, the
//! objects behind private routes (`pcx-`, `tgw-`, `vgw-`, `lgw-`), and one probe address per
//! destination block. Separating this from the code that touches the kernel keeps the mapping
//! model → lab reviewable and unit-testable without root. Nothing here encodes a verdict: the
//! decisions (which table, SNAT or not, dropped or not) are left to the kernel and the emulated
//! fabric.
//!
//! Split by job: `spec` holds the plain types ([`NodeSpec`] and its parts), `from_model` fills
//! them in from the model ([`NodeSpec::from_model`]), and `addressing` holds the arithmetic both
//! the lab and its tests share ([`gateway_of`], [`host_table`], probe addresses). Everything is
//! re-exported here, so `crate::topology::X` is the one path to each item.

mod addressing;
mod from_model;
mod spec;
mod tgw_tables;

pub use addressing::{gateway_of, host_table};
pub use spec::{
    BranchSpec, CniSettings, DestSpec, EniSpec, NodeSpec, PodPort, RemoteKind, RemoteSpec,
    RouteAction, RouteSpec, RtSpec,
};
