//! `podreach org plan`: what an organization run would audit, before anything is deployed or
//! audited: every account × Region target, and every account left out with why. It is the plan
//! the organization audit makes (`podreach_core::org::plan`), so a platform team can check its
//! exclusions against its real organization first.

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use podreach_core::org::{Plan, Skip};

use super::{Names, PlanFormat, SelectArgs};

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    select: SelectArgs,
    /// Output format: text or json.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    format: PlanFormat,
}

pub(super) fn run(args: &PlanArgs) -> Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let (plan, names) = runtime.block_on(args.select.plan())?;
    let listed = args.select.listed();
    let text = match args.format {
        PlanFormat::Json => json(&plan, &names, listed)?,
        PlanFormat::Text => text(&plan, &names, listed, args.select.regions.len()),
    };
    crate::print(&text)?;
    Ok(ExitCode::SUCCESS)
}

fn json(plan: &Plan, names: &Names, listed: bool) -> Result<String> {
    let targets: Vec<serde_json::Value> = plan
        .targets
        .iter()
        .map(|t| {
            serde_json::json!({
                "account": t.account,
                "name": names.get(&t.account),
                "region": t.region,
            })
        })
        .collect();
    let skipped: Vec<serde_json::Value> = plan
        .skipped
        .iter()
        .map(|s| {
            let mut value = serde_json::to_value(s).unwrap_or_default();
            value["name"] = serde_json::json!(names.get(&s.account));
            value
        })
        .collect();
    let mut out = serde_json::to_string_pretty(&serde_json::json!({
        "targets": targets,
        "skipped": skipped,
        "assumptions": super::assumption(listed).into_iter().collect::<Vec<_>>(),
    }))
    .context("writing the plan as JSON")?;
    out.push('\n');
    Ok(out)
}

fn text(plan: &Plan, names: &Names, listed: bool, regions: usize) -> String {
    let label = |id: &str| match names.get(id) {
        Some(name) => format!("{id} ({name})"),
        None => id.to_owned(),
    };
    let accounts = plan.targets.len() / regions.max(1);
    let mut out = format!(
        "Organization run: {} targets ({accounts} accounts × {regions} Regions)\n",
        plan.targets.len()
    );
    for chunk in plan.targets.chunks(regions.max(1)) {
        let regions: Vec<&str> = chunk.iter().map(|t| t.region.as_str()).collect();
        out.push_str(&format!(
            "  {}  {}\n",
            label(&chunk[0].account),
            regions.join(", ")
        ));
    }
    if !plan.skipped.is_empty() {
        out.push_str(&format!("Left out: {} accounts\n", plan.skipped.len()));
        for s in &plan.skipped {
            let why = match &s.skip {
                Skip::NotActive { state } => format!("not ACTIVE in Organizations ({state})"),
                Skip::ExcludedAccount => "excluded (--exclude-account)".to_owned(),
                Skip::ExcludedOu { ou } => format!("excluded: under {ou} (--exclude-ou)"),
            };
            out.push_str(&format!("  {}  {why}\n", label(&s.account)));
        }
    }
    if let Some(a) = super::assumption(listed) {
        out.push_str(&format!("Assumption: {a}\n"));
    }
    out
}
