//! Holding the kernel's result against the model's per-ENI verdicts.
//!
//! A lab measurement (one pod ENI, one probe address, one direction) is matched with the model's
//! [`PathVerdict`] for the same cluster, node, ENI and direction whose destination block contains
//! the probe address; the lab's blocks are cut at the same kind of boundaries (routes, exclusion
//! and external-service CIDRs), so each probe stands for a block the model treats uniformly.
//! `unknown` model verdicts are not agreement: they are reported as not comparable, and so are
//! measurements the model has no verdict for. The renderer prints every row, and for each row
//! that is not plain agreement the model's causes and hops next to the lab's evidence.

use std::fmt::Write as _;

use ipnet::Ipv4Net;
use podreach_core::Report;
use podreach_core::report::{PathVerdict, Verdict};
use serde::Serialize;

use crate::{Measurement, NodeLabResult};

/// Why a row is not plain agreement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DisagreementKind {
    /// The model says reachable and the kernel could not connect, or the other way round.
    VerdictDiffers,
    /// The model says `unknown`: not comparable.
    ModelUnknown,
    /// The report has no per-ENI verdict covering this probe: not comparable.
    NoModelVerdict,
}

/// The model's side of a row.
#[derive(Debug, Clone, Serialize)]
pub struct ModelSide {
    pub destination: String,
    pub verdict: Verdict,
    pub causes: Vec<String>,
    pub hops: Vec<String>,
    pub egress_eni: String,
    pub source_ip_at_peer: String,
    pub host_table: String,
}

/// One row that is not plain agreement.
#[derive(Debug, Clone, Serialize)]
pub struct Disagreement {
    pub kind: DisagreementKind,
    pub lab: Measurement,
    pub model: Option<ModelSide>,
}

/// One compared row.
#[derive(Debug, Clone)]
pub struct Row<'a> {
    pub lab: &'a Measurement,
    pub model: Option<&'a PathVerdict>,
    /// `None` when agreeing.
    pub kind: Option<DisagreementKind>,
}

fn model_side(path: &PathVerdict) -> ModelSide {
    ModelSide {
        destination: path.destination.clone(),
        verdict: path.verdict,
        causes: path
            .causes
            .iter()
            .map(|r| format!("{}: {}", r.code, r.detail))
            .collect(),
        hops: path
            .hops
            .iter()
            .map(|h| format!("[{}] {} ({:?})", h.at, h.detail, h.outcome).to_lowercase())
            .collect(),
        egress_eni: path.egress_eni.clone(),
        source_ip_at_peer: path.source_ip_at_peer.clone(),
        host_table: path.host_table.to_string(),
    }
}

/// `true` when the row's pod addresses include `ip`.
fn holds(path: &PathVerdict, ip: std::net::Ipv4Addr) -> bool {
    path.pod_ips.iter().any(|p| p.parse() == Ok(ip))
        || path
            .pod_prefixes
            .iter()
            .any(|p| p.parse::<Ipv4Net>().is_ok_and(|n| n.contains(&ip)))
}

/// Matches every measurement with the model's verdict. An ENI whose addresses the far side
/// routes differently has a row per part; the one holding the probed pod address is used.
pub fn rows<'a>(result: &'a NodeLabResult, report: &'a Report) -> Vec<Row<'a>> {
    let paths: &[PathVerdict] = report.paths.as_deref().unwrap_or(&[]);
    result
        .measurements
        .iter()
        .map(|m| {
            let of_eni = |p: &&PathVerdict| {
                p.cluster == result.cluster
                    && p.instance_id == result.instance_id
                    && p.eni_id == m.eni_id
                    && p.direction == m.direction
            };
            let holding = paths.iter().filter(of_eni).any(|p| holds(p, m.pod_ip));
            let model = paths
                .iter()
                .filter(of_eni)
                .filter(|p| !holding || holds(p, m.pod_ip))
                .filter_map(|p| {
                    p.destination
                        .parse::<Ipv4Net>()
                        .ok()
                        .filter(|d| d.contains(&m.probe))
                        .map(|d| (p, d))
                })
                .max_by_key(|(_, d)| d.prefix_len())
                .map(|(p, _)| p);
            let kind = match model.map(|p| p.verdict) {
                None => Some(DisagreementKind::NoModelVerdict),
                Some(Verdict::Unknown) => Some(DisagreementKind::ModelUnknown),
                Some(Verdict::Reachable) if m.reachable => None,
                Some(Verdict::Unreachable) if !m.reachable => None,
                Some(_) => Some(DisagreementKind::VerdictDiffers),
            };
            Row {
                lab: m,
                model,
                kind,
            }
        })
        .collect()
}

/// Every row that is not plain agreement (verdict differences and non-comparable rows).
pub fn compare(result: &NodeLabResult, report: &Report) -> Vec<Disagreement> {
    rows(result, report)
        .into_iter()
        .filter_map(|row| {
            row.kind.map(|kind| Disagreement {
                kind,
                lab: row.lab.clone(),
                model: row.model.map(model_side),
            })
        })
        .collect()
}

/// The kernel's result next to the model's verdict for every ENI × destination × direction.
pub fn render(result: &NodeLabResult, report: &Report) -> String {
    let rows = rows(result, report);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "datapath lab: cluster {} node {}",
        result.cluster, result.instance_id
    );
    for note in &result.notes {
        let _ = writeln!(out, "  note: {note}");
    }
    let _ = writeln!(
        out,
        "  {:<22} {:<6} {:<15} {:<18} {:<12} {:<12} {:<12} match",
        "eni", "if", "pod", "destination", "direction", "kernel", "model"
    );
    for row in &rows {
        let m = row.lab;
        let _ = writeln!(
            out,
            "  {:<22} {:<6} {:<15} {:<18} {:<12} {:<12} {:<12} {}",
            m.eni_id,
            m.interface,
            m.pod_ip.to_string(),
            m.destination,
            m.direction.as_str(),
            if m.reachable {
                "reachable"
            } else {
                "unreachable"
            },
            row.model.map_or("-", |p| p.verdict.as_str()),
            match row.kind {
                None => "agree",
                Some(DisagreementKind::VerdictDiffers) => "DISAGREE",
                Some(DisagreementKind::ModelUnknown) => "not comparable (model unknown)",
                Some(DisagreementKind::NoModelVerdict) => "not comparable (no model verdict)",
            }
        );
    }
    for row in rows.iter().filter(|r| r.kind.is_some()) {
        let m = row.lab;
        let _ = writeln!(
            out,
            "\n  {} {} {} -> {} ({}):",
            m.eni_id,
            m.interface,
            m.pod_ip,
            m.probe,
            m.direction.as_str()
        );
        let _ = writeln!(
            out,
            "    kernel: {}",
            if m.reachable {
                "reachable"
            } else {
                "unreachable"
            }
        );
        for item in m.evidence.split("; ") {
            let _ = writeln!(out, "      {item}");
        }
        match row.model {
            Some(p) => {
                let side = model_side(p);
                let _ = writeln!(
                    out,
                    "    model: {} for {} (egress ENI {}, source at peer {}, host table {})",
                    side.verdict.as_str(),
                    side.destination,
                    side.egress_eni,
                    side.source_ip_at_peer,
                    side.host_table
                );
                for cause in &side.causes {
                    let _ = writeln!(out, "      cause {cause}");
                }
                for hop in &side.hops {
                    let _ = writeln!(out, "      hop {hop}");
                }
            }
            None => {
                let _ = writeln!(
                    out,
                    "    model: no per-ENI verdict covers {} (was the report built with include_paths?)",
                    m.probe
                );
            }
        }
    }
    out
}
