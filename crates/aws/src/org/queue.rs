//! The audit queue's sending side: a run's messages to the FIFO queue, ten per
//! `SendMessageBatch` (SQS's limit), a few batches at once, each message with its group and
//! deduplication id from the core
//! ([`podreach_core::org::queue`]). An entry SQS refuses is sent once more on its own batch; what
//! is still refused comes back with AWS's text, so the run says which targets were never queued.

use podreach_core::org::Queued;

use crate::error::{ApiFailure, FailureKind};

/// What `SendMessageBatch` is in IAM.
const SEND: &str = "sqs:SendMessage";

/// Batches in flight at once: SQS takes far more, and a plan of 4,000 targets is then a few
/// seconds, not 400 round trips one after the other.
const IN_FLIGHT: usize = 8;

/// Sends `queued` to `queue_url`; the failures, one per target not queued.
pub async fn send(
    client: &aws_sdk_sqs::Client,
    queue_url: &str,
    queued: &[Queued],
) -> Vec<(Queued, ApiFailure)> {
    let chunks: Vec<Vec<Queued>> = queued.chunks(10).map(<[Queued]>::to_vec).collect();
    // A batch whose task panicked (a bug) would come back with no failures: its targets then
    // never report, and the next run's plan names them in the overdue digest.
    let results = crate::bounded::in_flight(chunks, IN_FLIGHT, |chunk| {
        let (client, queue_url) = (client.clone(), queue_url.to_owned());
        async move {
            let mut refused = send_batch(&client, &queue_url, &chunk).await;
            if !refused.is_empty() {
                let again: Vec<Queued> = refused.iter().map(|(q, _)| q.clone()).collect();
                refused = send_batch(&client, &queue_url, &again).await;
            }
            refused
        }
    })
    .await;
    let mut failed: Vec<(Queued, ApiFailure)> = results.into_iter().flatten().collect();
    failed.sort_by(|a, b| a.0.deduplication.cmp(&b.0.deduplication));
    failed
}

async fn send_batch(
    client: &aws_sdk_sqs::Client,
    queue_url: &str,
    chunk: &[Queued],
) -> Vec<(Queued, ApiFailure)> {
    let entries: Vec<_> = chunk
        .iter()
        .enumerate()
        .map(|(index, q)| {
            aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                .id(index.to_string())
                .message_body(serde_json::to_string(&q.message).unwrap_or_default())
                .message_group_id(&q.group)
                .message_deduplication_id(&q.deduplication)
                .build()
                .expect("an id and a body")
        })
        .collect();
    match client
        .send_message_batch()
        .queue_url(queue_url)
        .set_entries(Some(entries))
        .send()
        .await
    {
        Ok(answer) => answer
            .failed()
            .iter()
            .filter_map(|f| {
                let index: usize = f.id().parse().ok()?;
                Some((
                    chunk.get(index)?.clone(),
                    ApiFailure {
                        action: SEND,
                        kind: FailureKind::Service,
                        code: Some(f.code().to_owned()),
                        message: f.message().unwrap_or_default().to_owned(),
                    },
                ))
            })
            .collect(),
        Err(error) => {
            let failure = ApiFailure::from_sdk(SEND, error);
            chunk.iter().map(|q| (q.clone(), failure.clone())).collect()
        }
    }
}
