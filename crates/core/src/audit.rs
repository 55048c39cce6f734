//! Orchestration: model in, report out, with the per-ENI rows streamed on request.
//!
//! This is the glue above [`crate::analysis`] (which computes each cluster's verdict matrix) and
//! [`crate::findings`] (which reads the matrix), so neither imports the other. [`run`] analyses
//! every cluster and assembles the [`Report`] without per-ENI rows; [`Audit::for_each_path`]
//! then produces the rows one at a time, so a caller can write millions of them without holding
//! them. [`analyze`] is the in-memory form for small inputs and tests.

use crate::analysis::{self, ACL_ASSUMPTION, ClusterAnalysis, EPHEMERAL_ASSUMPTION, SG_ASSUMPTION};
use crate::findings;
use crate::model::{Cluster, IpFamily, Model};
use crate::report::{
    BlindSpot, ClusterReport, CniReport, Gap, NodeNotModelled, NotAnalysed, PathVerdict, Report,
    SCHEMA, Verdict, VerdictCounts,
};
use crate::verdict::{ClusterVerdicts, DIRECTIONS};

/// What `analyze` should produce beyond findings.
#[derive(Debug, Clone, Default)]
pub struct AnalyzeOptions {
    /// Expand every per-ENI verdict into `Report::paths`.
    pub include_paths: bool,
    /// The question asked: the TCP ports every verdict is about (`--port tcp/N`, the functions'
    /// `TCP_PORTS`); empty: any TCP port. It belongs to the question, not to the model: the same
    /// model answers for any port.
    pub tcp_ports: Vec<u16>,
}

/// An analysed model (or several, one per Region: [`Audit::merge`]): the report, and what is
/// needed to stream its per-ENI rows.
#[derive(Debug)]
pub struct Audit<'m> {
    pub report: Report,
    /// Each cluster's analysis, with the Region of the model it belongs to.
    analyses: Vec<(Option<&'m str>, ClusterAnalysis<'m>)>,
}

impl<'m> Audit<'m> {
    /// Hands every per-ENI row to `sink`, cluster by cluster in report order.
    pub fn for_each_path(&self, mut sink: impl FnMut(PathVerdict)) {
        for (region, analysis) in &self.analyses {
            analysis.for_each_path(&mut |p| sink(in_region(p, *region)));
        }
    }

    /// Like [`Audit::for_each_path`], for one cluster of one Region (`None`: unnamed).
    pub fn for_each_path_of(
        &self,
        cluster: &str,
        region: Option<&str>,
        mut sink: impl FnMut(PathVerdict),
    ) {
        for (r, analysis) in self
            .analyses
            .iter()
            .filter(|(r, a)| a.verdicts.cluster.name == cluster && *r == region)
        {
            analysis.for_each_path(&mut |p| sink(in_region(p, *r)));
        }
    }

    /// One audit of several Regions' models, each audited on its own (a cluster's name, its
    /// VPC's addresses and its findings' ids are unique only within a Region): their clusters,
    /// findings, gaps and unanalysed entries side by side, each naming its Region, the findings
    /// in the one order of [`run`], and the collections' costs added up.
    pub fn merge(audits: Vec<Audit<'m>>) -> Audit<'m> {
        let mut merged = Audit {
            report: Report {
                schema: SCHEMA,
                clusters: Vec::new(),
                findings: Vec::new(),
                gaps: Vec::new(),
                not_analysed: Vec::new(),
                paths: None,
                stats: None,
                lifecycle: None,
            },
            analyses: Vec::new(),
        };
        for audit in audits {
            let report = audit.report;
            merged.report.clusters.extend(report.clusters);
            merged.report.findings.extend(report.findings);
            merged.report.gaps.extend(report.gaps);
            merged.report.not_analysed.extend(report.not_analysed);
            if let Some(stats) = report.stats {
                let total = merged.report.stats.get_or_insert_with(Default::default);
                total.add(&stats);
            }
            if let Some(entries) = report.lifecycle {
                merged
                    .report
                    .lifecycle
                    .get_or_insert_with(Vec::new)
                    .extend(entries);
            }
            merged.analyses.extend(audit.analyses);
        }
        sort_findings(&mut merged.report.findings);
        merged
    }
}

/// A row named with its Region.
fn in_region(path: PathVerdict, region: Option<&str>) -> PathVerdict {
    PathVerdict {
        region: region.map(str::to_owned),
        ..path
    }
}

/// Most severe first, then by Region, cluster and id: the same order for one Region or many.
fn sort_findings(findings: &mut [crate::report::Finding]) {
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.region.cmp(&b.region))
            .then_with(|| a.cluster.cmp(&b.cluster))
            .then_with(|| a.id.cmp(&b.id))
    });
}

