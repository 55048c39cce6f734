//! The compact store of a pod list, [`Pods`], and the view of one pod in it, [`PodView`].
//!
//! Pods are the one document that grows with the cluster: 5,000 nodes × 30 pods is 150,000 pod
//! objects of several kilobytes each. So a list never holds them as objects: each item is read
//! into a `Pod` and pushed at once into [`Pods`], which keeps 24 bytes per pod (an `Entry`: string
//! ids, the first IPv4 address, the phase and flags) plus the pod's name in one arena. Namespaces,
//! node names and owner kinds and names repeat across pods, so they are interned once; the few
//! pods with a second IPv4 address or a branch ENI annotation keep it in a side table sorted by
//! pod. [`Pods`] implements `Deserialize` (the one parser of the offline and the Kubernetes API
//! readers) and writes itself back as `kubectl get pods -A -o json` prints it (the fields kept).

use std::collections::HashMap;
use std::fmt;
use std::net::Ipv4Addr;

use serde::de::{SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::meta::{list_kind, v1};
use super::pods::{
    OwnerReference, Pod, PodAnnotations, PodIp, PodItemSpec, PodLabels, PodMeta, PodStatus,
    pod_kind,
};

/// A `kind: List` (or `PodList`) of pods, held compactly.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodList {
    #[serde(default = "v1")]
    pub api_version: String,
    #[serde(default = "list_kind")]
    pub kind: String,
    pub items: Pods,
}

/// `status.phase`. Succeeded and Failed pods keep `status.podIP` in the API after the CNI has
/// released the address, which another pod may hold by now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PodPhase {
    Pending,
    Running,
    Succeeded,
    Failed,
    Unknown,
    /// No phase in the object (hand-written dumps).
    Unset,
}

impl PodPhase {
    fn parse(text: Option<&str>) -> PodPhase {
        match text {
            Some("Pending") => PodPhase::Pending,
            Some("Running") => PodPhase::Running,
            Some("Succeeded") => PodPhase::Succeeded,
            Some("Failed") => PodPhase::Failed,
            Some(_) => PodPhase::Unknown,
            None => PodPhase::Unset,
        }
    }

    fn as_str(self) -> Option<&'static str> {
        match self {
            PodPhase::Pending => Some("Pending"),
            PodPhase::Running => Some("Running"),
            PodPhase::Succeeded => Some("Succeeded"),
            PodPhase::Failed => Some("Failed"),
            PodPhase::Unknown => Some("Unknown"),
            PodPhase::Unset => None,
        }
    }

    /// The pod has ended: its sandbox and address are gone.
    pub fn is_terminal(self) -> bool {
        matches!(self, PodPhase::Succeeded | PodPhase::Failed)
    }
}

/// Strings that repeat across pods (namespaces, node names, owner kinds and names), each kept once.
#[derive(Debug, Clone, Default)]
struct Strings {
    list: Vec<Box<str>>,
    ids: HashMap<Box<str>, u32>,
}

impl Strings {
    fn intern(&mut self, text: &str) -> u32 {
        if let Some(id) = self.ids.get(text) {
            return *id;
        }
        let id = u32::try_from(self.list.len()).unwrap_or(u32::MAX);
        self.list.push(text.into());
        self.ids.insert(text.into(), id);
        id
    }

    fn get(&self, id: u32) -> &str {
        self.list.get(id as usize).map_or("", |s| s)
    }

    fn heap_bytes(&self) -> usize {
        let text: usize = self.list.iter().map(|s| s.len()).sum();
        // Each string is stored twice (list and key), plus the table's slots.
        2 * text
            + self.list.capacity() * std::mem::size_of::<Box<str>>()
            + self.ids.capacity() * (std::mem::size_of::<(Box<str>, u32)>() + 1)
    }
}

const NONE: u32 = u32::MAX;
const FLAG_HOST_NETWORK: u8 = 1;
/// The owner's name ends in `-<pod-template-hash>`: a ReplicaSet of a Deployment.
const FLAG_TEMPLATE_HASH: u8 = 2;
const FLAG_EXTRA: u8 = 4;

