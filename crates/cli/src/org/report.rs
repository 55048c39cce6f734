//! `podreach org audit`'s output: the coverage headline first, the `ACCOUNT_UNREACHABLE`
//! announcements (with `--state`), then each target, as text for people or as
//! `podreach/org-report/v1` JSON for tools. Rendering only: the run is `super::audit`'s.

use std::collections::BTreeMap;
use std::io::Write as _;

use anyhow::{Context, Result};
use podreach_aws::securityhub::Imported;
use podreach_core::org::{ACCOUNT_UNREACHABLE, Coverage, Plan, Target, TargetChange};
use serde_json::json;

use super::Names;
use super::outcome::Outcome;

fn label(names: &Names, target: &Target) -> String {
    match names.get(&target.account) {
        Some(name) => format!("{} ({name}) {}", target.account, target.region),
        None => format!("{} {}", target.account, target.region),
    }
}

fn change_json(change: &TargetChange) -> serde_json::Value {
    json!({
        "finding_id": change.finding_id(),
        "lifecycle": change.marker.as_str(),
        "account": change.target.account,
        "region": change.target.region,
        "title": change.title(),
        "blocker": change.blocker,
        "error": change.error,
        "remedy": change.remedy,
        "since": change.since,
        "why": change.why,
    })
}

pub(super) fn text(
    results: &[(Target, Outcome)],
    names: &Names,
    coverage: &Coverage,
    changes: &[TargetChange],
    imported: &BTreeMap<String, Imported>,
) -> Result<String> {
    let mut out = format!("{}\n", coverage.headline());
    for change in changes {
        out.push_str(&format!(
            "{ACCOUNT_UNREACHABLE} {}: {}\n",
            change.marker.as_str(),
            change.title()
        ));
    }
    for (target, outcome) in results {
        match outcome {
            Outcome::Blind { blocker, error } => out.push_str(&format!(
                "\n== {}: NOT AUDITED ({})\n{error}\nRemedy: {}\n",
                label(names, target),
                blocker.kind(),
                blocker.remedy(target)
            )),
            Outcome::Audited(audited) => {
                let report = &audited.report;
                out.push_str(&format!(
                    "\n== {}: {} cluster(s), {} finding(s)\n",
                    label(names, target),
                    report.clusters.len(),
                    report.findings.len()
                ));
                if let Some(i) = imported.get(&target.key()) {
                    out.push_str(&format!("{}\n", super::security_hub::summary(i)));
                }
                let mut body = Vec::new();
                crate::render::report(&mut body, report, None)
                    .context("writing a target's report")?;
                out.push_str(&String::from_utf8_lossy(&body));
            }
        }
    }
    Ok(out)
}

pub(super) fn json(
    results: &[(Target, Outcome)],
    names: &Names,
    coverage: &Coverage,
    plan: &Plan,
    changes: &[TargetChange],
    imported: &BTreeMap<String, Imported>,
) -> Result<String> {
    let targets: Vec<serde_json::Value> = results
        .iter()
        .map(|(target, outcome)| {
            let mut value = json!({
                "account": target.account,
                "name": names.get(&target.account),
                "region": target.region,
            });
            match outcome {
                Outcome::Audited(audited) => {
                    let report = &audited.report;
                    value["status"] = json!("audited");
                    value["report"] = serde_json::to_value(report).unwrap_or_default();
                    if let Some(i) = imported.get(&target.key()) {
                        value["security_hub"] = super::security_hub::as_json(i);
                    }
                }
                Outcome::Blind { blocker, error } => {
                    value["status"] = json!("not-audited");
                    value["blocker"] = serde_json::to_value(blocker).unwrap_or_default();
                    value["error"] = json!(error);
                    value["remedy"] = json!(blocker.remedy(target));
                }
            }
            value
        })
        .collect();
    let mut out = Vec::new();
    serde_json::to_writer_pretty(
        &mut out,
        &json!({
            "schema": "podreach/org-report/v1",
            "coverage": {
                "planned": coverage.planned,
                "audited": coverage.audited,
                "complete": coverage.complete(),
                "headline": coverage.headline(),
            },
            "targets": targets,
            "skipped": plan.skipped,
            "account_lifecycle": changes.iter().map(change_json).collect::<Vec<_>>(),
        }),
    )
    .context("writing the organization report as JSON")?;
    writeln!(out)?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}
