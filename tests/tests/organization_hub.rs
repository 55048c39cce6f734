//! The hub's organization run with the real bootstraps on moto: `scheduled-audit` in
//! organization mode plans the run and queues one message per account × Region on a FIFO queue
//! of the hub account; a pool of `audit-worker` processes takes them as Lambda's SQS poller
//! would (one message per invocation, deleted when the invocation succeeds), each auditing its
//! target through the member role in the target's account (moto maps assumed-role credentials to
//! the role's account).
//!
//! moto assumes any role, so the member account without the role is made by the one component
//! written here: an STS proxy in front of moto that answers `AssumeRole` of that account's role
//! with STS's own `AccessDenied` document and forwards every other request to moto. What is
//! shown: every other account audited, the refused one announced once as `ACCOUNT_UNREACHABLE`
//! with its remedy and RESOLVED on the next run once it is fixed, one organization digest per
//! run, last, and never more than `ACCOUNT_CONCURRENCY` targets of one account in flight (the
//! FIFO queue's group locking, measured here as the poller sees it: received, not yet deleted).

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use podreach_tests::lambda::{self, Notification};
use podreach_tests::moto::{self, Account, Moto};
use podreach_tests::runtime::{
    Function, INVOCATION_TIMEOUT, RuntimeApi, function_arn, read_request, response_of,
};

const ROLE: &str = "podreach-member";
const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];

/// An STS endpoint in front of moto that refuses `AssumeRole` into the accounts of `refused`.
struct StsProxy {
    url: String,
    refused: Arc<Mutex<BTreeSet<String>>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for StsProxy {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl StsProxy {
    async fn start(moto: SocketAddr) -> StsProxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the STS proxy");
        let url = format!("http://{}", listener.local_addr().expect("its address"));
        let refused = Arc::new(Mutex::new(BTreeSet::new()));
        let shared = refused.clone();
        let server = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let refused = shared.clone();
                tokio::spawn(async move {
                    let (read, mut write) = stream.into_split();
                    let mut reader = BufReader::new(read);
                    let Ok(Some(request)) = read_request(&mut reader).await else {
                        return;
                    };
                    let body = String::from_utf8_lossy(&request.body).into_owned();
                    let denied = refused
                        .lock()
                        .expect("not poisoned")
                        .iter()
                        .find(|account| {
                            body.contains("Action=AssumeRole")
                                && body.contains(&format!("arn%3Aaws%3Aiam%3A%3A{account}%3Arole"))
                        })
                        .cloned();
                    let (status, answer) = match denied {
                        Some(account) => (
                            403,
                            format!(
                                "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: arn:aws:sts::999999999999:assumed-role/podreach-audit-worker/worker is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::{account}:role/{ROLE}</Message></Error><RequestId>4a1f6c7e-0000-4000-8000-000000000001</RequestId></ErrorResponse>"
                            ),
                        ),
                        None => {
                            let headers: Vec<(String, String)> = request
                                .headers
                                .iter()
                                .filter(|(n, _)| {
                                    !["host", "content-length", "connection"]
                                        .contains(&n.to_ascii_lowercase().as_str())
                                })
                                .cloned()
                                .collect();
                            let (method, path) = (request.method.clone(), request.path.clone());
                            tokio::task::spawn_blocking(move || {
                                let headers: Vec<(&str, &str)> = headers
                                    .iter()
                                    .map(|(n, v)| (n.as_str(), v.as_str()))
                                    .collect();
                                moto::request(moto, &method, &path, &headers, &body)
                                    .unwrap_or((502, String::new()))
                            })
                            .await
                            .unwrap_or((502, String::new()))
                        }
                    };
                    let head = format!(
                        "HTTP/1.1 {status} X\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        answer.len()
                    );
                    let _ = write.write_all(head.as_bytes()).await;
                    let _ = write.write_all(answer.as_bytes()).await;
                    let _ = write.shutdown().await;
                });
            }
        });
        StsProxy {
            url,
            refused,
            server,
        }
    }
}

