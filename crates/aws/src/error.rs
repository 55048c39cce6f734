//! Why an AWS call failed, in terms an operator can act on.
//!
//! The SDK's errors are precise but generic. podreach needs three things from each: which IAM
//! action failed (so AccessDenied names the permission to add), whether the failure is final for
//! that piece of input (it then becomes a gap of the cluster, never a crash of the whole audit),
//! and the service's own code and message. [`ApiFailure`] carries exactly that; [`CollectError`]
//! is the rare case where no report at all can be produced.

use std::fmt;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use thiserror::Error;

/// How an API call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The principal lacks the IAM action.
    AccessDenied,
    /// Still throttled after the SDK's retries with backoff.
    Throttled,
    /// No answer in time (after retries).
    Timeout,
    /// The endpoint could not be reached at all.
    Unreachable,
    /// No credentials could be loaded (no profile, no environment keys, no instance role).
    NoCredentials,
    /// The object does not exist (an EKS add-on that is not installed).
    NotFound,
    /// The service answered with another error.
    Service,
}

/// A failed call: the IAM action, what kind of failure, and the service's code and message.
#[derive(Debug, Clone, Error)]
pub struct ApiFailure {
    pub action: &'static str,
    pub kind: FailureKind,
    pub code: Option<String>,
    pub message: String,
}

impl fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let code = self.code.as_deref().unwrap_or("error");
        match self.kind {
            FailureKind::AccessDenied => write!(
                f,
                "{action} was denied ({code}): grant the IAM action `{action}` \
                 (infra/iam/podreach-read-only.json lists every action podreach needs)",
                action = self.action
            ),
            FailureKind::Throttled => write!(
                f,
                "{} was still throttled after the SDK's retries with backoff ({code}): {}",
                self.action, self.message
            ),
            FailureKind::Timeout => write!(f, "{} timed out: {}", self.action, self.message),
            FailureKind::NoCredentials => write!(
                f,
                "{} was not sent: no AWS credentials could be loaded (set AWS_PROFILE, or \
                 AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run where a role is attached): {}",
                self.action, self.message
            ),
            FailureKind::Unreachable => write!(
                f,
                "{} could not reach the endpoint: {}",
                self.action, self.message
            ),
            FailureKind::NotFound | FailureKind::Service => {
                write!(f, "{} failed ({code}): {}", self.action, self.message)
            }
        }
    }
}

const DENIED_CODES: &[&str] = &[
    "UnauthorizedOperation",
    "AccessDenied",
    "AccessDeniedException",
    "Client.UnauthorizedOperation",
    "AuthFailure",
];

/// Throttling codes of EC2 (RequestLimitExceeded) and the JSON services.
const THROTTLING_CODES: &[&str] = &[
    "RequestLimitExceeded",
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestThrottled",
    "RequestThrottledException",
    "SlowDown",
];

impl ApiFailure {
    /// Classifies an SDK error of the call made for `action`.
    pub fn from_sdk<E, R>(action: &'static str, error: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: fmt::Debug + 'static,
    {
        let code = error.code().map(str::to_owned);
        let service_message = error.message().map(str::to_owned);
        let (kind, message) = match &error {
            SdkError::TimeoutError(_) => (FailureKind::Timeout, chain(&error)),
            SdkError::DispatchFailure(failure) if failure.is_timeout() => {
                (FailureKind::Timeout, chain(&error))
            }
            SdkError::DispatchFailure(_) if from_credentials(&error) => {
                (FailureKind::NoCredentials, chain(&error))
            }
            SdkError::DispatchFailure(_) => (FailureKind::Unreachable, chain(&error)),
            _ => {
                let kind = match code.as_deref() {
                    Some(c) if DENIED_CODES.contains(&c) => FailureKind::AccessDenied,
                    Some(c) if THROTTLING_CODES.contains(&c) => FailureKind::Throttled,
                    Some("ResourceNotFoundException") => FailureKind::NotFound,
                    _ => FailureKind::Service,
                };
                (kind, service_message.unwrap_or_else(|| chain(&error)))
            }
        };
        ApiFailure {
            action,
            kind,
            code,
            message,
        }
    }
}

/// Whether the SDK gave up before sending because the credential chain failed: the SDK reports it
/// as a dispatch failure, which would otherwise read "could not reach the endpoint".
fn from_credentials(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(error);
    while let Some(inner) = source {
        if inner
            .downcast_ref::<aws_credential_types::provider::error::CredentialsError>()
            .is_some()
        {
            return true;
        }
        source = inner.source();
    }
    false
}

/// The error and its sources on one line: SDK errors put the useful part in the source.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

/// No report can be produced at all.
#[derive(Debug, Error)]
pub enum CollectError {
    /// The cluster list itself could not be read and no cluster was named.
    // The failure is part of the message and deliberately not a `#[source]`: `{:#}` would print
    // it twice.
    #[error("cannot list the EKS clusters: {0}")]
    ListClusters(ApiFailure),
    /// The objects an event names could not be looked up to find their clusters.
    #[error("cannot find the clusters the event concerns: {0}")]
    Resolve(ApiFailure),
}