/// One pod in the store: 24 bytes, plus its name in the arena.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    name_start: u32,
    namespace: u32,
    node: u32,
    /// Index into `Pods::owners`, or [`NONE`].
    owner: u32,
    /// The first IPv4 address, or 0 (never a pod address) for none.
    ip: u32,
    name_len: u8,
    phase: PodPhase,
    flags: u8,
}

/// What few pods have: a second IPv4 address, or the branch ENI annotation.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Extra {
    Ip(Ipv4Addr),
    PodEni(String),
}

/// The pods of one list, compactly (see the module documentation).
#[derive(Debug, Clone, Default)]
pub struct Pods {
    names: String,
    strings: Strings,
    /// `(kind, name)` string ids of controlling owners, each once.
    owners: Vec<(u32, u32)>,
    owner_ids: HashMap<(u32, u32), u32>,
    entries: Vec<Entry>,
    /// Sorted by pod index.
    extra: Vec<(u32, Extra)>,
}

impl PartialEq for Pods {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .zip(other.iter())
                .all(|(a, b)| a.to_pod() == b.to_pod())
    }
}

/// The controller of a pod, as its `ownerReferences` name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Owner<'a> {
    pub kind: &'a str,
    pub name: &'a str,
    /// `true` when the pod's `pod-template-hash` label is the suffix of `name`.
    pub template_hash: bool,
}

/// One pod of a [`Pods`] store.
#[derive(Debug, Clone, Copy)]
pub struct PodView<'a> {
    store: &'a Pods,
    index: usize,
}

impl<'a> PodView<'a> {
    fn entry(&self) -> &'a Entry {
        &self.store.entries[self.index]
    }

    /// The pod's position in its store.
    pub fn index(&self) -> usize {
        self.index
    }

    pub fn name(&self) -> &'a str {
        let e = self.entry();
        let start = e.name_start as usize;
        self.store
            .names
            .get(start..start + usize::from(e.name_len))
            .unwrap_or("")
    }

    pub fn namespace(&self) -> &'a str {
        self.store.strings.get(self.entry().namespace)
    }

    pub fn node(&self) -> Option<&'a str> {
        let id = self.entry().node;
        (id != NONE).then(|| self.store.strings.get(id))
    }

    pub fn host_network(&self) -> bool {
        self.entry().flags & FLAG_HOST_NETWORK != 0
    }

    pub fn phase(&self) -> PodPhase {
        self.entry().phase
    }

    pub fn owner(&self) -> Option<Owner<'a>> {
        let e = self.entry();
        let (kind, name) = *self.store.owners.get(e.owner as usize)?;
        Some(Owner {
            kind: self.store.strings.get(kind),
            name: self.store.strings.get(name),
            template_hash: e.flags & FLAG_TEMPLATE_HASH != 0,
        })
    }

    fn extras(&self) -> impl Iterator<Item = &'a Extra> + 'a {
        let index = u32::try_from(self.index).unwrap_or(NONE);
        let has = self.entry().flags & FLAG_EXTRA != 0;
        let store = self.store;
        let start = if has {
            store.extra.partition_point(|(i, _)| *i < index)
        } else {
            store.extra.len()
        };
        store.extra[start..]
            .iter()
            .take_while(move |(i, _)| *i == index)
            .map(|(_, extra)| extra)
    }

    /// Every IPv4 address of the pod (`status.podIPs`, else `status.podIP`).
    pub fn ips(&self) -> impl Iterator<Item = Ipv4Addr> + 'a {
        let first = self.entry().ip;
        (first != 0)
            .then(|| Ipv4Addr::from(first))
            .into_iter()
            .chain(self.extras().filter_map(|e| match e {
                Extra::Ip(ip) => Some(*ip),
                Extra::PodEni(_) => None,
            }))
    }

    /// The `vpc.amazonaws.com/pod-eni` annotation, verbatim.
    pub fn pod_eni(&self) -> Option<&'a str> {
        self.extras().find_map(|e| match e {
            Extra::PodEni(text) => Some(text.as_str()),
            Extra::Ip(_) => None,
        })
    }

    /// The pod as `kubectl get pods -o json` prints it (the fields podreach keeps).
    pub fn to_pod(&self) -> Pod {
        let owner = self.owner();
        let ips: Vec<Ipv4Addr> = self.ips().collect();
        Pod {
            api_version: v1(),
            kind: pod_kind(),
            metadata: PodMeta {
                name: self.name().to_owned(),
                namespace: Some(self.namespace().to_owned()),
                labels: PodLabels {
                    pod_template_hash: owner
                        .filter(|o| o.template_hash)
                        .and_then(|o| o.name.rsplit_once('-'))
                        .map(|(_, hash)| hash.to_owned()),
                },
                annotations: PodAnnotations {
                    pod_eni: self.pod_eni().map(str::to_owned),
                },
                owner_references: owner
                    .map(|o| OwnerReference {
                        kind: o.kind.to_owned(),
                        name: o.name.to_owned(),
                        controller: Some(true),
                    })
                    .into_iter()
                    .collect(),
            },
            spec: PodItemSpec {
                node_name: self.node().map(str::to_owned),
                host_network: self.host_network().then_some(true),
            },
            status: PodStatus {
                phase: self.phase().as_str().map(str::to_owned),
                pod_ip: ips.first().map(ToString::to_string),
                pod_ips: ips.iter().map(|ip| PodIp { ip: ip.to_string() }).collect(),
            },
        }
    }
}

