//! `--state FILE` and `--suppressions FILE`: the functions' finding lifecycle, on a local file.
//!
//! The state file is a [`MemoryStore`] read from and written to JSON (`podreach/state/v1`), and
//! the findings are tracked by `podreach_aws::lifecycle::track`, the code the functions run on
//! their DynamoDB table: what the CLI marks NEW, CHANGED, ONGOING, RESOLVED or SUPPRESSED is what
//! the functions would publish. A missing file is an empty state, an unreadable one is an error
//! naming it (a lost state would announce every finding as new). The file is replaced only after
//! the report was written, through a temporary file and a rename, so an interrupted run never
//! leaves half a state.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use clap::Args;
use podreach_aws::lifecycle::{Inputs, track};
use podreach_aws::state::{Clusters, MemoryStore, Partition};
use podreach_core::Report;
use podreach_core::lifecycle::{self, Policy, State};
use podreach_core::suppressions;

#[derive(Debug, Args, Default)]
pub struct LifecycleArgs {
    /// Keep the findings' lifecycle in this JSON file (created when missing): the report marks
    /// each finding NEW, CHANGED, ONGOING, RESOLVED or SUPPRESSED, as the functions publish them.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Suppressions (JSON, see README): matching findings are marked SUPPRESSED with the reason.
    #[arg(long, value_name = "FILE")]
    pub suppressions: Option<PathBuf>,
}

/// The state to write once the report is out.
pub struct Pending {
    path: PathBuf,
    state: State,
}

impl LifecycleArgs {
    /// Reconciles `report` with the stored state; records the transitions in the report.
    pub fn apply(&self, report: &mut Report) -> Result<Option<Pending>> {
        let rules = match &self.suppressions {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading --suppressions {}", path.display()))?;
                suppressions::parse(&text).with_context(|| {
                    format!("--suppressions {}: nothing is suppressed", path.display())
                })?
            }
            None => Vec::new(),
        };
        let Some(path) = &self.state else {
            if !rules.is_empty() {
                bail!("--suppressions needs --state: suppressions act on the findings' lifecycle");
            }
            return Ok(None);
        };
        let previous = read_state(path)?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let at = local();
        let store = MemoryStore::with(&at, previous.findings, None);
        let complete = lifecycle::fully_audited(report);
        let inputs = Inputs {
            clusters: Clusters::All,
            complete: &complete,
            existing: None,
            missing: &BTreeSet::new(),
            suppressions: &rules,
            now,
            policy: Policy::default(),
        };
        let entries = tokio::runtime::Builder::new_current_thread()
            .build()
            .context("starting the state's runtime")?
            .block_on(track(&store, &at, report, inputs))
            .with_context(|| format!("--state {}", path.display()))?
            .changes
            .iter()
            .map(|c| c.transition.entry())
            .collect();
        report.lifecycle = Some(entries);
        let (findings, _) = store.snapshot(&at);
        Ok(Some(Pending {
            path: path.clone(),
            state: State {
                findings,
                ..State::default()
            },
        }))
    }
}

/// The one partition of a local state file.
fn local() -> Partition {
    Partition {
        account: "local".to_owned(),
        region: "local".to_owned(),
    }
}

fn read_state(path: &Path) -> Result<State> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let state: State = serde_json::from_str(&text).with_context(|| {
                format!(
                    "--state {}: not a podreach state file (fix or remove it; a lost state announces every finding as new)",
                    path.display()
                )
            })?;
            if state.schema != lifecycle::STATE_SCHEMA {
                bail!(
                    "--state {}: schema `{}`, expected `{}`",
                    path.display(),
                    state.schema,
                    lifecycle::STATE_SCHEMA
                );
            }
            Ok(state)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
        Err(e) => Err(e).with_context(|| format!("reading --state {}", path.display())),
    }
}

impl Pending {
    /// Replaces the state file (temporary file, then rename).
    pub fn write(self) -> Result<()> {
        let text = serde_json::to_string_pretty(&self.state)? + "\n";
        let temporary = self.path.with_extension("tmp");
        std::fs::write(&temporary, text)
            .with_context(|| format!("writing {}", temporary.display()))?;
        std::fs::rename(&temporary, &self.path)
            .with_context(|| format!("replacing {}", self.path.display()))
    }
}