/// Analyses every cluster of the model: deterministic, pure. The report has no `paths`.
pub fn run<'m>(model: &'m Model, options: &AnalyzeOptions) -> Audit<'m> {
    let mut gaps = model.gaps.clone();
    let mut not_analysed = model.not_analysed.clone();
    let mut clusters = Vec::new();
    let mut findings_out = Vec::new();
    let mut analyses = Vec::new();
    for cluster in &model.clusters {
        if cluster.ip_family == IpFamily::V6 {
            gaps.push(Gap {
region: None,
cluster: Some(cluster.name.clone()),
                file: Some(cluster.file.clone()),
                object: None,
                message: "IPv6 cluster: not analysed yet (docs/datapath.md §5.4a); no verdicts are given for it".to_owned(),
            });
            not_analysed.push(NotAnalysed {
                region: None,
                cluster: Some(cluster.name.clone()),
                reason: "IPv6 clusters are not analysed yet".to_owned(),
            });
            clusters.push(cluster_report(model, cluster, options, None));
            continue;
        }
        let analysis = analysis::analyze_cluster(model, cluster, &options.tcp_ports, &mut gaps);
        if cluster.nodes.is_empty() || analysis.verdicts.subjects.is_empty() {
            not_analysed.push(NotAnalysed {
                region: None,
                cluster: Some(cluster.name.clone()),
                reason: if cluster.nodes.is_empty() {
                    "no worker nodes found".to_owned()
                } else {
                    "no node ENI of the cluster could be placed (see the gaps)".to_owned()
                },
            });
        }
        if analysis.verdicts.blocks.is_empty() {
            gaps.push(Gap {
region: None,
cluster: Some(cluster.name.clone()),
                file: None,
                object: None,
                message: "no private route beyond the VPC (pcx-/tgw-/vgw-/lgw-) in the route tables of the node and pod subnets: nothing to check".to_owned(),
            });
        }
        findings_out.extend(findings::findings(&analysis.verdicts));
        clusters.push(cluster_report(
            model,
            cluster,
            options,
            Some(&analysis.verdicts),
        ));
        analyses.push((model.region.as_deref(), analysis));
    }
    // Everything the report says names the Region it is about.
    for finding in &mut findings_out {
        finding.region.clone_from(&model.region);
    }
    for gap in &mut gaps {
        gap.region.clone_from(&model.region);
    }
    for entry in &mut not_analysed {
        entry.region.clone_from(&model.region);
    }
    sort_findings(&mut findings_out);
    Audit {
        report: Report {
            schema: SCHEMA,
            clusters,
            findings: findings_out,
            gaps,
            not_analysed,
            paths: None,
            stats: model.collection_stats.as_ref().map(Into::into),
            lifecycle: None,
        },
        analyses,
    }
}

/// `analyze(&Model) -> Report`, with every per-ENI row in memory when asked for.
pub fn analyze(model: &Model, options: &AnalyzeOptions) -> Report {
    let audit = run(model, options);
    let paths = options.include_paths.then(|| {
        let mut paths = Vec::new();
        audit.for_each_path(|p| paths.push(p));
        paths
    });
    Report {
        paths,
        ..audit.report
    }
}

/// Per-ENI verdict counts (one per row `--paths` would print), from the matrix.
fn counts(v: &ClusterVerdicts<'_>) -> VerdictCounts {
    let mut per_class = vec![VerdictCounts::default(); v.classes.len()];
    for (class, counts) in per_class.iter_mut().enumerate() {
        for direction in DIRECTIONS {
            for row in v.rows(class, direction) {
                match row.evaluation.verdict {
                    Verdict::Reachable => counts.reachable += 1,
                    Verdict::Unreachable => counts.unreachable += 1,
                    Verdict::Unknown => counts.unknown += 1,
                }
            }
        }
    }
    let mut total = VerdictCounts::default();
    for s in v.subjects.iter().filter(|s| s.has_pod_addresses()) {
        let c = per_class[s.class];
        total.reachable += c.reachable;
        total.unreachable += c.unreachable;
        total.unknown += c.unknown;
    }
    total
}

