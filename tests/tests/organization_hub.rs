//! The hub's organization run with the real bootstraps on moto: `scheduled-audit` in
//! organization mode plans the run and queues one message per account × Region on a FIFO queue
//! of the hub account; a pool of `audit-worker` processes takes them as Lambda's SQS poller
//! would (one message per invocation, deleted when the invocation succeeds), each auditing its
//! target through the member role in the target's account (moto maps assumed-role credentials to
//! the role's account).
//!
//! moto assumes any role and enforces no IAM, so the workers talk to moto through
//! `podreach_tests::aws_proxy`, which gives three accounts of fifty their fault (the role
//! refused, EC2 refused, EC2 throttled past every retry) with AWS's own error documents and
//! measures each account's requests. What is shown: every other account audited, each of the
//! three announced once per Region as `ACCOUNT_UNREACHABLE` with its reason and remedy and
//! RESOLVED on the next run once fixed, one organization digest per run, and never two audits
//! of one account at once (`ACCOUNT_CONCURRENCY=1`), measured at the endpoint (Regions of an
//! account with requests in flight) and at the queue (received, not yet deleted).

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use podreach_tests::aws_proxy::{AwsProxy, Fault};
use podreach_tests::lambda::{self, Notification};
use podreach_tests::moto::{Account, Moto};
use podreach_tests::runtime::{
    Function, INVOCATION_TIMEOUT, RuntimeApi, function_arn, response_of,
};

