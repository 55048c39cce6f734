//! `podreach org audit --security-hub`: each audited target's findings imported into Security
//! Hub of its account and Region, through the member role's session in that account (the member
//! role may `securityhub:BatchImportFindings` into its own account's default product only). The
//! documents are the core's (`podreach_core::asff::documents`): with `--state`, the target's
//! records after this run decide (open FAILED, recent resolutions PASSED, ARCHIVED with the
//! cluster gone); without, each finding of the report, FAILED.

use std::collections::BTreeMap;

use podreach_aws::securityhub::{Imported, SecurityHub};
use serde_json::json;

use super::outcome::{Audited, Outcome};
use crate::lifecycle::Pending;
use podreach_core::org::Target;

/// Imports every audited target's findings; each target's answer by its key.
pub(super) async fn import(
    results: &[(Target, Outcome)],
    pending: Option<&Pending>,
    now: i64,
) -> BTreeMap<String, Imported> {
    let mut out = BTreeMap::new();
    for (target, outcome) in results {
        let Outcome::Audited(audited) = outcome else {
            continue;
        };
        let Audited {
            report, session, ..
        } = audited.as_ref();
        let key = target.key();
        let context = podreach_core::asff::Context {
            account: &target.account,
            region: &target.region,
            partition: podreach_aws::partition_of(&target.region),
            now,
        };
        let records = pending.map(|p| p.records(&key));
        let is_gone = |cluster: &str| audited.listing.gone(cluster);
        let documents = podreach_core::asff::documents(report, records, &is_gone, context);
        let imported = SecurityHub::new(&session.config)
            .import(&target.region, documents)
            .await;
        out.insert(key, imported);
    }
    out
}

/// One line for the text report.
pub(super) fn summary(imported: &Imported) -> String {
    let mut line = format!("Security Hub: {} finding(s) imported", imported.accepted);
    for (id, code, message) in &imported.refused {
        line.push_str(&format!("; refused {id}: {code}: {message}"));
    }
    for failure in &imported.failures {
        line.push_str(&format!("; NOT IMPORTED: {failure}"));
    }
    line
}

pub(super) fn as_json(imported: &Imported) -> serde_json::Value {
    json!({
        "accepted": imported.accepted,
        "refused": imported.refused.iter().map(|(id, code, message)| json!({"id": id, "code": code, "message": message})).collect::<Vec<_>>(),
        "failed_calls": imported.failures.iter().map(ToString::to_string).collect::<Vec<_>>(),
    })
}
