//! Suppressions: findings a team has decided to live with, each with a reason and, optionally,
//! an expiry.
//!
//! One document (an SSM parameter for the functions, a file for the CLI) lists them:
//!
//! ```json
//! { "suppressions": [
//!     { "cluster": "shop", "cause": "PEER_NO_ROUTE", "destination": "10.1.0.0/16",
//!       "reason": "the peer is decommissioned in January", "expires": "2027-01-31" } ] }
//! ```
//!
//! An entry matches a finding when every field it gives matches: `cluster`, `finding_id`,
//! `cause` (a reason code), `kind` (`unreachable`, `latent-risk`, `unverified`), `destination` (a
//! CIDR holding every destination of the finding) and `namespace` (every affected pod is in it).
//! `reason` is required, and at least one field to match by: an entry that would match
//! everything is refused. `expires` is a date (`2027-01-31`: through that day, UTC) or an RFC 3339
//! time. A document that cannot be read fails as a whole, naming the entry and the field, and
//! suppresses nothing: a typo must never silence a finding.

use ipnet::Ipv4Net;
use serde::Deserialize;
use thiserror::Error;

use crate::report::Finding;

/// One suppression, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppression {
    pub cluster: Option<String>,
    pub finding_id: Option<String>,
    pub cause: Option<String>,
    pub kind: Option<String>,
    pub destination: Option<Ipv4Net>,
    pub namespace: Option<String>,
    pub reason: String,
    /// Unix seconds from which the suppression no longer applies.
    pub expires: Option<i64>,
}

/// Why a suppression document was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum SuppressionError {
    #[error("the suppression document is not valid: {0}")]
    Document(String),
    #[error("suppressions[{index}]: {message}")]
    Entry { index: usize, message: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    suppressions: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    cluster: Option<String>,
    finding_id: Option<String>,
    cause: Option<String>,
    kind: Option<String>,
    destination: Option<String>,
    namespace: Option<String>,
    reason: Option<String>,
    expires: Option<String>,
}

const KINDS: &[&str] = &["unreachable", "latent-risk", "unverified"];

/// Parses and validates a suppression document; any bad entry refuses the whole document.
pub fn parse(text: &str) -> Result<Vec<Suppression>, SuppressionError> {
    let document: Document =
        serde_json::from_str(text).map_err(|e| SuppressionError::Document(e.to_string()))?;
    document
        .suppressions
        .into_iter()
        .enumerate()
        .map(|(index, value)| {
            let fail = |message: String| SuppressionError::Entry { index, message };
            let entry: Entry = serde_json::from_value(value).map_err(|e| fail(e.to_string()))?;
            let reason = entry
                .reason
                .filter(|r| !r.trim().is_empty())
                .ok_or_else(|| fail("`reason` is required".to_owned()))?;
            if let Some(kind) = &entry.kind
                && !KINDS.contains(&kind.as_str())
            {
                return Err(fail(format!(
                    "`kind` `{kind}` is not one of {}",
                    KINDS.join(", ")
                )));
            }
            if let Some(cause) = &entry.cause
                && (cause.is_empty()
                    || !cause.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
            {
                return Err(fail(format!(
                    "`cause` `{cause}` is not a reason code such as PEER_NO_ROUTE"
                )));
            }
            let destination = entry
                .destination
                .map(|d| {
                    d.parse::<Ipv4Net>()
                        .map(|n| n.trunc())
                        .map_err(|_| fail(format!("`destination` `{d}` is not an IPv4 CIDR")))
                })
                .transpose()?;
            let expires = entry
                .expires
                .map(|e| expiry(&e).ok_or_else(|| fail(format!("`expires` `{e}` is not a date (2027-01-31) or an RFC 3339 time"))))
                .transpose()?;
            let suppression = Suppression {
                cluster: entry.cluster,
                finding_id: entry.finding_id,
                cause: entry.cause,
                kind: entry.kind,
                destination,
                namespace: entry.namespace,
                reason,
                expires,
            };
            if suppression.cluster.is_none()
                && suppression.finding_id.is_none()
                && suppression.cause.is_none()
                && suppression.kind.is_none()
                && suppression.destination.is_none()
                && suppression.namespace.is_none()
            {
                return Err(fail(
                    "it names nothing to match (cluster, finding_id, cause, kind, destination or namespace), so it would suppress every finding".to_owned(),
                ));
            }
            Ok(suppression)
        })
        .collect()
}

/// The first second at which a suppression with this `expires` no longer applies.
fn expiry(text: &str) -> Option<i64> {
    if let Ok(time) = text.parse::<jiff::Timestamp>() {
        return Some(time.as_second());
    }
    let date: jiff::civil::Date = text.parse().ok()?;
    // Through that day: it expires when the next one starts (UTC).
    let next = date.tomorrow().ok()?;
    next.to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp().as_second())
}