const ROLE: &str = "podreach-member";
const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];

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
fn settings(hub: &HubAccount, accounts: &[&str], endpoint: &str) -> Vec<(&'static str, String)> {
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
        ("AWS_ENDPOINT_URL", endpoint.to_owned()),
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
    // One ReceiveMessage at a time: SQS hands out a FIFO group's messages one at a time however
    // many pollers ask at once, but moto's server can race two concurrent receives into the same
    // group (seen here: two targets of one account in flight). Serialising the receives keeps the
    // emulated poller to what SQS guarantees; the audits themselves still run side by side.
    let receiving = Arc::new(tokio::sync::Mutex::new(()));
    let mut pool = tokio::task::JoinSet::new();
    for _ in 0..workers {
        let mut api = RuntimeApi::start(function_arn(&hub.account, "audit-worker")).await;
        let mut function = spawn("audit-worker", &api, hub, settings);
        let (sqs, url, polled) = (hub.sqs.clone(), hub.queue_url.clone(), polled.clone());
        let receiving = receiving.clone();
        pool.spawn(async move {
            let mut idle = 0;
            while idle < 3 {
                let turn = receiving.lock().await;
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
                drop(turn);
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
async fn fifty_accounts_in_two_regions_each_audited_but_the_three_it_cannot_announced_once_then_resolved()
 {
    let started = std::time::Instant::now();
    let hub = hub_account().await;
    let moto = Moto::shared();
    // Two accounts with clusters (the demo), 48 without.
    let mut members: Vec<Account> = Vec::new();
    for _ in 0..2 {
        members.push(lambda::fresh_account_with_demo_and_vpc_ids().await.0);
    }
    for _ in 0..48 {
        members.push(moto.account().await);
    }
    let with_clusters: BTreeSet<String> = members[..2].iter().map(|a| a.id.clone()).collect();
    let moto_addr: SocketAddr = moto
        .endpoint()
        .trim_start_matches("http://")
        .parse()
        .expect("moto's address");
    let proxy = AwsProxy::start(moto_addr).await;
    // One account without the role, one whose role cannot read EC2, one throttled past every
    // retry (the last with clusters).
    let (no_role, no_ec2, throttled) = (&members[10].id, &members[20].id, &members[1].id);
    proxy.set_fault(no_role, Some(Fault::RefuseRole));
    proxy.set_fault(no_ec2, Some(Fault::DenyEc2));
    proxy.set_fault(throttled, Some(Fault::ThrottleEc2));
    let accounts: Vec<&str> = members.iter().map(|a| a.id.as_str()).collect();
    let mut settings = settings(&hub, &accounts, &proxy.url);
    // Each account's findings into its own Security Hub, through its member role.
    settings.push(("SECURITY_HUB", "true".to_owned()));

    // 1. The plan: 50 accounts × 2 Regions, a hundred messages.
    let planned = plan(&hub, &settings).await;
    assert_eq!(planned["action"], "planned", "{planned:#}");
    assert_eq!(planned["targets"], 100);
    assert_eq!(planned["queued"], 100);

    // 2. Four workers drain the queue. At the endpoint, no account ever had requests of two
    // Regions in flight at once: one audit at a time per account (ACCOUNT_CONCURRENCY=1).
    let polled = poll(&hub, &settings, 4).await;
    assert_eq!(polled.answers.len(), 100, "every target handled once");
    let most = proxy.most_regions_in_flight();
    assert!(
        most.values().all(|n| *n == 1),
        "per-account audits in flight: {most:?}"
    );
    assert_eq!(
        most.len(),
        49,
        "every account but the one refused was read: {most:?}"
    );
    assert!(
        polled.most_in_flight.values().all(|n| *n == 1),
        "{polled:?}"
    );

    // 3. The three announced once per Region, each with its reason; every other account
    // audited (the demo accounts' findings under their own account); one digest.
    let received = lambda::drain(&hub.subscribers.sqs, &hub.subscribers.all, 1).await;
    let mut announced: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
    for n in of_kind(&received, "account-unreachable") {
        let body = n.body();
        assert_eq!(n.attribute("lifecycle"), "NEW");
        assert!(
            body["remedy"].as_str().is_some_and(|r| !r.is_empty()),
            "{body:#}"
        );
        announced
            .entry(n.attribute("account").to_owned())
            .or_default()
            .insert((
                n.attribute("region").to_owned(),
                body["reason"].as_str().unwrap_or_default().to_owned(),
            ));
    }
    let both = |reason: &str| -> BTreeSet<(String, String)> {
        REGIONS
            .iter()
            .map(|r| ((*r).to_owned(), reason.to_owned()))
            .collect()
    };
    assert_eq!(
        announced,
        BTreeMap::from([
            (no_role.clone(), both("role-not-assumable")),
            (no_ec2.clone(), both("action-denied")),
            (throttled.clone(), both("throttled")),
        ])
    );
    assert_eq!(
        of_kind(&received, "account-unreachable").len(),
        6,
        "each once"
    );
    let findings: BTreeSet<&str> = received
        .iter()
        .filter(|n| {
            n.attributes.get("lifecycle").map(String::as_str) == Some("NEW")
                && n.attribute("kind") != "account-unreachable"
        })
        .map(|n| n.attribute("account"))
        .collect();
    assert_eq!(
        findings,
        with_clusters
            .iter()
            .filter(|a| *a != throttled)
            .map(String::as_str)
            .collect(),
        "findings from the demo account that could be read, under its own account"
    );
    let digests = of_kind(&received, "organization-digest");
    assert_eq!(digests.len(), 1, "one digest for the organization");
    let digest = digests[0].body();
    assert_eq!(digest["planned"], 100, "{digest:#}");
    assert_eq!(digest["audited"], 94);
    let headline = digest["headline"].as_str().unwrap_or_default();
    assert!(
        headline.starts_with("94 of 100 accounts × Regions audited; 6 not:"),
        "{headline}"
    );

    // The readable demo account's findings are in its own Security Hub (its account, its
    // product), the hub's holds none.
    let member_hub = aws_sdk_securityhub::Client::new(&members[0].config);
    let imported = member_hub.get_findings().send().await.expect("GetFindings");
    let imported = imported.findings();
    assert!(!imported.is_empty(), "the member's findings imported");
    for f in imported {
        assert_eq!(f.aws_account_id(), Some(members[0].id.as_str()));
        assert_eq!(
            f.product_arn(),
            Some(
                format!(
                    "arn:aws:securityhub:us-east-1:{0}:product/{0}/default",
                    members[0].id
                )
                .as_str()
            )
        );
        assert!(
            f.id()
                .is_some_and(|id| id.starts_with("podreach/us-east-1/"))
        );
        assert_eq!(
            f.compliance().and_then(|c| c.status()).map(|s| s.as_str()),
            Some("FAILED")
        );
    }
    let own = aws_sdk_securityhub::Client::new(&hub.account.config)
        .get_findings()
        .send()
        .await
        .expect("GetFindings");
    assert!(
        own.findings().is_empty(),
        "nothing in the hub's own Security Hub"
    );

    // 4. The three fixed: the next run audits all and resolves the six, once each.
    for account in [no_role, no_ec2, throttled] {
        proxy.set_fault(account, None);
    }
    tokio::time::sleep(Duration::from_millis(1100)).await; // a new run id (Unix seconds)
    let planned = plan(&hub, &settings).await;
    assert_eq!(planned["queued"], 100, "{planned:#}");
    poll(&hub, &settings, 4).await;
    let received = lambda::drain(&hub.subscribers.sqs, &hub.subscribers.all, 1).await;
    let resolved: BTreeSet<(String, String, String)> = of_kind(&received, "account-unreachable")
        .iter()
        .map(|n| {
            (
                n.attribute("account").to_owned(),
                n.attribute("region").to_owned(),
                n.attribute("lifecycle").to_owned(),
            )
        })
        .collect();
    assert_eq!(resolved.len(), 6, "{resolved:?}");
    assert!(
        resolved.iter().all(|(_, _, l)| l == "RESOLVED"),
        "{resolved:?}"
    );
    assert_eq!(
        of_kind(&received, "account-unreachable").len(),
        6,
        "each once"
    );
    let digest = of_kind(&received, "organization-digest")[0].body();
    assert_eq!(digest["audited"], 100, "{digest:#}");
    assert_eq!(digest["complete"], true);
    eprintln!(
        "organization run: 50 accounts × 2 Regions, 3 blind then resolved, {} requests at the endpoint; test {:.1} s",
        proxy.requests().values().sum::<usize>(),
        started.elapsed().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_hubs_on_change_audits_a_members_forwarded_event_in_that_account_through_its_role() {
    let hub = hub_account().await;
    let (member, seeded) = lambda::fresh_account_with_demo_and_vpc_ids().await;
    let refusing = Moto::shared().account().await;
    let moto_addr: SocketAddr = Moto::shared()
        .endpoint()
        .trim_start_matches("http://")
        .parse()
        .expect("moto's address");
    let proxy = AwsProxy::start(moto_addr).await;
    proxy.set_fault(&refusing.id, Some(Fault::RefuseRole));
    let settings = settings(&hub, &[member.id.as_str()], &proxy.url);
    // As the member stack forwards them: the member's add-on update, and one of an account
    // whose role is refused, in one batch of the debounce queue.
    let forwarded = lambda::sample_event("eks-update-addon.json", &seeded, &member);
    let mut refused = forwarded.clone();
    refused["account"] = json!(refusing.id);
    let (batch, ids) = lambda::sqs_batch(
        &hub.account,
        "podreach-change-events",
        &[forwarded.to_string(), refused.to_string()],
    )
    .await;
    let mut api = RuntimeApi::start(function_arn(&hub.account, "on-change")).await;
    let mut function = spawn("on-change", &api, &hub, &settings);
    let id = api.invoke(serde_json::to_vec(&batch).expect("JSON"));
    let report = api.next_report(&mut function, INVOCATION_TIMEOUT).await;
    let answer = response_of(report, &id, &function);
    assert_eq!(answer["batchItemFailures"], json!([]), "{answer:#}");
    let received = lambda::drain(&hub.subscribers.sqs, &hub.subscribers.all, 1).await;
    assert!(!received.is_empty());
    assert!(
        received.iter().all(|n| n.attribute("account") == member.id),
        "the member's findings, under its account"
    );
    // Read in the member's account, through its role: the endpoint saw its requests.
    let requests = proxy.requests();
    assert!(
        requests.get(&member.id).is_some_and(|n| *n > 3),
        "{requests:?}"
    );
    let notes: Vec<&Value> = answer["members"]
        .as_array()
        .map(|m| m.iter().map(|m| &m["note"]).collect())
        .unwrap_or_default();
    assert!(
        notes.iter().any(|n| n
            .as_str()
            .is_some_and(|n| n.starts_with("set aside (role-not-assumable)"))),
        "the refused member's event set aside: {answer:#}"
    );
    assert_eq!(ids.len(), 2, "both records were handled, neither failed");
}
