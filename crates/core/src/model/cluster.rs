//! One cluster of the model: its nodes and their ENIs, branch ENIs, ENIConfigs, pods, the nodes
//! aws-node does not network, and its CNI configuration resolved from every source that can set
//! it (the `aws-node` DaemonSet read from the cluster's Kubernetes API, the EKS add-on's
//! configuration values, the command line), each setting with where it came from. A cluster
//! whose inputs cannot make a model is `Err(reason)`, so the caller records it as not analysed
//! and goes on with the others.

use std::collections::BTreeMap;

use super::build::Builder;
use super::*;
use crate::problems::Gap;
use crate::raw;

impl Builder<'_> {
    pub(super) fn build_cluster(
        &mut self,
        index: usize,
        rc: &raw::Cluster,
        file: &str,
        overrides: &Overrides,
        blind: Vec<raw::BlindSpot>,
    ) -> Result<Cluster, String> {
        let name = rc.name.clone();
        let vpc_id = rc.resources_vpc_config.vpc_id.clone();
        let cluster_gap = |gaps: &mut Vec<Gap>, object: Option<String>, message: String| {
            gaps.push(Gap {
                region: None,
                cluster: Some(name.clone()),
                file: Some(file.to_owned()),
                object,
                message,
            });
        };
        if !self.network.vpcs.contains_key(&vpc_id) {
            cluster_gap(
                &mut self.gaps,
                Some(vpc_id.clone()),
                format!(
                    "the cluster's VPC {vpc_id} is not in any `aws ec2 describe-vpcs` output: the cluster is not analysed"
                ),
            );
            return Err(format!(
                "its VPC {vpc_id} is not in any `aws ec2 describe-vpcs` output"
            ));
        }

        // CNI inputs from every source.
        let mut inputs = CniInputs {
            cli_version: overrides.cni_version,
            cli_env: overrides.cni_env.clone(),
            cli_rp_filter_primary: overrides.rp_filter_primary,
            cli_rp_filter_secondary: overrides.rp_filter_secondary,
            ..CniInputs::default()
        };
        for (addon, addon_file) in self.addons.iter().filter(|(a, _)| a.cluster_name == name) {
            inputs.addon_version = addon.addon_version.clone();
            if let Some(values) = addon
                .configuration_values
                .as_deref()
                .filter(|v| !v.trim().is_empty())
            {
                match addon_env(values) {
                    Ok(env) => inputs.addon_env = env,
                    Err(message) => cluster_gap(
                        &mut self.gaps,
                        Some("addon.configurationValues".to_owned()),
                        format!(
                            "{addon_file}: configurationValues could not be read ({message}); add-on settings ignored"
                        ),
                    ),
                }
            }
        }
        let daemonsets: Vec<_> = self
            .daemonsets
            .iter()
            .filter(|(_, f)| self.attribute(f) == Some(index))
            .cloned()
            .collect();
        if let Some((ds, _)) = daemonsets.last() {
            let spec = &ds.spec.template.spec;
            if let Some(container) = spec
                .containers
                .iter()
                .find(|c| c.name == "aws-node")
                .or(spec.containers.first())
            {
                inputs.daemonset_image = container.image.clone();
                inputs.daemonset_env = container
                    .env
                    .iter()
                    .filter_map(|e| e.value.as_ref().map(|v| (e.name.clone(), v.clone())))
                    .collect();
                // `valueFrom`: a ConfigMap or Secret the snapshot does not hold. Field and
                // resource references (`MY_NODE_NAME`) are the node's own facts, not settings.
                inputs.daemonset_value_from = container
                    .env
                    .iter()
                    .filter(|e| e.value.is_none())
                    .filter_map(|e| {
                        Some((e.name.clone(), value_from_source(e.value_from.as_ref()?)?))
                    })
                    .collect();
                // With an image pinned by digest alone, the version may still be named elsewhere.
                let hints = spec
                    .containers
                    .iter()
                    .chain(&spec.init_containers)
                    .flat_map(|c| {
                        let env = c
                            .env
                            .iter()
                            .filter(|e| e.name == "VPC_CNI_VERSION")
                            .filter_map(|e| e.value.clone())
                            .map(move |v| {
                                (format!("`VPC_CNI_VERSION` of container {}", c.name), v)
                            });
                        env.chain(
                            c.image
                                .clone()
                                .filter(|_| c.name != container.name)
                                .map(|image| (format!("the image of container {}", c.name), image)),
                        )
                    })
                    .collect();
                inputs.daemonset_version_hints = hints;
            }
            inputs.daemonset_has_init = Some(
                spec.init_containers
                    .iter()
                    .any(|c| c.name == "aws-vpc-cni-init"),
            );
        }
        let cni = CniConfig::resolve(&inputs);

        let ip_family = match rc
            .kubernetes_network_config
            .as_ref()
            .and_then(|k| k.ip_family.as_deref())
        {
            Some("ipv6") => IpFamily::V6,
            _ if cni.ipv6 => IpFamily::V6,
            _ => IpFamily::V4,
        };

        // Pods: one store of every list attributed to the cluster.
        let pod_lists: Vec<_> = self
            .pods
            .iter()
            .filter(|(_, f)| self.attribute(f) == Some(index))
            .cloned()
            .collect();
        let all_pods = match pod_lists.as_slice() {
            [(only, _)] => only.items.clone(),
            lists => {
                let mut merged = raw::Pods::default();
                for (list, _) in lists {
                    merged.append(&list.items);
                }
                merged
            }
        };
        let mut pod_nodes: BTreeSet<&str> = BTreeSet::new();
        // Nodes that run an aws-node pod: with EKS Auto Mode, the others are EKS's own.
        let mut aws_node_nodes: BTreeSet<&str> = BTreeSet::new();
        let mut branch_by_pod_annotation: BTreeMap<String, u32> = BTreeMap::new();
        for pod in all_pods.iter() {
            if let Some(node) = pod.node() {
                pod_nodes.insert(node);
                if pod.namespace() == "kube-system" && pod.name().starts_with("aws-node-") {
                    aws_node_nodes.insert(node);
                }
            }
            if !kube::holds_its_address(&pod) {
                continue;
            }
            if let Some(annotation) = pod.pod_eni() {
                for entry in
                    serde_json::from_str::<Vec<serde_json::Value>>(annotation).unwrap_or_default()
                {
                    if let (Some(eni), Some(vlan)) = (
                        entry.get("eniId").and_then(|v| v.as_str()),
                        entry.get("vlanId").and_then(serde_json::Value::as_u64),
                    ) {
                        branch_by_pod_annotation
                            .insert(eni.to_owned(), u32::try_from(vlan).unwrap_or(0));
                    }
                }
            }
        }

        // Kubernetes nodes: who networks each one.
        let kube_nodes: Vec<&raw::Node> = self
            .node_lists
            .iter()
            .filter(|(_, f)| self.attribute(f) == Some(index))
            .flat_map(|(list, _)| list.items.iter())
            .collect();
        let nodes_known = self
            .node_lists
            .iter()
            .any(|(_, f)| self.attribute(f) == Some(index));

        // ENIConfigs.
        let eniconfigs: Vec<EniConfigRef> = self
            .eniconfigs
            .iter()
            .filter(|(_, f)| self.attribute(f) == Some(index))
            .flat_map(|(list, _)| list.items.iter())
            .map(|c| EniConfigRef {
                name: c.metadata.name.clone(),
                subnet_id: c.spec.subnet.clone(),
                security_groups: c.spec.security_groups.clone(),
            })
            .collect();

        // Nodes: instances tagged for the cluster, instances behind CNI-tagged ENIs, named by
        // pods, or named by the cluster's Node objects.
        let kube_instances: BTreeSet<&str> =
            kube_nodes.iter().filter_map(|n| n.instance_id()).collect();
        let mut node_ids: BTreeMap<String, Option<String>> = BTreeMap::new();
        let mut windows_instances: BTreeSet<&str> = BTreeSet::new();
        for (instance, _) in &self.instances {
            if instance.vpc_id.as_deref().is_some_and(|v| v != vpc_id) {
                continue;
            }
            let state = instance
                .state
                .as_ref()
                .map_or("running", |s| s.name.as_str());
            if !matches!(state, "running" | "pending") {
                continue;
            }
            let tagged = node_clusters(
                instance
                    .tags
                    .iter()
                    .map(|t| (t.key.as_str(), t.value.as_str())),
            )
            .any(|cluster| cluster == name);
            let named_by_pod = instance
                .private_dns_name
                .as_deref()
                .is_some_and(|n| pod_nodes.contains(n));
            if instance.platform.as_deref() == Some("windows") {
                windows_instances.insert(instance.instance_id.as_str());
            }
            if tagged || named_by_pod || kube_instances.contains(instance.instance_id.as_str()) {
                node_ids.insert(
                    instance.instance_id.clone(),
                    instance.private_dns_name.clone(),
                );
            }
        }
        for eni in self.network.enis.values() {
            if eni.vpc_id == vpc_id
                && eni.tags.get(ENI_CLUSTER_TAG) == Some(&name)
                && let Some(a) = &eni.attachment
            {
                node_ids.entry(a.instance_id.clone()).or_insert(None);
            }
        }
        // Index ENIs by instance and branch ENIs by trunk once: clusters have thousands of nodes.
        let mut enis_by_instance: BTreeMap<&str, Vec<&Eni>> = BTreeMap::new();
        let mut branches_by_trunk: BTreeMap<&str, Vec<&Eni>> = BTreeMap::new();
        for eni in self.network.enis.values() {
            if let Some(a) = &eni.attachment {
                enis_by_instance
                    .entry(a.instance_id.as_str())
                    .or_default()
                    .push(eni);
            }
            if eni.kind == EniType::Branch
                && let Some(trunk) = eni.tags.get(TRUNK_TAG)
            {
                branches_by_trunk
                    .entry(trunk.as_str())
                    .or_default()
                    .push(eni);
            }
        }
        let mut nodes = Vec::new();
        for (instance_id, node_name) in node_ids {
            let mut enis: Vec<&Eni> = enis_by_instance
                .get(instance_id.as_str())
                .cloned()
                .unwrap_or_default();
            enis.sort_by_key(|e| {
                e.attachment
                    .as_ref()
                    .map(|a| (a.network_card_index, a.device_index))
            });
            let Some(primary) = enis.iter().find(|e| e.is_primary()) else {
                cluster_gap(
                    &mut self.gaps,
                    Some(instance_id.clone()),
                    "node has no primary ENI (device 0, card 0) in `describe-network-interfaces`: it is not analysed"
                        .to_owned(),
                );
                continue;
            };
            let branch_enis = enis
                .iter()
                .filter(|e| e.kind == EniType::Trunk)
                .flat_map(|trunk| {
                    branches_by_trunk
                        .get(trunk.id.as_str())
                        .into_iter()
                        .flatten()
                })
                .map(|e| BranchEni {
                    eni_id: e.id.clone(),
                    vlan_id: e
                        .tags
                        .get(VLAN_TAG)
                        .and_then(|v| v.parse().ok())
                        .or_else(|| branch_by_pod_annotation.get(&e.id).copied()),
                })
                .collect();
            nodes.push(Node {
                instance_id,
                name: node_name,
                ip: primary.primary_ip,
                primary_eni: primary.id.clone(),
                enis: enis.iter().map(|e| e.id.clone()).collect(),
                branch_enis,
            });
        }

        // Nodes aws-node does not network: never judged with its rules, always named.
        let mut not_modelled: Vec<NotModelledNode> = Vec::new();
        let auto_mode = rc.compute_config.as_ref().and_then(|c| c.enabled) == Some(true);
        let has_aws_node =
            !daemonsets.is_empty() || self.addons.iter().any(|(a, _)| a.cluster_name == name);
        if auto_mode && !has_aws_node {
            return Err("EKS Auto Mode (computeConfig.enabled) without an aws-node DaemonSet or vpc-cni add-on: \
                        EKS networks the pods itself (NodeClass), which podreach does not model, so it gives \
                        this cluster no verdicts"
                .to_owned());
        }
        if nodes_known {
            let by_instance: BTreeMap<&str, &raw::Node> = kube_nodes
                .iter()
                .filter_map(|n| Some((n.instance_id()?, *n)))
                .collect();
            let by_name: BTreeMap<&str, &raw::Node> = kube_nodes
                .iter()
                .map(|n| (n.metadata.name.as_str(), *n))
                .collect();
            nodes.retain(|n: &Node| {
                let kube = by_instance
                    .get(n.instance_id.as_str())
                    .or_else(|| n.name.as_deref().and_then(|name| by_name.get(name)));
                kube.is_none_or(|k| NodeKind::of(k) == NodeKind::AwsNode)
            });
            for node in &kube_nodes {
                let kind = NodeKind::of(node);
                if kind != NodeKind::AwsNode {
                    not_modelled.push(NotModelledNode {
                        name: node.metadata.name.clone(),
                        instance_id: node.instance_id().map(str::to_owned),
                        kind,
                        pods: 0,
                        why: kind.why_not_modelled().to_owned(),
                    });
                }
            }
        } else if auto_mode {
            // Without the Node objects, EKS Auto Mode's nodes are told apart by running no
            // aws-node pod (docs/datapath.md §10.8).
            if pod_lists.is_empty() {
                return Err("EKS Auto Mode (computeConfig.enabled) beside aws-node: without the Node objects or a \
                            pods list podreach cannot tell the nodes aws-node networks from Auto Mode's, which it \
                            does not model; let podreach read the Kubernetes API, or add \
                            `kubectl get nodes -o json` to the snapshot"
                    .to_owned());
            }
            nodes.retain(|n: &Node| {
                let runs_aws_node = n
                    .name
                    .as_deref()
                    .is_some_and(|name| aws_node_nodes.contains(name));
                if !runs_aws_node {
                    not_modelled.push(NotModelledNode {
                        name: n.name.clone().unwrap_or_else(|| n.instance_id.clone()),
                        instance_id: Some(n.instance_id.clone()),
                        kind: NodeKind::AutoMode,
                        pods: 0,
                        why: format!(
                            "{} (told apart by running no aws-node pod: the Node objects were not read)",
                            NodeKind::AutoMode.why_not_modelled()
                        ),
                    });
                }
                runs_aws_node
            });
        }
        // EC2 names Windows instances itself (`Platform: windows`), Node objects or not.
        nodes.retain(|n: &Node| {
            if !windows_instances.contains(n.instance_id.as_str()) {
                return true;
            }
            if !not_modelled
                .iter()
                .any(|m| m.instance_id.as_deref() == Some(n.instance_id.as_str()))
            {
                not_modelled.push(NotModelledNode {
                    name: n.name.clone().unwrap_or_else(|| n.instance_id.clone()),
                    instance_id: Some(n.instance_id.clone()),
                    kind: NodeKind::Windows,
                    pods: 0,
                    why: format!(
                        "{} (told by EC2: the instance's Platform is windows)",
                        NodeKind::Windows.why_not_modelled()
                    ),
                });
            }
            false
        });
        let unmodelled_names: BTreeSet<String> =
            not_modelled.iter().map(|n| n.name.clone()).collect();
        // Pods on those nodes hold addresses podreach does not judge: count them by node.
        let mut pods_by_node: BTreeMap<&str, usize> = BTreeMap::new();
        for pod in all_pods.iter().filter(kube::holds_its_address) {
            if let Some(node) = pod.node().filter(|n| unmodelled_names.contains(*n)) {
                *pods_by_node.entry(node).or_default() += 1;
            }
        }
        for n in &mut not_modelled {
            n.pods = pods_by_node.get(n.name.as_str()).copied().unwrap_or(0);
        }
        not_modelled.sort_by(|a, b| (a.kind, &a.name).cmp(&(b.kind, &b.name)));
        if nodes.is_empty() {
            let message = if not_modelled.is_empty() {
                "no worker nodes found (no running instance tagged kubernetes.io/cluster/<name> or eks:cluster-name, \
                 no ENI tagged cluster.k8s.amazonaws.com/name, no pod or Node object naming one)"
                    .to_owned()
            } else {
                format!(
                    "no worker node networked by aws-node: the cluster's {} node(s) are all ones podreach does not model",
                    not_modelled.len()
                )
            };
            cluster_gap(&mut self.gaps, None, message);
        }
        let pods = PodIndex::new(all_pods, |pod| {
            pod.node().is_none_or(|n| !unmodelled_names.contains(n))
        });
        // Pods whose address no ENI of their node holds (aws/amazon-vpc-cni-k8s#3821, #3887: an
        // address EC2 no longer assigns). Nothing in the VPC delivers to such an address.
        let by_name: BTreeMap<&str, &Node> = nodes
            .iter()
            .filter_map(|n| Some((n.name.as_deref()?, n)))
            .collect();
        for pod in pods.all().iter().filter(kube::holds_its_address) {
            let Some(node) = pod.node().and_then(|n| by_name.get(n)) else {
                continue;
            };
            for ip in pod.ips() {
                let held = node
                    .enis
                    .iter()
                    .chain(node.branch_enis.iter().map(|b| &b.eni_id))
                    .filter_map(|id| self.network.enis.get(id))
                    .any(|eni| eni.owns(ip));
                if !held {
                    cluster_gap(
                        &mut self.gaps,
                        Some(format!("{}/{}", pod.namespace(), pod.name())),
                        format!(
                            "pod address {ip} is held by no ENI of its node {} (aws/amazon-vpc-cni-k8s#3821): \
                             the VPC delivers nothing to it, so no far side can reach the pod; what the pod \
                             opens itself gets out only if SNATed to the node IP, and without SNAT EC2's \
                             source/destination check drops it",
                            node.instance_id
                        ),
                    );
                }
            }
        }

        let mut blind_spots = blind;
        // ENIConfigs decide subnets and groups only with custom networking.
        blind_spots.retain(|b| b.input != ENICONFIGS_INPUT || cni.custom_networking);
        if cni.version_unknown() {
            blind_spots.push(raw::BlindSpot {
                cluster: name.clone(),
                input: crate::cni::UNKNOWN_VERSION.to_owned(),
                cause: crate::cni::VERSION_SOURCES.to_owned(),
                remedy: "let podreach read the aws-node DaemonSet (grant it the Kubernetes API: README \
                         \"Kubernetes API access\"; or add `kubectl get daemonset aws-node -n kube-system -o json` \
                         to the snapshot), or give the version with --cni-version; until then every verdict \
                         that differs between CNI releases is unknown"
                    .to_owned(),
            });
        }

        Ok(Cluster {
            name: name.clone(),
            vpc_id,
            ip_family,
            file: file.to_owned(),
            cni,
            nodes,
            eniconfigs,
            pods,
            pods_known: !pod_lists.is_empty(),
            nodes_known,
            not_modelled,
            blind_spots,
        })
    }
}

