//! podreach-lab: ground truth for podreach's verdicts, measured on a real Linux kernel.
//!
//! Given a validated [`Model`] and one node, [`run_node`] rebuilds that node in throw-away network
//! namespaces and sends real TCP connections both ways: the node with one interface per ENI and
//! the rules the VPC CNI installs for the cluster's version and settings; one pod per ENI that
//! carries pod addresses, and one per branch ENI (security groups for pods: a VLAN of the trunk
//! ENI on both sides of its link); an emulated VPC fabric with the EC2 source/destination check,
//! security groups, network ACLs and per-subnet route tables; one probe host per destination
//! block. [`compare`] then holds the kernel's result against the model's per-ENI verdicts, and
//! [`render`] prints both side by side.
//!
//! The lab is an independent reading of docs/datapath.md and of the CNI source: it never calls the
//! model's rule logic (`podreach_core::datapath`/`analysis`), only its types, so agreement between
//! the two means something. Modules: [`topology`] (model → what to build), [`host`] (the CNI's
//! host rules), [`fabric`] (the AWS side), [`netns`] (namespaces and their cleanup), [`probe`]
//! (traffic and counters), [`compare`] (verdict matching and the report).

pub mod compare;
pub mod error;
pub mod fabric;
pub mod filters;
pub mod host;
pub mod netns;
pub mod probe;
pub mod topology;

use std::net::Ipv4Addr;
use std::time::Duration;

use podreach_core::Model;
use podreach_core::report::Direction;
use serde::Serialize;

pub use compare::{Disagreement, DisagreementKind, compare, render};
pub use error::LabError;

/// How the lab runs.
#[derive(Debug, Clone)]
pub struct LabOptions {
    /// Per-probe timeout (TCP handshake + round trip, and the ICMP echo). At most 1 s is sensible.
    pub timeout: Duration,
    /// Also send an ICMP echo for each probe (evidence only).
    pub icmp: bool,
    /// The TCP port every probe connects to, both ways (listeners on probe hosts and pods).
    /// Security groups and network ACLs judge ports, so the model must be asked about this
    /// same port (`AnalyzeOptions::tcp_ports`).
    pub port: u16,
}

impl Default for LabOptions {
    fn default() -> Self {
        LabOptions {
            timeout: Duration::from_millis(800),
            icmp: true,
            port: probe::PORT,
        }
    }
}

/// One measured connection.
#[derive(Debug, Clone, Serialize)]
pub struct Measurement {
    pub eni_id: String,
    /// Interface of the ENI in the node namespace (`eth0`, `eth1`, …).
    pub interface: String,
    pub pod_ip: Ipv4Addr,
    /// The destination block (CIDR) the probe host stands for.
    pub destination: String,
    /// The probe host's address inside `destination`.
    pub probe: Ipv4Addr,
    pub direction: Direction,
    pub reachable: bool,
    /// ICMP echo result in the same direction; `None` when not sent.
    pub icmp: Option<bool>,
    pub evidence: String,
}

/// Everything measured on one node.
#[derive(Debug, Clone, Serialize)]
pub struct NodeLabResult {
    pub cluster: String,
    pub instance_id: String,
    /// Choices the lab made (assumed host facts, assumed remote routing, …).
    pub notes: Vec<String>,
    pub measurements: Vec<Measurement>,
}