impl Pods {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn get(&self, index: usize) -> Option<PodView<'_>> {
        (index < self.entries.len()).then_some(PodView { store: self, index })
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = PodView<'_>> + '_ {
        (0..self.entries.len()).map(move |index| PodView { store: self, index })
    }

    /// Adds one pod. Its IPv6 addresses and unparsable ones are dropped (podreach models IPv4
    /// pod addresses; an IPv6 cluster is reported as such from `describe-cluster`).
    pub fn push(&mut self, pod: &Pod) {
        let index = u32::try_from(self.entries.len()).unwrap_or(NONE);
        let meta = &pod.metadata;
        let name = if meta.name.len() > usize::from(u8::MAX) {
            // Kubernetes names are at most 253 characters; keep the first 255 bytes whole.
            let mut end = usize::from(u8::MAX);
            while !meta.name.is_char_boundary(end) {
                end -= 1;
            }
            &meta.name[..end]
        } else {
            meta.name.as_str()
        };
        let name_start = u32::try_from(self.names.len()).unwrap_or(NONE);
        self.names.push_str(name);
        let namespace = self
            .strings
            .intern(meta.namespace.as_deref().unwrap_or("default"));
        let node = pod
            .spec
            .node_name
            .as_deref()
            .map_or(NONE, |n| self.strings.intern(n));
        let owner_ref = meta
            .owner_references
            .iter()
            .find(|o| o.controller == Some(true))
            .or(meta.owner_references.first());
        let mut flags = 0;
        let owner = match owner_ref {
            Some(o) => {
                let key = (self.strings.intern(&o.kind), self.strings.intern(&o.name));
                let next = u32::try_from(self.owners.len()).unwrap_or(NONE);
                let id = *self.owner_ids.entry(key).or_insert(next);
                if id == next {
                    self.owners.push(key);
                }
                if let Some(hash) = &meta.labels.pod_template_hash
                    && o.name
                        .strip_suffix(hash.as_str())
                        .is_some_and(|rest| rest.ends_with('-'))
                {
                    flags |= FLAG_TEMPLATE_HASH;
                }
                id
            }
            None => NONE,
        };
        if pod.spec.host_network == Some(true) {
            flags |= FLAG_HOST_NETWORK;
        }
        let mut ips = pod
            .status
            .pod_ips
            .iter()
            .map(|p| p.ip.as_str())
            .chain(
                pod.status
                    .pod_ip
                    .as_deref()
                    .filter(|_| pod.status.pod_ips.is_empty()),
            )
            .filter_map(|text| text.parse::<Ipv4Addr>().ok());
        let first = ips.next().map_or(0, u32::from);
        for ip in ips {
            flags |= FLAG_EXTRA;
            self.extra.push((index, Extra::Ip(ip)));
        }
        if let Some(annotation) = &meta.annotations.pod_eni {
            flags |= FLAG_EXTRA;
            self.extra.push((index, Extra::PodEni(annotation.clone())));
        }
        self.entries.push(Entry {
            name_start,
            namespace,
            node,
            owner,
            ip: first,
            name_len: u8::try_from(name.len()).unwrap_or(u8::MAX),
            phase: PodPhase::parse(pod.status.phase.as_deref()),
            flags,
        });
    }

