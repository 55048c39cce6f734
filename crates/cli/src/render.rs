//! Text rendering of reports and explanations for a terminal.
//!
//! The text report leads with what a platform engineer needs first: per cluster, the CNI version
//! and settings that matter, then findings by severity with plain-words detail and the fix, then
//! an aligned table of verdicts (with `--paths`), then gaps and assumptions. Colour is applied
//! through `anstream`, which strips it when stdout is not a terminal.

use std::fmt::Write as _;
use std::io;

use podreach_core::report::{Finding, Hop, HopOutcome, PathVerdict, Report, Severity, Verdict};
use podreach_core::{Audit, Explanation};

const RESET: &str = "\x1b[0m";
const BOLD: &str = "\x1b[1m";
const DIM: &str = "\x1b[2m";
const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const CYAN: &str = "\x1b[36m";

fn paint(colour: &str, text: &str) -> String {
    format!("{colour}{text}{RESET}")
}

fn severity_colour(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => RED,
        Severity::Medium => YELLOW,
        Severity::Low | Severity::Informational => CYAN,
    }
}

fn verdict_text(verdict: Verdict) -> String {
    match verdict {
        Verdict::Reachable => paint(GREEN, "reachable"),
        Verdict::Unreachable => paint(RED, "UNREACHABLE"),
        Verdict::Unknown => paint(YELLOW, "unknown"),
    }
}

/// Width of `text` without ANSI escapes.
fn visible_width(text: &str) -> usize {
    let mut width = 0;
    let mut in_escape = false;
    for c in text.chars() {
        match (in_escape, c) {
            (false, '\x1b') => in_escape = true,
            (true, 'm') => in_escape = false,
            (true, _) => {}
            (false, _) => width += 1,
        }
    }
    width
}

/// Column widths of the `--paths` table. Rows are written as they are produced (a large
/// cluster has millions), so widths are fixed from the longest value each column can hold: an
/// instance id, an ENI id with its role, a CIDR, a reason code, an address.
const PATH_COLUMNS: [(&str, usize); 8] = [
    ("NODE", 19),
    ("ENI", 42),
    ("DESTINATION", 18),
    ("DIRECTION", 11),
    ("VERDICT", 11),
    ("CAUSE", 28),
    ("SOURCE AT PEER", 15),
    ("EGRESS ENI", 21),
];

fn path_line(cells: &[String]) -> String {
    let mut s = String::from("  ");
    for (i, cell) in cells.iter().enumerate() {
        s.push_str(cell);
        if i + 1 < cells.len() {
            let width = PATH_COLUMNS[i].1;
            s.push_str(&" ".repeat(width.saturating_sub(visible_width(cell)) + 2));
        }
    }
    s.trim_end().to_owned()
}

fn path_header() -> String {
    let cells: Vec<String> = PATH_COLUMNS.iter().map(|(h, _)| (*h).to_owned()).collect();
    paint(BOLD, &path_line(&cells))
}

fn path_row(p: &PathVerdict) -> String {
    path_line(&[
        p.instance_id.clone(),
        format!("{} ({}, dev {})", p.eni_id, p.eni_role, p.device_index),
        p.destination.clone(),
        p.direction.as_str().to_owned(),
        verdict_text(p.verdict),
        p.cause
            .map(|c| c.code().to_owned())
            .unwrap_or_else(|| "-".to_owned()),
        p.source_ip_at_peer.clone(),
        p.egress_eni.clone(),
    ])
}

/// A cluster as the report names it: with its Region when the input says (a run may cover
/// several, and a cluster's name is unique only within its Region).
fn cluster_label(name: &str, region: Option<&str>) -> String {
    match region {
        Some(region) => format!("{name} ({region})"),
        None => name.to_owned(),
    }
}