/// Where a `valueFrom` takes its value, for a ConfigMap or Secret key; `None` for field and
/// resource references, which carry node facts rather than settings.
fn value_from_source(value_from: &serde_json::Value) -> Option<String> {
    for kind in ["configMapKeyRef", "secretKeyRef"] {
        if let Some(reference) = value_from.get(kind) {
            let name = reference
                .get("name")
                .and_then(|v| v.as_str())
                .unwrap_or("?");
            let key = reference.get("key").and_then(|v| v.as_str()).unwrap_or("?");
            return Some(format!("{kind} {name}/{key}"));
        }
    }
    None
}

/// Reads the `env` map of an add-on's `configurationValues` (JSON or YAML; YAML is a superset).
fn addon_env(values: &str) -> Result<BTreeMap<String, String>, String> {
    let parsed: serde_json::Value = serde_yaml_ng::from_str(values).map_err(|e| e.to_string())?;
    let mut env = BTreeMap::new();
    if let Some(map) = parsed.get("env").and_then(|e| e.as_object()) {
        for (key, value) in map {
            let text = match value {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            env.insert(key.clone(), text);
        }
    }
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addon_configuration_values_may_be_json_or_yaml() {
        let json = r#"{"env": {"AWS_VPC_K8S_CNI_EXTERNALSNAT": "true", "WARM_ENI_TARGET": 2}}"#;
        let yaml = "env:\n  AWS_VPC_K8S_CNI_EXTERNALSNAT: \"true\"\n  WARM_ENI_TARGET: 2\n";
        for text in [json, yaml] {
            let env = addon_env(text).expect("valid configuration");
            assert_eq!(
                env.get("AWS_VPC_K8S_CNI_EXTERNALSNAT").map(String::as_str),
                Some("true")
            );
            assert_eq!(env.get("WARM_ENI_TARGET").map(String::as_str), Some("2"));
        }
        assert!(addon_env("env: [unclosed").is_err());
    }
}