/// The hub account: its topic and subscriber queues, its state table, its FIFO audit queue.
struct HubAccount {
    account: Account,
    subscribers: lambda::Subscribers,
    queue_url: String,
    sqs: aws_sdk_sqs::Client,
}

async fn hub_account() -> HubAccount {
    let account = Moto::shared().account().await;
    let subscribers = lambda::subscribers(&account).await;
    let dynamo = aws_sdk_dynamodb::Client::new(&account.config);
    podreach_tests::lifecycle::create_table_as_the_template_does(&dynamo, "podreach-state").await;
    let sqs = aws_sdk_sqs::Client::new(&account.config);
    let queue_url = sqs
        .create_queue()
        .queue_name("podreach-audit.fifo")
        .attributes(aws_sdk_sqs::types::QueueAttributeName::FifoQueue, "true")
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout,
            "600",
        )
        .send()
        .await
        .expect("CreateQueue (FIFO) on moto")
        .queue_url()
        .expect("a queue URL")
        .to_owned();
    HubAccount {
        account,
        subscribers,
        queue_url,
        sqs,
    }
}

/// The settings both functions share, and the scheduled audit's own.
fn settings(hub: &HubAccount, accounts: &[&str], sts: &str) -> Vec<(&'static str, String)> {
    vec![
        ("TOPIC_ARN", hub.subscribers.topic_arn.clone()),
        ("STATE_TABLE", "podreach-state".to_owned()),
        ("MIN_SEVERITY", "LOW".to_owned()),
        ("MESSAGE_FORMAT", "json".to_owned()),
        ("MEMBER_ROLE_NAME", ROLE.to_owned()),
        ("REGIONS", REGIONS.join(",")),
        ("ORGANIZATION", "true".to_owned()),
        ("AUDIT_QUEUE_URL", hub.queue_url.clone()),
        ("ACCOUNTS", accounts.join(",")),
        ("ACCOUNT_CONCURRENCY", "1".to_owned()),
        ("AWS_ENDPOINT_URL_STS", sts.to_owned()),
    ]
}

