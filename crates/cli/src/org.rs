//! `podreach org plan`: what an organization run would audit, from Organizations (or a list of
//! accounts), before anything is deployed: every account × Region target, and every account
//! left out with why. It is the plan the hub's scheduled audit makes (`podreach_core::org::plan`),
//! so a platform team can check its exclusions against its real organization first.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use podreach_core::org::{Account, AccountState, Plan, Selection, Skip};

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Print the targets (account × Region) an organization run audits, and the accounts it
    /// leaves out, with why.
    Plan(PlanArgs),
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// A Region to audit in every account (repeatable).
    #[arg(long = "region", value_name = "REGION", required = true)]
    regions: Vec<String>,
    /// Audit these accounts instead of asking Organizations for the list (repeatable); their
    /// states are then not known, and are taken as ACTIVE (said in the output).
    #[arg(long = "account", value_name = "ID")]
    accounts: Vec<String>,
    /// Leave this account out (repeatable).
    #[arg(long = "exclude-account", value_name = "ID")]
    exclude_accounts: Vec<String>,
    /// Leave out every account under this organizational unit, at any depth (repeatable).
    #[arg(long = "exclude-ou", value_name = "OU_ID", conflicts_with = "accounts")]
    exclude_ous: Vec<String>,
    /// Output format: text or json.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    format: PlanFormat,
}

#[derive(Debug, Clone, Copy, Default, clap::ValueEnum)]
pub enum PlanFormat {
    #[default]
    Text,
    Json,
}

pub fn run(command: &OrgCommand) -> Result<ExitCode> {
    match command {
        OrgCommand::Plan(args) => plan(args),
    }
}

fn plan(args: &PlanArgs) -> Result<ExitCode> {
    let listed = !args.accounts.is_empty();
    let accounts: Vec<Account> = if listed {
        args.accounts
            .iter()
            .map(|id| Account {
                id: id.clone(),
                name: None,
                state: AccountState::Active,
                ous: Vec::new(),
            })
            .collect()
    } else {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the async runtime")?;
        runtime.block_on(async {
            let config = podreach_aws::load_config(None).await;
            podreach_aws::org::list_accounts(&config, !args.exclude_ous.is_empty()).await
        })?
    };
    let selection = Selection {
        exclude_accounts: args.exclude_accounts.iter().cloned().collect(),
        exclude_ous: args.exclude_ous.iter().cloned().collect(),
        regions: args.regions.clone(),
    };
    let plan = podreach_core::org::plan(&accounts, &selection)?;
    let names: BTreeMap<&str, &str> = accounts
        .iter()
        .filter_map(|a| a.name.as_deref().map(|n| (a.id.as_str(), n)))
        .collect();
    let text = match args.format {
        PlanFormat::Json => json(&plan, &names, listed)?,
        PlanFormat::Text => text(&plan, &names, listed, args.regions.len()),
    };
    crate::print(&text)?;
    Ok(ExitCode::SUCCESS)
}

fn assumption(listed: bool) -> Option<&'static str> {
    listed.then_some(
        "accounts listed by --account: their states are not read from Organizations and are taken as ACTIVE",
    )
}

fn json(plan: &Plan, names: &BTreeMap<&str, &str>, listed: bool) -> Result<String> {
    let targets: Vec<serde_json::Value> = plan
        .targets
        .iter()
        .map(|t| {
            serde_json::json!({
                "account": t.account,
                "name": names.get(t.account.as_str()),
                "region": t.region,
            })
        })
        .collect();
    let skipped: Vec<serde_json::Value> = plan
        .skipped
        .iter()
        .map(|s| {
            let mut value = serde_json::to_value(s).unwrap_or_default();
            value["name"] = serde_json::json!(names.get(s.account.as_str()));
            value
        })
        .collect();
    let mut out = serde_json::to_string_pretty(&serde_json::json!({
        "targets": targets,
        "skipped": skipped,
        "assumptions": assumption(listed).into_iter().collect::<Vec<_>>(),
    }))
    .context("writing the plan as JSON")?;
    out.push('\n');
    Ok(out)
}

fn text(plan: &Plan, names: &BTreeMap<&str, &str>, listed: bool, regions: usize) -> String {
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
    if let Some(a) = assumption(listed) {
        out.push_str(&format!("Assumption: {a}\n"));
    }
    out
}
