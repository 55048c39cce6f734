//! Kubernetes shapes: `kubectl get daemonset aws-node -n kube-system -o json`,
//! `kubectl get pods -A -o json`, `kubectl get nodes -o json` and `kubectl get eniconfigs -o json`,
//! which the Kubernetes API answers with the same objects (list items there carry no `kind`).
//!
//! Pods are the one document that grows with the cluster: 5,000 nodes × 30 pods is 150,000 pod
//! objects of several kilobytes each. So a pod list is never held as objects: each item is read
//! into [`Pod`] (only the fields podreach uses: serde skips the rest unparsed) and pushed at once
//! into [`Pods`], a compact store of a few dozen bytes per pod (names in one arena, namespaces,
//! nodes and owners interned). The offline reader and the Kubernetes API reader both parse lists
//! through [`Pods`]' `Deserialize`, so there is one parser for both paths, and a store writes
//! itself back as `kubectl get pods -A -o json` prints it (the fields kept).
//!
//! One file per kind of document: `daemonset` (aws-node's pod template), `pods` (one pod's
//! shape), `pod_store` (the compact list of pods, [`Pods`]), `nodes`, `eniconfigs`, and `meta`
//! (the object metadata and `apiVersion` / `kind` defaults they share). Every type is re-exported
//! here, so its path stays `raw::kube::<Type>` (and `raw::<Type>`).

mod daemonset;
mod eniconfigs;
mod meta;
mod nodes;
mod pod_store;
mod pods;

pub use daemonset::{Container, DaemonSet, DaemonSetSpec, EnvVar, PodSpec, PodTemplateSpec};
pub use eniconfigs::{EniConfig, EniConfigList, EniConfigSpec};
pub use meta::ObjectMeta;
pub use nodes::{Node, NodeLabels, NodeList, NodeMeta, NodeSpec};
pub use pod_store::{Owner, PodList, PodPhase, PodView, Pods};
pub use pods::{
    OwnerReference, Pod, PodAnnotations, PodIp, PodItemSpec, PodLabels, PodMeta, PodStatus,
};

// The pod fixture of `model::kube`'s tests, at its old path.
#[cfg(test)]
pub(crate) use pod_store::test_pod;