fn finding(out: &mut String, f: &Finding) {
    let _ = writeln!(
        out,
        "{} {} {}",
        paint(severity_colour(f.severity), &format!("[{}]", f.severity)),
        paint(BOLD, &f.title),
        paint(DIM, &format!("({} {})", f.kind.as_str(), f.id))
    );
    let _ = writeln!(out, "    {}", f.detail);
    if f.destinations.len() > 1 {
        let _ = writeln!(
            out,
            "    destinations ({}): {}",
            f.destinations.len(),
            list(&f.destinations, 8)
        );
    }
    let a = &f.affected;
    if !a.workloads.is_empty() {
        let workloads: Vec<String> = a.workloads.iter().map(ToString::to_string).collect();
        let _ = writeln!(out, "    workloads: {}", list(&workloads, 8));
    }
    if !a.pods.is_empty() {
        let _ = writeln!(
            out,
            "    pods:   {}",
            list_of(&a.pods, a.pods.len() + a.pods_omitted, 8)
        );
    }
    if !a.pod_address_ranges.is_empty() {
        // Ranges read `10.0.1.20–10.0.1.68` for people; JSON keeps the ASCII hyphen.
        let ranges: Vec<String> = a
            .pod_address_ranges
            .iter()
            .map(|r| r.replace('-', "–"))
            .collect();
        let count = match a.unused_addresses {
            Some(0) | None => a.pod_address_count.to_string(),
            Some(unused) => format!(
                "{}, {unused} of them unused: no pod holds them today",
                a.pod_address_count
            ),
        };
        let _ = writeln!(out, "    addresses ({count}): {}", list(&ranges, 8));
    }
    if !a.enis.is_empty() {
        let _ = writeln!(out, "    ENIs:   {}", list(&a.enis, 6));
    }
    if !a.nodes.is_empty() {
        let _ = writeln!(out, "    nodes:  {}", list(&a.nodes, 6));
    }
    for r in &f.remediation {
        match &r.command {
            Some(command) => {
                let _ = writeln!(
                    out,
                    "    fix:    {}\n            {}",
                    r.action,
                    paint(BOLD, command)
                );
            }
            None => {
                let _ = writeln!(out, "    fix:    {}", r.action);
            }
        }
        for broken in &r.breaks {
            let _ = writeln!(out, "            ! {broken}");
        }
    }
}

fn list(items: &[String], max: usize) -> String {
    list_of(items, items.len(), max)
}

/// The first `max` of `items`, and how many of `total` are left out.
fn list_of(items: &[String], total: usize, max: usize) -> String {
    let shown = &items[..items.len().min(max)];
    if total <= shown.len() {
        shown.join(", ")
    } else {
        format!("{}, … ({} more)", shown.join(", "), total - shown.len())
    }
}

