//! The cluster as its Kubernetes API describes it: which pod holds which address, which workload
//! owns each pod, and which nodes aws-node networks at all.
//!
//! Pods are indexed by address once ([`PodIndex`]): a sorted array over the compact pod store
//! of `raw::kube`, so a 150,000-pod cluster costs a few dozen bytes per pod and every lookup is a
//! binary search. Only pods that hold their address count: `hostNetwork` pods use the node's
//! address, and Succeeded or Failed pods keep `status.podIP` in the API after the CNI released it
//! (`cmd/routed-eni-cni-plugin` `del` frees it when the sandbox goes). Workloads are named as a
//! platform team thinks of them: a ReplicaSet's pods by their Deployment, a Job's by its CronJob.
//!
//! Nodes are classified from their labels ([`NodeKind`]): Fargate, EKS Auto Mode and EKS Hybrid
//! Nodes (`eks.amazonaws.com/compute-type`) and Windows nodes (`kubernetes.io/os`) are not
//! networked by aws-node's Linux datapath (docs/datapath.md §10.8), so they are named as not
//! modelled instead of being judged by rules that do not apply to them.

use std::borrow::Cow;
use std::net::Ipv4Addr;

use crate::raw::{self, PodView, Pods};

/// The pods of one cluster, indexed by the IPv4 address each holds.
#[derive(Debug, Clone, Default)]
pub struct PodIndex {
    pods: Pods,
    /// `(address, pod index)`, sorted by address; pods that hold their address only.
    by_ip: Vec<(u32, u32)>,
}

impl PodIndex {
    /// Indexes `pods`; `placed` says which pods hold an address podreach judges (their node is
    /// networked by aws-node).
    pub fn new(pods: Pods, mut placed: impl FnMut(&PodView<'_>) -> bool) -> PodIndex {
        let mut by_ip = Vec::with_capacity(pods.len());
        for pod in pods.iter() {
            if !holds_its_address(&pod) || !placed(&pod) {
                continue;
            }
            let index = u32::try_from(pod.index()).unwrap_or(u32::MAX);
            by_ip.extend(pod.ips().map(|ip| (u32::from(ip), index)));
        }
        by_ip.sort_unstable();
        // Two live pods never share an address; if a dump says so, the first stays.
        by_ip.dedup_by_key(|(ip, _)| *ip);
        by_ip.shrink_to_fit();
        PodIndex { pods, by_ip }
    }

    /// Every pod of the cluster, whether or not it holds an address.
    pub fn all(&self) -> &Pods {
        &self.pods
    }

    /// Pods that hold an address.
    pub fn len(&self) -> usize {
        self.by_ip.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_ip.is_empty()
    }

    pub fn get(&self, ip: Ipv4Addr) -> Option<PodView<'_>> {
        let key = u32::from(ip);
        let at = self.by_ip.binary_search_by_key(&key, |(a, _)| *a).ok()?;
        self.pods.get(self.by_ip[at].1 as usize)
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        self.by_ip
            .binary_search_by_key(&u32::from(ip), |(a, _)| *a)
            .is_ok()
    }

    /// The pods holding addresses from `first` to `last`, in address order.
    pub fn range(
        &self,
        first: Ipv4Addr,
        last: Ipv4Addr,
    ) -> impl Iterator<Item = (Ipv4Addr, PodView<'_>)> + '_ {
        let start = self.by_ip.partition_point(|(a, _)| *a < u32::from(first));
        let last = u32::from(last);
        self.by_ip[start..]
            .iter()
            .take_while(move |(a, _)| *a <= last)
            .filter_map(|(a, i)| Some((Ipv4Addr::from(*a), self.pods.get(*i as usize)?)))
    }

    /// `true` when some pod holds an address of `net`.
    pub fn any_in(&self, net: &ipnet::Ipv4Net) -> bool {
        self.range(net.network(), net.broadcast()).next().is_some()
    }

    /// Bytes on the heap, for the memory measurements.
    pub fn heap_bytes(&self) -> usize {
        self.pods.heap_bytes() + self.by_ip.capacity() * std::mem::size_of::<(u32, u32)>()
    }
}

/// A pod's address is its own: not the node's (`hostNetwork`), and not released (a pod that
/// ended keeps `status.podIP` in the API, but the CNI gave the address back).
pub fn holds_its_address(pod: &PodView<'_>) -> bool {
    !pod.host_network() && !pod.phase().is_terminal()
}

/// What owns a pod, as a platform team names it: `shop/Deployment/api`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Workload<'a> {
    pub namespace: &'a str,
    pub kind: &'a str,
    pub name: Cow<'a, str>,
}