    /// Appends every pod of `other` (another page of the same list, or another list), taking
    /// its entries as they are: strings and owners are mapped into this store's tables.
    pub fn append(&mut self, other: &Pods) {
        let strings: Vec<u32> = other
            .strings
            .list
            .iter()
            .map(|text| self.strings.intern(text))
            .collect();
        let map = |id: u32| {
            if id == NONE {
                NONE
            } else {
                strings[id as usize]
            }
        };
        let owners: Vec<u32> = other
            .owners
            .iter()
            .map(|(kind, name)| {
                let key = (map(*kind), map(*name));
                let next = u32::try_from(self.owners.len()).unwrap_or(NONE);
                let id = *self.owner_ids.entry(key).or_insert(next);
                if id == next {
                    self.owners.push(key);
                }
                id
            })
            .collect();
        let name_offset = u32::try_from(self.names.len()).unwrap_or(NONE);
        let index_offset = u32::try_from(self.entries.len()).unwrap_or(NONE);
        self.names.push_str(&other.names);
        self.entries.extend(other.entries.iter().map(|e| Entry {
            name_start: e.name_start.saturating_add(name_offset),
            namespace: map(e.namespace),
            node: map(e.node),
            owner: if e.owner == NONE {
                NONE
            } else {
                owners[e.owner as usize]
            },
            ..*e
        }));
        self.extra.extend(
            other
                .extra
                .iter()
                .map(|(i, extra)| (i.saturating_add(index_offset), extra.clone())),
        );
    }

    /// Bytes this store holds on the heap (what a pod index costs per pod, measured).
    pub fn heap_bytes(&self) -> usize {
        self.names.capacity()
            + self.strings.heap_bytes()
            + self.owners.capacity() * std::mem::size_of::<(u32, u32)>()
            + self.owner_ids.capacity() * (std::mem::size_of::<((u32, u32), u32)>() + 1)
            + self.entries.capacity() * std::mem::size_of::<Entry>()
            + self.extra.capacity() * std::mem::size_of::<(u32, Extra)>()
            + self
                .extra
                .iter()
                .map(|(_, e)| match e {
                    Extra::PodEni(text) => text.capacity(),
                    Extra::Ip(_) => 0,
                })
                .sum::<usize>()
    }

    /// Frees what the store over-allocated while it grew.
    pub fn shrink_to_fit(&mut self) {
        self.names.shrink_to_fit();
        self.entries.shrink_to_fit();
        self.extra.shrink_to_fit();
        self.owners.shrink_to_fit();
    }
}

impl<'de> Deserialize<'de> for Pods {
    /// A sequence of pod objects, each pushed as it is read.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Items;
        impl<'de> Visitor<'de> for Items {
            type Value = Pods;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of pods")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Pods, A::Error> {
                let mut pods = Pods::default();
                while let Some(pod) = seq.next_element::<Pod>()? {
                    pods.push(&pod);
                }
                pods.shrink_to_fit();
                Ok(pods)
            }
        }
        deserializer.deserialize_seq(Items)
    }
}

impl Serialize for Pods {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.len()))?;
        for pod in self.iter() {
            seq.serialize_element(&pod.to_pod())?;
        }
        seq.end()
    }
}

impl FromIterator<Pod> for Pods {
    fn from_iter<I: IntoIterator<Item = Pod>>(iter: I) -> Self {
        let mut pods = Pods::default();
        for pod in iter {
            pods.push(&pod);
        }
        pods
    }
}