/// The whole text report, written as it is produced; with `paths`, each cluster's per-ENI
/// table is streamed from the audit.
pub fn report(
    sink: &mut dyn io::Write,
    report: &Report,
    paths: Option<&Audit<'_>>,
) -> io::Result<()> {
    let mut out = String::new();
    if !report.not_analysed.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            paint(
                RED,
                "NOT ANALYSED: this run is not a clean result (exit status 3)"
            )
        );
        for n in &report.not_analysed {
            let what = match (&n.cluster, &n.region) {
                (Some(cluster), region) => cluster_label(cluster, region.as_deref()),
                (None, Some(region)) => format!("Region {region}"),
                (None, None) => "whole run".to_owned(),
            };
            let _ = writeln!(out, "- {what}: {}", n.reason);
        }
        out.push('\n');
    }
    let blind: Vec<(String, &podreach_core::report::BlindSpot)> = report
        .clusters
        .iter()
        .flat_map(|c| {
            let label = cluster_label(&c.name, c.region.as_deref());
            c.blind_spots.iter().map(move |b| (label.clone(), b))
        })
        .collect();
    if !blind.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            paint(
                RED,
                "INCOMPLETE: podreach could not read everything the verdicts depend on; this run is not a clean result (exit status 3)"
            )
        );
        for (cluster, b) in &blind {
            let _ = writeln!(out, "- {cluster}: {} not read: {}", b.input, b.cause);
            let _ = writeln!(out, "  remedy: {}", b.remedy);
        }
        out.push('\n');
    }
    for c in &report.clusters {
        let version = match (&c.cni.version, c.cni.version_source) {
            (Some(v), Some(source)) => format!("{v} (from the {source})"),
            _ => format!("unknown (modelled as {})", c.cni.modelled_version),
        };
        let _ = writeln!(
            out,
            "{}",
            paint(
                BOLD,
                &format!(
                    "Cluster {} — {} ({})",
                    cluster_label(&c.name, c.region.as_deref()),
                    c.vpc_id,
                    c.vpc_cidrs.join(", ")
                )
            )
        );
        let _ = writeln!(out, "  VPC CNI {version}");
        let changed: Vec<String> = c
            .cni
            .settings
            .iter()
            .filter(|s| s.default.as_ref().is_some_and(|d| *d != s.value))
            .map(|s| format!("{}={} ({})", s.name, s.value, s.source))
            .collect();
        if !changed.is_empty() {
            let _ = writeln!(
                out,
                "  differs from the CNI defaults: {}",
                changed.join("; ")
            );
        }
        for note in &c.cni.notes {
            let _ = writeln!(out, "  note: {note}");
        }
        let pods = match c.pods {
            Some(pods) => format!(" ({pods} held by pods)"),
            None => String::new(),
        };
        let _ = writeln!(
            out,
            "  {} nodes, {} pod ENIs, {} pod addresses{pods}; destinations beyond the VPC: {}",
            c.nodes,
            c.enis,
            c.pod_addresses,
            if c.destinations.is_empty() {
                "none".to_owned()
            } else {
                list(&c.destinations, 8)
            }
        );
        if !c.nodes_not_modelled.is_empty() {
            let named: Vec<String> = c
                .nodes_not_modelled
                .iter()
                .map(|n| format!("{} ({}, {} pods)", n.name, n.kind, n.pods))
                .collect();
            let _ = writeln!(
                out,
                "  {}",
                paint(
                    YELLOW,
                    &format!(
                        "not modelled: {} node(s) aws-node does not network, their pods get no verdicts: {}",
                        c.nodes_not_modelled.len(),
                        list(&named, 6)
                    )
                )
            );
            let mut reasons: Vec<&str> = c
                .nodes_not_modelled
                .iter()
                .map(|n| n.why.as_str())
                .collect();
            reasons.dedup();
            for why in reasons {
                let _ = writeln!(out, "    {}", paint(DIM, why));
            }
        }
        let v = c.verdicts;
        let _ = writeln!(
            out,
            "  per-ENI verdicts: {} reachable, {} unreachable, {} unknown\n",
            paint(GREEN, &v.reachable.to_string()),
            paint(
                if v.unreachable > 0 { RED } else { GREEN },
                &v.unreachable.to_string()
            ),
            paint(
                if v.unknown > 0 { YELLOW } else { GREEN },
                &v.unknown.to_string()
            ),
        );
        let findings: Vec<&Finding> = report
            .findings
            .iter()
            .filter(|f| f.cluster == c.name && f.region == c.region)
            .collect();
        let unanalysed = report
            .not_analysed
            .iter()
            .find(|n| n.cluster.as_deref() == Some(c.name.as_str()) && n.region == c.region);
        if let Some(n) = unanalysed {
            let _ = writeln!(
                out,
                "  {}\n",
                paint(
                    RED,
                    &format!("Not analysed: {}; no verdicts for this cluster.", n.reason)
                )
            );
        } else if !c.blind_spots.is_empty() {
            let inputs: Vec<&str> = c.blind_spots.iter().map(|b| b.input.as_str()).collect();
            let _ = writeln!(
                out,
                "  {}\n",
                paint(
                    YELLOW,
                    &format!(
                        "UNKNOWN: {} not read, so no finding here is a clean bill ({} finding(s) from what could be read); see INCOMPLETE above.",
                        inputs.join(", "),
                        findings.len()
                    )
                )
            );
        } else if findings.is_empty() {
            let text = if c.nodes_not_modelled.is_empty() {
                "No findings: every pod address reaches every private destination both ways."
                    .to_owned()
            } else {
                format!(
                    "No findings: every pod address podreach models reaches every private destination both ways (the pods of the {} node(s) above are not modelled).",
                    c.nodes_not_modelled.len()
                )
            };
            let _ = writeln!(out, "  {}\n", paint(GREEN, &text));
        }
        for f in findings {
            finding(&mut out, f);
            out.push('\n');
        }
        if let Some(audit) = paths {
            sink.write_all(out.as_bytes())?;
            out.clear();
            let mut header = false;
            let mut failed = Ok(());
            audit.for_each_path_of(&c.name, c.region.as_deref(), |p| {
                if failed.is_err() {
                    return;
                }
                let line = if header {
                    path_row(&p)
                } else {
                    header = true;
                    format!("{}\n{}", path_header(), path_row(&p))
                };
                failed = writeln!(sink, "{line}");
            });
            failed?;
            if header {
                out.push('\n');
            }
        }
        let _ = writeln!(out, "  {}", paint(DIM, "Assumptions:"));
        for a in &c.assumptions {
            let _ = writeln!(out, "  {}", paint(DIM, &format!("- {a}")));
        }
        out.push('\n');
    }
    if let Some(entries) = &report.lifecycle {
        let _ = writeln!(out, "{}", paint(BOLD, "Since the last audit (--state):"));
        if entries.is_empty() {
            let _ = writeln!(out, "- nothing new, nothing resolved");
        }
        for e in entries {
            let colour = match e.lifecycle {
                "NEW" | "CHANGED" => RED,
                "RESOLVED" => GREEN,
                _ => BOLD,
            };
            let why = if e.why.is_empty() {
                String::new()
            } else {
                format!(" ({})", e.why.join("; "))
            };
            let _ = writeln!(
                out,
                "- {} {} {}: {}{why}",
                paint(colour, &format!("{:<10}", e.lifecycle)),
                e.finding_id,
                cluster_label(&e.cluster, e.region.as_deref()),
                e.title
            );
        }
        out.push('\n');
    }
    if !report.gaps.is_empty() {
        let _ = writeln!(out, "{}", paint(BOLD, "Not analysed:"));
        for g in &report.gaps {
            let place: Vec<&str> = [
                g.region.as_deref(),
                g.cluster.as_deref(),
                g.file.as_deref(),
                g.object.as_deref(),
            ]
            .into_iter()
            .flatten()
            .collect();
            let _ = writeln!(
                out,
                "- {}{}",
                if place.is_empty() {
                    String::new()
                } else {
                    format!("{}: ", place.join(" / "))
                },
                g.message
            );
        }
        out.push('\n');
    }
    if let Some(stats) = &report.stats {
        let ops: Vec<String> = stats
            .operations
            .iter()
            .map(|(action, op)| {
                let retries = if op.retries > 0 {
                    format!(" ({} retries)", op.retries)
                } else {
                    String::new()
                };
                format!("{action} {}{retries}", op.calls)
            })
            .collect();
        let _ = writeln!(
            out,
            "{}",
            paint(
                DIM,
                &format!(
                    "Collected with {} API calls, {} retries, in {:.1} s: {}",
                    stats.calls,
                    stats.retries,
                    stats.wall_time_ms as f64 / 1000.0,
                    ops.join(", ")
                )
            )
        );
    }
    let counts: Vec<String> = Severity::ALL
        .iter()
        .rev()
        .map(|s| {
            (
                s,
                report.findings.iter().filter(|f| f.severity == *s).count(),
            )
        })
        .filter(|(_, n)| *n > 0)
        .map(|(s, n)| format!("{n} {s}"))
        .collect();
    let _ = writeln!(
        out,
        "{}",
        paint(
            BOLD,
            &format!(
                "Summary: {} finding(s){}{}",
                report.findings.len(),
                if counts.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", counts.join(", "))
                },
                if report.not_analysed.is_empty() {
                    String::new()
                } else {
                    format!("; {} not analysed", report.not_analysed.len())
                }
            )
        )
    );
    sink.write_all(out.as_bytes())
}