fn spawn(
    name: &str,
    api: &RuntimeApi,
    hub: &HubAccount,
    settings: &[(&'static str, String)],
) -> Function {
    let pairs: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Function::spawn(name, api, &hub.account, &pairs)
}

/// The scheduled audit's run: planned and queued.
async fn plan(hub: &HubAccount, settings: &[(&'static str, String)]) -> Value {
    let mut api = RuntimeApi::start(function_arn(&hub.account, "scheduled-audit")).await;
    let mut function = spawn("scheduled-audit", &api, hub, settings);
    let event = json!({
        "version": "0", "id": "5d1c7e2a-0000-4000-8000-00000000000a",
        "detail-type": "Scheduled Event", "source": "aws.events",
        "account": hub.account.id, "time": "2026-12-07T12:00:00Z", "region": "us-east-1",
        "resources": [], "detail": {},
    });
    let id = api.invoke(serde_json::to_vec(&event).expect("JSON"));
    let report = api.next_report(&mut function, INVOCATION_TIMEOUT).await;
    response_of(report, &id, &function)
}

/// What the poller saw: each message's account, and the most targets of one account in flight.
#[derive(Debug, Default)]
struct Polled {
    answers: Vec<Value>,
    in_flight: BTreeMap<String, usize>,
    most_in_flight: BTreeMap<String, usize>,
}

/// Lambda's SQS poller for the audit queue, with `workers` audit-worker processes: each takes
/// one message at a time (BatchSize 1), invokes its worker, and deletes the message when the
/// worker reports no failure; until the queue is empty.
async fn poll(hub: &HubAccount, settings: &[(&'static str, String)], workers: usize) -> Polled {
    let polled = Arc::new(Mutex::new(Polled::default()));
    let mut pool = tokio::task::JoinSet::new();
    for _ in 0..workers {
        let mut api = RuntimeApi::start(function_arn(&hub.account, "audit-worker")).await;
        let mut function = spawn("audit-worker", &api, hub, settings);
        let (sqs, url, polled) = (hub.sqs.clone(), hub.queue_url.clone(), polled.clone());
        pool.spawn(async move {
            let mut idle = 0;
            while idle < 3 {
                let received = sqs
                    .receive_message()
                    .queue_url(&url)
                    .max_number_of_messages(1)
                    .message_system_attribute_names(
                        aws_sdk_sqs::types::MessageSystemAttributeName::All,
                    )
                    .send()
                    .await
                    .expect("ReceiveMessage");
                let Some(message) = received.messages().first().cloned() else {
                    idle += 1;
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    continue;
                };
                idle = 0;
                let body: Value =
                    serde_json::from_str(message.body().unwrap_or_default()).expect("a JSON body");
                let account = body["account"].as_str().expect("an account").to_owned();
                {
                    let mut p = polled.lock().expect("not poisoned");
                    let now = {
                        let n = p.in_flight.entry(account.clone()).or_default();
                        *n += 1;
                        *n
                    };
                    let most = p.most_in_flight.entry(account.clone()).or_default();
                    *most = (*most).max(now);
                }
                let attributes: BTreeMap<String, String> = message
                    .attributes()
                    .map(|a| {
                        a.iter()
                            .map(|(k, v)| (k.as_str().to_owned(), v.clone()))
                            .collect()
                    })
                    .unwrap_or_default();
                let event = json!({"Records": [{
                    "messageId": message.message_id(),
                    "receiptHandle": message.receipt_handle(),
                    "body": message.body(),
                    "attributes": attributes,
                    "messageAttributes": {},
                    "md5OfBody": message.md5_of_body(),
                    "eventSource": "aws:sqs",
                    "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:podreach-audit.fifo",
                    "awsRegion": "us-east-1",
                }]});
                let id = api.invoke(serde_json::to_vec(&event).expect("JSON"));
                let report = api.next_report(&mut function, INVOCATION_TIMEOUT).await;
                let answer = response_of(report, &id, &function);
                let failed = answer["batchItemFailures"]
                    .as_array()
                    .is_some_and(|f| !f.is_empty());
                if !failed {
                    sqs.delete_message()
                        .queue_url(&url)
                        .receipt_handle(message.receipt_handle().unwrap_or_default())
                        .send()
                        .await
                        .expect("DeleteMessage");
                }
                let mut p = polled.lock().expect("not poisoned");
                *p.in_flight.entry(account).or_default() -= 1;
                assert!(!failed, "a target failed: {answer:#}");
                p.answers.push(answer);
            }
            drop(function);
        });
    }
    while let Some(joined) = pool.join_next().await {
        if let Err(error) = joined {
            std::panic::resume_unwind(error.into_panic());
        }
    }
    Arc::try_unwrap(polled)
        .expect("the pool ended")
        .into_inner()
        .expect("not poisoned")
}

fn of_kind<'a>(received: &'a [Notification], kind: &str) -> Vec<&'a Notification> {
    received
        .iter()
        .filter(|n| n.attribute("kind") == kind)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_hub_audits_every_account_through_its_role_and_announces_the_one_it_cannot_once() {
    let started = std::time::Instant::now();
    let hub = hub_account().await;
    let (with_demo, _seeded) = lambda::fresh_account_with_demo_and_vpc_ids().await;
    let empty = Moto::shared().account().await;
    let refusing = Moto::shared().account().await;
    let moto_addr: SocketAddr = Moto::shared()
        .endpoint()
        .trim_start_matches("http://")
        .parse()
        .expect("moto's address");
    let sts = StsProxy::start(moto_addr).await;
    sts.refused
        .lock()
        .expect("not poisoned")
        .insert(refusing.id.clone());
    let accounts = [
        with_demo.id.as_str(),
        empty.id.as_str(),
        refusing.id.as_str(),
    ];
    let settings = settings(&hub, &accounts, &sts.url);

    // 1. The plan: 3 accounts × 2 Regions, six messages, one group per account.
    let planned = plan(&hub, &settings).await;
    assert_eq!(planned["action"], "planned", "{planned:#}");
    assert_eq!(planned["targets"], 6);
    assert_eq!(planned["queued"], 6);

    // 2. Three workers drain the queue; no account ever has two targets in flight.
    let polled = poll(&hub, &settings, 3).await;
    assert_eq!(polled.answers.len(), 6, "every target audited once");
    for account in accounts {
        assert_eq!(
            polled.most_in_flight.get(account),
            Some(&1),
            "{account}: {polled:?}"
        );
    }

    // 3. What the topic received: the refused account's two targets announced with the remedy,
    // the demo account's findings under its own account, one organization digest, last.
    let received = lambda::drain(&hub.subscribers.sqs, &hub.subscribers.all, 1).await;
    let unreachable = of_kind(&received, "account-unreachable");
    let announced: BTreeSet<(String, String)> = unreachable
        .iter()
        .map(|n| {
            (
                n.attribute("account").to_owned(),
                n.attribute("lifecycle").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        announced,
        BTreeSet::from([(refusing.id.clone(), "NEW".to_owned())])
    );
    assert_eq!(unreachable.len(), 2, "one per Region");
    let first = unreachable[0].body();
    assert_eq!(first["reason"], "role-not-assumable", "{first:#}");
    assert!(
        first["remedy"]
            .as_str()
            .unwrap_or_default()
            .contains("infra/member.yaml")
    );
    assert!(
        first["error"]
            .as_str()
            .unwrap_or_default()
            .contains("not authorized to perform: sts:AssumeRole"),
        "AWS's own words: {first:#}"
    );
    let findings: Vec<&Notification> = received
        .iter()
        .filter(|n| {
            n.attributes.get("lifecycle").map(String::as_str) == Some("NEW")
                && n.attribute("kind") != "account-unreachable"
        })
        .collect();
    assert!(!findings.is_empty(), "the demo account's findings");
    assert!(
        findings
            .iter()
            .all(|n| n.attribute("account") == with_demo.id)
    );
    assert!(
        of_kind(&received, "digest").is_empty(),
        "no per-target digest"
    );
    let digests = of_kind(&received, "organization-digest");
    assert_eq!(digests.len(), 1, "one digest for the organization");
    let digest = digests[0].body();
    assert_eq!(digest["planned"], 6, "{digest:#}");
    assert_eq!(digest["audited"], 4);
    assert_eq!(digest["complete"], false);
    let headline = digest["headline"].as_str().unwrap_or_default();
    assert!(
        headline.starts_with("4 of 6 accounts × Regions audited; 2 not:"),
        "{headline}"
    );
    assert!(headline.contains(&format!("{}/us-east-1 (role-not-assumable)", refusing.id)));

    // 4. The role is created: the next run audits all six and resolves both blind spots.
    sts.refused.lock().expect("not poisoned").clear();
    tokio::time::sleep(Duration::from_millis(1100)).await; // a new run id (Unix seconds)
    let planned = plan(&hub, &settings).await;
    assert_eq!(planned["queued"], 6, "{planned:#}");
    poll(&hub, &settings, 2).await;
    let received = lambda::drain(&hub.subscribers.sqs, &hub.subscribers.all, 1).await;
    let resolved: Vec<(String, String)> = of_kind(&received, "account-unreachable")
        .iter()
        .map(|n| {
            (
                n.attribute("account").to_owned(),
                n.attribute("lifecycle").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        resolved,
        vec![(refusing.id.clone(), "RESOLVED".to_owned()); 2]
    );
    let digest = of_kind(&received, "organization-digest")[0].body();
    assert_eq!(digest["audited"], 6, "{digest:#}");
    assert_eq!(digest["complete"], true);
    eprintln!(
        "organization run: 3 accounts × 2 Regions twice, refused then resolved; test {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
