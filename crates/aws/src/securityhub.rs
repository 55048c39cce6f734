//! Findings imported into Security Hub: `BatchImportFindings`, at most 100 findings a call, of
//! the ASFF documents `podreach_core::asff` makes. Security Hub answers per finding (a call can
//! succeed with some findings refused), so every refusal comes back with its id, code and
//! message; a call that fails altogether is an [`ApiFailure`], and the findings of the calls
//! after it are still sent.

use podreach_core::asff::{self, AsffFinding};

use aws_sdk_securityhub::types as sh;

use crate::error::ApiFailure;

/// What Security Hub did with a run's findings.
#[derive(Debug, Clone, Default)]
pub struct Imported {
    /// Findings Security Hub accepted.
    pub accepted: usize,
    /// Findings it refused: id, error code, message.
    pub refused: Vec<(String, String, String)>,
    /// Calls that failed altogether (their findings are not in Security Hub).
    pub failures: Vec<ApiFailure>,
}

/// Security Hub of one account (the account's own, or a member's through its role), in whichever
/// Region the findings are about: each Region has its own hub.
#[derive(Debug, Clone)]
pub struct SecurityHub {
    config: aws_config::SdkConfig,
}

impl SecurityHub {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        SecurityHub {
            config: config.clone(),
        }
    }

    /// Imports `findings` into the hub of `region`, [`asff::BATCH_LIMIT`] a call, in order.
    pub async fn import(&self, region: &str, findings: Vec<AsffFinding>) -> Imported {
        let client = aws_sdk_securityhub::Client::from_conf(
            aws_sdk_securityhub::config::Builder::from(&self.config)
                .region(aws_config::Region::new(region.to_owned()))
                .build(),
        );
        let mut out = Imported::default();
        for batch in asff::batches(findings) {
            let mut request = client.batch_import_findings();
            for finding in &batch {
                request = request.findings(sdk_finding(finding));
            }
            match request.send().await {
                Ok(answer) => {
                    let refused: Vec<(String, String, String)> = answer
                        .failed_findings()
                        .iter()
                        .map(|f| {
                            (
                                f.id().unwrap_or_default().to_owned(),
                                f.error_code().unwrap_or_default().to_owned(),
                                f.error_message().unwrap_or_default().to_owned(),
                            )
                        })
                        .collect();
                    out.accepted += batch.len().saturating_sub(refused.len());
                    out.refused.extend(refused);
                }
                Err(error) => out.failures.push(ApiFailure::from_sdk(
                    "securityhub:BatchImportFindings",
                    error,
                )),
            }
        }
        out
    }
}

/// The SDK's form of one ASFF finding, field for field.
fn sdk_finding(f: &AsffFinding) -> sh::AwsSecurityFinding {
    let mut builder = sh::AwsSecurityFinding::builder()
        .schema_version(f.schema_version)
        .id(&f.id)
        .product_arn(&f.product_arn)
        .generator_id(&f.generator_id)
        .aws_account_id(&f.aws_account_id)
        .created_at(&f.created_at)
        .updated_at(&f.updated_at)
        .first_observed_at(&f.first_observed_at)
        .last_observed_at(&f.last_observed_at)
        .severity(
            sh::Severity::builder()
                .label(sh::SeverityLabel::from(f.severity.label))
                .original(f.severity.original)
                .build(),
        )
        .title(&f.title)
        .description(&f.description)
        .compliance(
            sh::Compliance::builder()
                .status(sh::ComplianceStatus::from(f.compliance.status))
                .build(),
        )
        .record_state(sh::RecordState::from(f.record_state))
        .product_name(f.product_name)
        .company_name(f.company_name)
        .region(&f.region);
    for t in &f.types {
        builder = builder.types(*t);
    }
    for r in &f.resources {
        builder = builder.resources(
            sh::Resource::builder()
                .r#type(r.kind)
                .id(&r.id)
                .partition(sh::Partition::from(r.partition.as_str()))
                .region(&r.region)
                .build(),
        );
    }
    if let Some(remediation) = &f.remediation {
        builder = builder.remediation(
            sh::Remediation::builder()
                .recommendation(
                    sh::Recommendation::builder()
                        .text(&remediation.recommendation.text)
                        .build(),
                )
                .build(),
        );
    }
    for (key, value) in &f.product_fields {
        builder = builder.product_fields(key, value);
    }
    builder.build()
}