fn cluster_report(
    model: &Model,
    cluster: &Cluster,
    options: &AnalyzeOptions,
    verdicts: Option<&ClusterVerdicts<'_>>,
) -> ClusterReport {
    let cni = &cluster.cni;
    let vpc_cidrs = model
        .network
        .vpcs
        .get(&cluster.vpc_id)
        .map(|v| v.cidrs.iter().map(ToString::to_string).collect())
        .unwrap_or_default();
    let mut assumptions = cni.assumptions.clone();
    let net = &model.network;
    if net.security_groups.is_none() {
        assumptions.push(SG_ASSUMPTION.to_owned());
    }
    if net.network_acls.is_none() {
        assumptions.push(ACL_ASSUMPTION.to_owned());
    }
    if net.security_groups.is_some() || net.network_acls.is_some() {
        assumptions.push(EPHEMERAL_ASSUMPTION.to_owned());
    }
    assumptions.push(if options.tcp_ports.is_empty() {
        "verdicts concern TCP; no --port given, so a path is reachable when some TCP port passes every filter both ways".to_owned()
    } else {
        format!(
            "verdicts concern TCP ports {}: a path is reachable only when every one of them passes every filter both ways",
            crate::filters::PortSet::from_ports(&options.tcp_ports)
        )
    });
    if !cluster.pods_known {
        assumptions.push(
            "no pods list (the Kubernetes API, or kubectl get pods -A -o json): every secondary IP and prefix of a node ENI is treated as a pod address in use".to_owned(),
        );
    } else {
        assumptions.push(
            "workloads are named from the pods' owners: a ReplicaSet whose name ends in the pods' pod-template-hash by its Deployment, a Job named <name>-<scheduled minute> by its CronJob; pods that ended (Succeeded, Failed) hold no address".to_owned(),
        );
    }
    if !cluster.nodes_known {
        assumptions.push(
            "no Node objects (the Kubernetes API, or kubectl get nodes -o json): every node found by its EC2 tags is taken for a Linux node networked by aws-node (Windows, Fargate, Hybrid and Auto Mode nodes are told apart by their Node labels)".to_owned(),
        );
    }
    ClusterReport {
        region: model.region.clone(),
        name: cluster.name.clone(),
        vpc_id: cluster.vpc_id.clone(),
        vpc_cidrs,
        ip_family: match cluster.ip_family {
            IpFamily::V4 => "ipv4",
            IpFamily::V6 => "ipv6",
        },
        cni: CniReport {
            version: cni.version_source.map(|_| cni.version.to_string()),
            version_source: cni.version_source,
            modelled_version: cni.version.to_string(),
            settings: cni.settings.clone(),
            notes: cni.notes.clone(),
        },
        nodes: cluster.nodes.len(),
        // An ENI whose addresses the far side routes differently is several subjects, in a row.
        enis: verdicts.map_or(0, |v| {
            v.subjects.chunk_by(|a, b| a.eni.id == b.eni.id).count()
        }),
        pod_addresses: verdicts.map_or(0, |v| {
            v.subjects.iter().map(|s| s.pod_address_count()).sum()
        }),
        destinations: verdicts.map_or_else(Vec::new, |v| {
            v.routes.iter().map(ToString::to_string).collect()
        }),
        verdicts: verdicts.map(counts).unwrap_or_default(),
        pods: cluster.pods_known.then(|| cluster.pods.len()),
        nodes_not_modelled: cluster
            .not_modelled
            .iter()
            .map(|n| NodeNotModelled {
                name: n.name.clone(),
                instance_id: n.instance_id.clone(),
                kind: n.kind.as_str(),
                pods: n.pods,
                why: n.why.clone(),
            })
            .collect(),
        blind_spots: cluster
            .blind_spots
            .iter()
            .map(|b| BlindSpot {
                input: b.input.clone(),
                cause: b.cause.clone(),
                remedy: b.remedy.clone(),
            })
            .collect(),
        assumptions,
    }
}
