//! `on-change`: re-audits the scope an EventBridge event touches and publishes its findings.
//!
//! Thin by design: logging, configuration and clients are set up once per process, then each
//! invocation (a batch from the debounce queue, or one event) goes to
//! `podreach_aws::function::on_change_invocation`. A failure is reported to Lambda with a
//! typed `errorType` (`podreach.MalformedEvent`, `podreach.PublishFailed`, …) so the DLQ says why.

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use podreach_aws::function::{FunctionConfig, on_change_invocation};
use podreach_aws::publish::{DryRun, SnsPublisher};
use podreach_aws::{Collector, CollectorSettings};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = FunctionConfig::from_env()?;
    let sdk = podreach_aws::load_function_config(config.trust_anchors).await?;
    let region = sdk.region().map(ToString::to_string).unwrap_or_default();
    let settings = CollectorSettings {
        max_concurrency: config.max_concurrency,
        ..CollectorSettings::default()
    };
    let collector = Collector::new(&sdk, &settings);
    let sns = SnsPublisher::new(
        aws_sdk_sns::Client::new(&sdk),
        config.topic_arn.clone().unwrap_or_default(),
    );
    let (config, region, collector, sns) = (&config, region.as_str(), &collector, &sns);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let outcome = if config.dry_run {
            on_change_invocation(&event.payload, config, region, collector, &DryRun).await
        } else {
            on_change_invocation(&event.payload, config, region, collector, sns).await
        };
        outcome.map_err(|e| Diagnostic {
            error_type: e.error_type().to_owned(),
            error_message: e.to_string(),
        })
    }))
    .await
}