/// The JSON report; with `paths`, the per-ENI rows are streamed as its `paths` member.
/// The findings as OCSF 1.6 Detection Findings (`podreach_core::ocsf`), stamped with now.
pub fn ocsf(sink: &mut dyn io::Write, report: &podreach_core::report::Report) -> io::Result<()> {
    let time_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let findings = podreach_core::ocsf::detection_findings(
        report,
        podreach_core::ocsf::Context {
            time_ms,
            // A snapshot does not name its account; the findings say their Region.
            account: None,
            product_version: env!("CARGO_PKG_VERSION"),
        },
    );
    writeln!(sink, "{}", serde_json::to_string_pretty(&findings)?)
}

pub fn json(sink: &mut dyn io::Write, audit: &Audit<'_>, paths: bool) -> io::Result<()> {
    let head = serde_json::to_string_pretty(&audit.report)?;
    if !paths {
        return writeln!(sink, "{head}");
    }
    // The head is an object ending in `\n}`: reopen it and append `paths` row by row.
    let body = head.strip_suffix('}').unwrap_or(&head).trim_end();
    write!(sink, "{body},\n  \"paths\": [")?;
    let mut first = true;
    let mut failed = Ok(());
    audit.for_each_path(|p| {
        if failed.is_err() {
            return;
        }
        failed = serde_json::to_string_pretty(&p)
            .map_err(io::Error::from)
            .and_then(|text| {
                let separator = if first { "" } else { "," };
                first = false;
                write!(sink, "{separator}\n    {}", text.replace('\n', "\n    "))
            });
    });
    failed?;
    writeln!(sink, "\n  ]\n}}")
}

