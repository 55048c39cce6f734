//! Where the functions' suppressions come from: one SSM parameter (`SUPPRESSIONS_PARAMETER`),
//! read once per invocation so an edit applies to the next audit without a deployment.
//!
//! The document is `podreach_core::suppressions`'s. A document that cannot be read or used
//! (malformed, a bad entry, the parameter missing, the call denied) suppresses **nothing** and
//! says so loudly: an error in the log, the invocation's outcome, and the digest. A typo must
//! never silence a finding; the cost is that suppressed findings are announced again until the
//! document is fixed.

use podreach_core::suppressions::{self, Suppression};

use crate::error::ApiFailure;

/// Where the suppressions are.
#[derive(Debug, Clone, Default)]
pub enum SuppressionSource {
    /// None configured.
    #[default]
    None,
    /// A document given directly (tests, and the CLI's `--suppressions` file).
    Fixed(Vec<Suppression>),
    /// An SSM parameter, by name.
    Ssm {
        client: aws_sdk_ssm::Client,
        name: String,
    },
}

/// The suppressions in force, and why there are none when the document could not be used.
#[derive(Debug, Clone, Default)]
pub struct Suppressions {
    pub rules: Vec<Suppression>,
    /// Set when the document was refused: nothing is suppressed.
    pub problem: Option<String>,
}

impl SuppressionSource {
    /// An SSM parameter source.
    pub fn ssm(config: &aws_config::SdkConfig, name: &str) -> Self {
        SuppressionSource::Ssm {
            client: aws_sdk_ssm::Client::new(config),
            name: name.to_owned(),
        }
    }

    /// Reads the document now.
    pub async fn load(&self) -> Suppressions {
        match self {
            SuppressionSource::None => Suppressions::default(),
            SuppressionSource::Fixed(rules) => Suppressions {
                rules: rules.clone(),
                problem: None,
            },
            SuppressionSource::Ssm { client, name } => {
                let text = client
                    .get_parameter()
                    .name(name)
                    .send()
                    .await
                    .map_err(|e| {
                        ApiFailure::from_sdk(crate::iam::SUPPRESSIONS_ACTION, e).to_string()
                    })
                    .and_then(|answer| {
                        answer
                            .parameter
                            .and_then(|p| p.value)
                            .ok_or_else(|| "the parameter has no value".to_owned())
                    });
                let rules =
                    text.and_then(|text| suppressions::parse(&text).map_err(|e| e.to_string()));
                match rules {
                    Ok(rules) => Suppressions {
                        rules,
                        problem: None,
                    },
                    Err(message) => {
                        let problem = format!(
                            "suppressions parameter {name}: {message}; nothing is suppressed until it is fixed"
                        );
                        tracing::error!(%problem, "suppressions refused");
                        Suppressions {
                            rules: Vec::new(),
                            problem: Some(problem),
                        }
                    }
                }
            }
        }
    }
}