impl std::fmt::Display for Workload<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.namespace, self.kind, self.name)
    }
}

/// The workload of a pod. A ReplicaSet whose name ends in the pods' `pod-template-hash` belongs
/// to the Deployment named before it (the Deployment controller's naming,
/// `pkg/controller/deployment/sync.go`); a Job named `<name>-<8 or more digits>` belongs to the
/// CronJob `<name>` (the CronJob controller names its Jobs after the scheduled minute,
/// `getJobName`). A pod without a controller (or mirrored from a node's manifest) is its own
/// workload. podreach does not list ReplicaSets or Jobs: the names alone say it.
pub fn workload<'a>(pod: &PodView<'a>) -> Workload<'a> {
    let namespace = pod.namespace();
    let Some(owner) = pod.owner() else {
        return Workload {
            namespace,
            kind: "Pod",
            name: Cow::Borrowed(pod.name()),
        };
    };
    match owner.kind {
        "ReplicaSet" if owner.template_hash => match owner.name.rsplit_once('-') {
            Some((deployment, _)) => Workload {
                namespace,
                kind: "Deployment",
                name: Cow::Borrowed(deployment),
            },
            None => own(namespace, owner.kind, owner.name),
        },
        "Job" => match owner.name.rsplit_once('-') {
            Some((cronjob, minute))
                if minute.len() >= 8 && minute.bytes().all(|b| b.is_ascii_digit()) =>
            {
                Workload {
                    namespace,
                    kind: "CronJob",
                    name: Cow::Borrowed(cronjob),
                }
            }
            _ => own(namespace, owner.kind, owner.name),
        },
        // Static pods: the kubelet mirrors them with the node as owner.
        "Node" => Workload {
            namespace,
            kind: "Pod",
            name: Cow::Borrowed(pod.name()),
        },
        _ => own(namespace, owner.kind, owner.name),
    }
}

fn own<'a>(namespace: &'a str, kind: &'a str, name: &'a str) -> Workload<'a> {
    Workload {
        namespace,
        kind,
        name: Cow::Borrowed(name),
    }
}

/// Who networks a node's pods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NodeKind {
    /// An EC2 Linux node: aws-node, the datapath podreach models.
    AwsNode,
    /// AWS Fargate: each pod has its own ENI in a Fargate-owned micro-VM, no node datapath.
    Fargate,
    /// EKS Auto Mode: EKS networks the node itself from a NodeClass.
    AutoMode,
    /// EKS Hybrid Nodes: machines outside AWS with a CNI of the user's choice.
    Hybrid,
    /// Windows: pods take addresses of the primary ENI and the host's own NAT (HNS).
    Windows,
}

impl NodeKind {
    pub fn of(node: &raw::Node) -> NodeKind {
        let labels = &node.metadata.labels;
        match labels.compute_type.as_deref() {
            Some("fargate") => NodeKind::Fargate,
            Some("auto") => NodeKind::AutoMode,
            Some("hybrid") => NodeKind::Hybrid,
            _ if labels.os.as_deref() == Some("windows") => NodeKind::Windows,
            _ => NodeKind::AwsNode,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            NodeKind::AwsNode => "aws-node",
            NodeKind::Fargate => "fargate",
            NodeKind::AutoMode => "auto-mode",
            NodeKind::Hybrid => "hybrid",
            NodeKind::Windows => "windows",
        }
    }