fn hop(out: &mut String, h: &Hop, index: usize) {
    let mark = match h.outcome {
        HopOutcome::Pass => paint(GREEN, "ok  "),
        HopOutcome::Drop => paint(RED, "DROP"),
        HopOutcome::Unknown => paint(YELLOW, "??  "),
    };
    let _ = writeln!(out, "  {:>2}. {mark} {:<5} {}", index + 1, h.at, h.detail);
}

/// The hop-by-hop trace of `podreach explain`.
pub fn explanation(e: &Explanation) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}",
        paint(
            BOLD,
            &format!(
                "{} → {} in cluster {}",
                e.pod_ip,
                e.to,
                cluster_label(&e.cluster, e.region.as_deref())
            )
        )
    );
    for note in &e.notes {
        let _ = writeln!(out, "{note}");
    }
    for p in &e.paths {
        let _ = writeln!(
            out,
            "\n{} {}: {}{}",
            paint(BOLD, p.direction.as_str()),
            paint(
                DIM,
                &format!(
                    "(ENI {} {}, host table {})",
                    p.eni_id, p.eni_role, p.host_table
                )
            ),
            verdict_text(p.verdict),
            p.cause.map(|c| format!(" ({c})")).unwrap_or_default()
        );
        for (i, h) in p.hops.iter().enumerate() {
            hop(&mut out, h, i);
        }
        let _ = writeln!(
            out,
            "  source the peer sees: {}; leaves by {}{}",
            if p.source_ip_at_peer == "pod-ip" {
                e.pod_ip.to_string()
            } else {
                p.source_ip_at_peer.clone()
            },
            p.egress_eni,
            p.tcp_ports
                .as_deref()
                .map_or_else(String::new, |ports| format!(
                    "; TCP ports through every filter: {ports}"
                ))
        );
    }
    if let Some(p) = e.paths.first() {
        let _ = writeln!(out, "\n{}", paint(DIM, "Assumptions:"));
        for a in &p.assumptions {
            let _ = writeln!(out, "{}", paint(DIM, &format!("- {a}")));
        }
    }
    out
}