/// Rebuilds one node of `cluster` in network namespaces and measures every pod ENI × destination
/// block × direction. Needs root and the tools of `scripts/install-lab-deps.sh`.
pub fn run_node(
    model: &Model,
    cluster: &str,
    instance_id: &str,
    options: &LabOptions,
) -> Result<NodeLabResult, LabError> {
    netns::require_root()?;
    netns::require_tools()?;
    netns::remove_stale();
    let (spec, host_plan, names) = plan_node(model, cluster, instance_id)?;
    let lab = netns::Lab::create(names.clone())?;

    lab.add_links(&fabric::links(&spec, &names, &host_plan.pods))?;
    lab.configure(&netns::NsConfig {
        ns: names.node.clone(),
        sysctls: host_plan.node_sysctls.clone(),
        ip: host_plan.node_ip.clone(),
        iptables: host_plan.node_iptables.clone(),
    })?;
    let listener_sysctls = vec![("net/ipv4/tcp_synack_retries".to_owned(), "0".to_owned())];
    for (pod, ns) in host_plan.pods.iter().zip(&names.pods) {
        let mut sysctls = listener_sysctls.clone();
        sysctls.push(("net/ipv4/conf/all/rp_filter".to_owned(), "0".to_owned()));
        lab.configure(&netns::NsConfig {
            ns: ns.clone(),
            sysctls,
            ip: pod.pod_ip_cmds.clone(),
            iptables: String::new(),
        })?;
    }
    for mut config in fabric::plan(&spec, &names) {
        if names.hosts.contains(&config.ns) {
            config.sysctls.extend(listener_sysctls.iter().cloned());
        }
        lab.configure(&config)?;
    }

    let mut listeners = Vec::new();
    for (dest, ns) in spec.destinations.iter().zip(&names.hosts) {
        listeners.push(probe::Listener::spawn(ns, dest.probe, options.port)?);
    }
    for (pod, ns) in host_plan.pods.iter().zip(&names.pods) {
        listeners.push(probe::Listener::spawn(ns, pod.pod_ip, options.port)?);
    }

    let mut fabric_ns = vec![("vpc".to_owned(), names.vpc.clone())];
    for (remote, ns) in spec.remotes.iter().zip(&names.remotes) {
        fabric_ns.push((remote.id.clone(), ns.clone()));
    }

    let mut measurements = Vec::new();
    for (pod, pod_ns) in host_plan.pods.iter().zip(&names.pods) {
        let eni = spec.port(pod.port);
        for (dest, host_ns) in spec.destinations.iter().zip(&names.hosts) {
            for direction in [Direction::PodToPeer, Direction::PeerToPod] {
                let (from_ns, to, port) = match direction {
                    Direction::PodToPeer => (pod_ns, dest.probe, options.port),
                    Direction::PeerToPod => (host_ns, pod.pod_ip, options.port),
                };
                let before = probe::read_counters(&lab, &fabric_ns, &names.node)?;
                let ping = options
                    .icmp
                    .then(|| probe::ping_start(from_ns, to, options.timeout))
                    .flatten();
                let (reachable, tcp_text) = probe::tcp(from_ns, to, port, options.timeout)?;
                let icmp = if options.icmp {
                    probe::ping_result(ping)
                } else {
                    None
                };
                let after = probe::read_counters(&lab, &fabric_ns, &names.node)?;
                let mut evidence = vec![format!("tcp {}:{port}: {tcp_text}", to)];
                if let Some(icmp) = icmp {
                    evidence.push(format!(
                        "icmp echo: {}",
                        if icmp { "reply" } else { "no reply" }
                    ));
                }
                evidence.extend(probe::diff(&before, &after, &fabric_ns));
                if !reachable {
                    let (src, dst) = match direction {
                        Direction::PodToPeer => (pod.pod_ip.to_string(), dest.probe.to_string()),
                        Direction::PeerToPod => (dest.probe.to_string(), pod.pod_ip.to_string()),
                    };
                    let args = ["-L", "-p", "tcp", "--orig-src", &src, "--orig-dst", &dst];
                    if let Ok(text) = lab.exec(&names.node, "conntrack", &args) {
                        for line in text.lines().filter(|l| !l.trim().is_empty()).take(2) {
                            evidence.push(format!(
                                "node conntrack: {}",
                                line.split_whitespace().collect::<Vec<_>>().join(" ")
                            ));
                        }
                    }
                }
                measurements.push(Measurement {
                    eni_id: eni.id.clone(),
                    interface: eni.ifname.clone(),
                    pod_ip: pod.pod_ip,
                    destination: dest.block.to_string(),
                    probe: dest.probe,
                    direction,
                    reachable,
                    icmp,
                    evidence: evidence.join("; "),
                });
            }
        }
    }
    drop(listeners);
    drop(lab);

    let mut notes = spec.notes.clone();
    notes.push(
        "the CNI connmark is installed with iptables for every version (v1.23's native nft variant behaves the same for these probes)"
            .to_owned(),
    );
    for dest in &spec.destinations {
        if dest.return_source.starts_with("assumed") {
            notes.push(format!("{}: {}", dest.block, dest.return_source));
        }
    }
    Ok(NodeLabResult {
        cluster: spec.cluster,
        instance_id: spec.instance_id,
        notes,
        measurements,
    })
}

/// What the lab builds for one node: the node description, the CNI host plan and the names.
fn plan_node(
    model: &Model,
    cluster: &str,
    instance_id: &str,
) -> Result<(topology::NodeSpec, host::HostPlan, netns::Names), LabError> {
    let spec = topology::NodeSpec::from_model(model, cluster, instance_id)?;
    let host_plan = host::plan(&spec);
    let names = netns::Names::new(
        host_plan.pods.len(),
        spec.remotes.len(),
        spec.destinations.len(),
    );
    Ok((spec, host_plan, names))
}

/// The lab's configuration for a node as text (`ip` commands and `iptables-restore` input per
/// namespace), without creating anything: for review and debugging.
pub fn describe_node(model: &Model, cluster: &str, instance_id: &str) -> Result<String, LabError> {
    let (spec, host_plan, names) = plan_node(model, cluster, instance_id)?;
    let mut out = String::new();
    out.push_str(&format!(
        "# node {instance_id} (CNI {})\n",
        spec.cni.version
    ));
    for branch in &spec.branches {
        out.push_str(&format!(
            "# {} is branch ENI {} (VLAN {}) on trunk {}: a veth to the fabric's {}\n",
            branch.port.ifname,
            branch.port.id,
            branch.vlan_id,
            spec.enis[branch.trunk].ifname,
            branch.port.fabric_ifname
        ));
    }
    for cmd in &host_plan.node_ip {
        out.push_str(&format!("ip {cmd}\n"));
    }
    out.push_str(&host_plan.node_iptables);
    for (key, value) in &host_plan.node_sysctls {
        // An interface name with dots (`vlan.eth.3`) keeps the slash form.
        let key = if key.matches('.').count() == 0 {
            key.replace('/', ".")
        } else {
            key.clone()
        };
        out.push_str(&format!("sysctl {key}={value}\n"));
    }
    for config in fabric::plan(&spec, &names) {
        out.push_str(&format!(
            "# {}\n",
            config.ns.trim_start_matches(&names.prefix)
        ));
        for cmd in &config.ip {
            out.push_str(&format!("ip {cmd}\n"));
        }
        out.push_str(&config.iptables);
    }
    Ok(out)
}