/// A pod of namespace `shop` on node `ip-10-0-1-10.ec2.internal`, for the tests of this crate.
#[cfg(test)]
pub(crate) fn test_pod(
    name: &str,
    ip: &str,
    phase: &str,
    owner: Option<(&str, &str)>,
    hash: Option<&str>,
) -> Pod {
    Pod {
        api_version: v1(),
        kind: pod_kind(),
        metadata: PodMeta {
            name: name.to_owned(),
            namespace: Some("shop".to_owned()),
            labels: PodLabels {
                pod_template_hash: hash.map(str::to_owned),
            },
            annotations: PodAnnotations::default(),
            owner_references: owner
                .map(|(kind, name)| OwnerReference {
                    kind: kind.to_owned(),
                    name: name.to_owned(),
                    controller: Some(true),
                })
                .into_iter()
                .collect(),
        },
        spec: PodItemSpec {
            node_name: Some("ip-10-0-1-10.ec2.internal".to_owned()),
            host_network: None,
        },
        status: PodStatus {
            phase: Some(phase.to_owned()),
            pod_ip: Some(ip.to_owned()),
            pod_ips: vec![PodIp { ip: ip.to_owned() }],
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, ip: &str, owner: Option<(&str, &str)>, hash: Option<&str>) -> Pod {
        test_pod(name, ip, "Running", owner, hash)
    }

    #[test]
    fn a_pod_reads_back_from_the_store_as_it_went_in() {
        let pods: Pods = [
            pod(
                "api-7f9c-x1",
                "10.0.1.20",
                Some(("ReplicaSet", "api-7f9c")),
                Some("7f9c"),
            ),
            pod("db-0", "10.0.1.21", Some(("StatefulSet", "db")), None),
            pod("debug", "10.0.1.22", None, None),
        ]
        .into_iter()
        .collect();
        assert_eq!(pods.len(), 3);
        let api = pods.get(0).expect("first pod");
        assert_eq!(api.name(), "api-7f9c-x1");
        assert_eq!(api.namespace(), "shop");
        assert_eq!(
            api.owner(),
            Some(Owner {
                kind: "ReplicaSet",
                name: "api-7f9c",
                template_hash: true
            })
        );
        assert_eq!(
            api.ips().collect::<Vec<_>>(),
            vec![Ipv4Addr::new(10, 0, 1, 20)]
        );
        assert_eq!(
            pods.get(0).map(|p| p.to_pod()),
            Some(pod(
                "api-7f9c-x1",
                "10.0.1.20",
                Some(("ReplicaSet", "api-7f9c")),
                Some("7f9c")
            ))
        );
        let json = serde_json::to_string(&pods).expect("serialises");
        let back: Pods = serde_json::from_str(&json).expect("reads back");
        assert_eq!(back, pods);
    }

    #[test]
    fn pages_appended_read_as_one_list() {
        let first: Pods = [
            pod("a-1", "10.0.1.1", Some(("StatefulSet", "a")), None),
            pod("b-1", "10.0.1.2", None, None),
        ]
        .into_iter()
        .collect();
        let mut second_pod = pod("c-1", "10.0.1.3", Some(("StatefulSet", "a")), None);
        second_pod.metadata.annotations.pod_eni = Some("[]".to_owned());
        let second: Pods = [second_pod.clone()].into_iter().collect();
        let mut all = first.clone();
        all.append(&second);
        let expected: Pods = first
            .iter()
            .map(|p| p.to_pod())
            .chain([second_pod])
            .collect();
        assert_eq!(all, expected);
        assert_eq!(all.get(2).and_then(|p| p.pod_eni()), Some("[]"));
    }

    #[test]
    fn ipv6_addresses_are_dropped_and_extra_ipv4_addresses_kept() {
        let mut p = pod("dual", "10.0.1.30", None, None);
        p.status.pod_ips = vec![
            PodIp {
                ip: "10.0.1.30".to_owned(),
            },
            PodIp {
                ip: "2600:1f14::1".to_owned(),
            },
            PodIp {
                ip: "10.0.1.31".to_owned(),
            },
        ];
        p.metadata.annotations.pod_eni = Some("[{\"eniId\":\"eni-1\",\"vlanId\":1}]".to_owned());
        let pods: Pods = [p].into_iter().collect();
        let view = pods.get(0).expect("one pod");
        assert_eq!(
            view.ips().collect::<Vec<_>>(),
            vec![Ipv4Addr::new(10, 0, 1, 30), Ipv4Addr::new(10, 0, 1, 31)]
        );
        assert!(view.pod_eni().is_some_and(|a| a.contains("eni-1")));
    }

    #[test]
    fn a_hash_label_that_is_not_the_owner_suffix_is_not_a_deployment() {
        let pods: Pods = [pod(
            "web-1",
            "10.0.1.40",
            Some(("ReplicaSet", "web")),
            Some("abc"),
        )]
        .into_iter()
        .collect();
        assert!(
            !pods
                .get(0)
                .and_then(|p| p.owner())
                .is_some_and(|o| o.template_hash)
        );
    }
}