    /// Why podreach does not judge this kind of node with aws-node's rules.
    pub fn why_not_modelled(self) -> &'static str {
        match self {
            NodeKind::AwsNode => "",
            NodeKind::Fargate => {
                "AWS Fargate gives each pod its own ENI in a Fargate-managed micro-VM: there is no \
                 node datapath for aws-node's rules to apply to (docs/datapath.md §10.8)"
            }
            NodeKind::AutoMode => {
                "EKS Auto Mode networks its nodes itself from a NodeClass (snatPolicy, pod subnets \
                 and security groups), not with the aws-node DaemonSet (docs/datapath.md §10.8)"
            }
            NodeKind::Hybrid => {
                "EKS Hybrid Nodes run outside AWS with a CNI of your choice (Cilium or Calico): \
                 neither aws-node nor the VPC carries their pods' traffic (docs/datapath.md §10.8)"
            }
            NodeKind::Windows => {
                "Windows nodes give pods secondary addresses of the primary ENI and translate with \
                 the host's own networking (HNS), not aws-node's Linux rules (docs/datapath.md §10.8)"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raw::kube::test_pod as pod;

    #[test]
    fn a_finished_pod_does_not_hold_the_address_a_running_pod_has_now() {
        let pods: Pods = [
            pod(
                "migrate-28999500-abcde",
                "10.0.1.20",
                "Succeeded",
                Some(("Job", "migrate-28999500")),
                None,
            ),
            pod(
                "api-5d9f8c7b6-qx2lp",
                "10.0.1.20",
                "Running",
                Some(("ReplicaSet", "api-5d9f8c7b6")),
                Some("5d9f8c7b6"),
            ),
        ]
        .into_iter()
        .collect();
        let index = PodIndex::new(pods, |_| true);
        assert_eq!(index.len(), 1);
        let holder = index.get(Ipv4Addr::new(10, 0, 1, 20)).expect("held");
        assert_eq!(holder.name(), "api-5d9f8c7b6-qx2lp");
        assert_eq!(workload(&holder).to_string(), "shop/Deployment/api");
    }

    #[test]
    fn workloads_are_named_by_their_controllers() {
        let cases = [
            (
                Some(("ReplicaSet", "api-5d9f8c7b6")),
                Some("5d9f8c7b6"),
                "shop/Deployment/api",
            ),
            (
                Some(("ReplicaSet", "legacy-rs")),
                None,
                "shop/ReplicaSet/legacy-rs",
            ),
            (
                Some(("Job", "report-29012345")),
                None,
                "shop/CronJob/report",
            ),
            (Some(("Job", "one-off")), None, "shop/Job/one-off"),
            (Some(("StatefulSet", "db")), None, "shop/StatefulSet/db"),
            (Some(("DaemonSet", "agent")), None, "shop/DaemonSet/agent"),
            (Some(("Node", "ip-10-0-1-10")), None, "shop/Pod/p"),
            (None, None, "shop/Pod/p"),
        ];
        for (owner, hash, expected) in cases {
            let pods: Pods = [pod("p", "10.0.1.9", "Running", owner, hash)]
                .into_iter()
                .collect();
            let view = pods.get(0).expect("one pod");
            assert_eq!(workload(&view).to_string(), expected, "{owner:?}");
        }
    }

    #[test]
    fn ranges_find_the_pods_of_a_prefix() {
        let pods: Pods = (0..20)
            .map(|i| {
                pod(
                    &format!("p{i}"),
                    &format!("10.0.2.{}", 100 - i),
                    "Running",
                    None,
                    None,
                )
            })
            .collect();
        let index = PodIndex::new(pods, |_| true);
        let found: Vec<String> = index
            .range(Ipv4Addr::new(10, 0, 2, 96), Ipv4Addr::new(10, 0, 2, 99))
            .map(|(ip, p)| format!("{ip}={}", p.name()))
            .collect();
        assert_eq!(
            found,
            [
                "10.0.2.96=p4",
                "10.0.2.97=p3",
                "10.0.2.98=p2",
                "10.0.2.99=p1"
            ]
        );
    }
}
