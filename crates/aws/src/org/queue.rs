//! The audit queue's sending side: a run's messages to the FIFO queue, ten per
//! `SendMessageBatch` (SQS's limit), each with its group and deduplication id from the core
//! ([`podreach_core::org::queue`]). An entry SQS refuses is sent once more on its own batch; what
//! is still refused comes back with AWS's text, so the run says which targets were never queued.

use podreach_core::org::Queued;

use crate::error::{ApiFailure, FailureKind};

/// What `SendMessageBatch` is in IAM.
const SEND: &str = "sqs:SendMessage";

/// Sends `queued` to `queue_url`; the failures, one per target not queued.
pub async fn send(
    client: &aws_sdk_sqs::Client,
    queue_url: &str,
    queued: &[Queued],
) -> Vec<(Queued, ApiFailure)> {
    let mut failed = Vec::new();
    for chunk in queued.chunks(10) {
        let mut refused = send_batch(client, queue_url, chunk).await;
        if !refused.is_empty() {
            let again: Vec<Queued> = refused.iter().map(|(q, _)| q.clone()).collect();
            refused = send_batch(client, queue_url, &again).await;
        }
        failed.extend(refused);
    }
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