impl Suppression {
    /// Whether every field this entry gives matches `finding`.
    pub fn matches(&self, finding: &Finding) -> bool {
        let is = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
        is(&self.cluster, &finding.cluster)
            && is(&self.finding_id, &finding.id)
            && is(&self.cause, finding.cause.code())
            && is(&self.kind, finding.kind.as_str())
            && self.destination.is_none_or(|net| {
                !finding.destinations.is_empty()
                    && finding.destinations.iter().all(|d| {
                        d.parse::<Ipv4Net>()
                            .is_ok_and(|d| crate::cidr::contains(&net, &d))
                    })
            })
            && self.namespace.as_deref().is_none_or(|ns| {
                // Every affected pod must be in it, and all of them must be named.
                let pods = &finding.affected.pods;
                !pods.is_empty()
                    && finding.affected.pods_omitted == 0
                    && pods
                        .iter()
                        .all(|p| p.split_once('/').is_some_and(|(n, _)| n == ns))
            })
    }

    /// Whether the suppression no longer applies at `now` (unix seconds).
    pub fn expired(&self, now: i64) -> bool {
        self.expires.is_some_and(|at| now >= at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_date_suppresses_through_that_day_and_a_time_until_that_second() {
        let parsed = parse(
            r#"{"suppressions": [
                {"cluster": "shop", "reason": "migration", "expires": "2027-01-31"},
                {"cause": "PEER_NO_ROUTE", "reason": "known", "expires": "2027-01-31T12:00:00Z"}
            ]}"#,
        )
        .expect("valid");
        // 2027-02-01T00:00:00Z and 2027-01-31T12:00:00Z.
        assert_eq!(parsed[0].expires, Some(1_801_440_000));
        assert_eq!(parsed[1].expires, Some(1_801_396_800));
        assert!(!parsed[0].expired(1_801_439_999));
        assert!(parsed[0].expired(1_801_440_000));
    }

    #[test]
    fn a_malformed_document_names_the_entry_and_suppresses_nothing() {
        let cases = [
            (
                r#"{"suppressions": [{"cluster": "shop"}]}"#,
                "suppressions[0]: `reason` is required",
            ),
            (
                r#"{"suppressions": [{"cluster": "a", "reason": "r"}, {"reason": "everything"}]}"#,
                "suppressions[1]: it names nothing to match",
            ),
            (
                r#"{"suppressions": [{"clustr": "shop", "reason": "typo"}]}"#,
                "suppressions[0]: unknown field `clustr`",
            ),
            (
                r#"{"suppressions": [{"destination": "10.1.0.0/33", "reason": "r"}]}"#,
                "suppressions[0]: `destination` `10.1.0.0/33` is not an IPv4 CIDR",
            ),
            (
                r#"{"suppressions": [{"cluster": "a", "reason": "r", "expires": "next week"}]}"#,
                "suppressions[0]: `expires` `next week` is not a date",
            ),
            (
                r#"{"suppressions": [{"kind": "broken", "reason": "r"}]}"#,
                "suppressions[0]: `kind` `broken` is not one of",
            ),
        ];
        for (text, expected) in cases {
            let error = parse(text).expect_err(text).to_string();
            assert!(error.starts_with(expected), "{error}");
        }
    }
}
