//! `on-change`: re-audits the scope an EventBridge event touches and publishes what changed.
//!
//! Thin by design: logging, configuration and clients are set up once per process
//! (`podreach_aws::function::Runtime`), then each invocation (a batch from the debounce queue,
//! or one event) goes to `Runtime::on_change`. A failure is reported to Lambda with a typed
//! `errorType` (`podreach.MalformedEvent`, `podreach.PublishFailed`, …) so the DLQ says why.

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use podreach_aws::function::Runtime;
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let runtime = &Runtime::from_env().await?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        runtime
            .on_change(
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
