//! `audit-worker`: one target (account × Region) of an organization run per message of the audit
//! queue, audited through the member role; the last target's worker sends the organization's
//! digest.
//!
//! Thin by design, like the other two functions: configuration and clients are built once per
//! process (`podreach_aws::function::Runtime`), and a worker that lacks its member role or state
//! table fails its start, naming the variable. Each SQS event goes to `Runtime::audit_worker`,
//! whose answer is Lambda's partial batch response (a failed target goes back to the queue).

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use podreach_aws::function::Runtime;
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let runtime = &Runtime::from_env().await?;
    runtime.check_worker()?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        runtime
            .audit_worker(
                &event.payload,
                Some(event.context.deadline),
                &event.context.invoked_function_arn,
            )
            .await
            .map_err(|e| Diagnostic {
                error_type: e.error_type().to_owned(),
                error_message: e.to_string(),
            })
    }))
    .await
}
