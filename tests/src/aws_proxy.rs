//! An endpoint in front of moto that knows which account each request is for, so a test can
//! give one account of many a fault moto cannot (moto assumes any role and enforces no IAM) and
//! measure, at the endpoint, what the accounts see.
//!
//! A process pointed at it (`AWS_ENDPOINT_URL`) sends every request here; each is forwarded to
//! moto as it came (method, path, headers, body; `Connection: close`) and moto's answer is passed
//! back byte for byte. The account of a request is read from its signature's access key: the
//! proxy learns each key from the `AssumeRole` answers it forwards (the role's account, in the
//! request's `RoleArn`). Per account, a [`Fault`]: `AssumeRole` of its roles refused with STS's
//! own `AccessDenied` document, or its EC2 requests answered `UnauthorizedOperation` or
//! `RequestLimitExceeded` (EC2's own error documents). What is measured: the requests per
//! account, and the most Regions of one account with requests in flight at once (an audit is
//! one account in one Region, so that is the most audits of that account running at once).

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use crate::runtime::{Request, read_request};

/// What one account's requests meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// `sts:AssumeRole` into the account is refused: its member role is missing.
    RefuseRole,
    /// Every EC2 request is refused: its member role cannot read EC2.
    DenyEc2,
    /// Every EC2 request is throttled: its request budget is spent.
    ThrottleEc2,
}

#[derive(Debug, Default)]
struct State {
    faults: BTreeMap<String, Fault>,
    /// Access key → account, learned from `AssumeRole` answers.
    keys: BTreeMap<String, String>,
    /// Per account, per Region: requests in flight.
    in_flight: BTreeMap<String, BTreeMap<String, usize>>,
    most_regions: BTreeMap<String, usize>,
    requests: BTreeMap<String, usize>,
}

/// The proxy; stops when dropped.
#[derive(Debug)]
pub struct AwsProxy {
    pub url: String,
    state: Arc<Mutex<State>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for AwsProxy {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl AwsProxy {
    /// Starts the proxy in front of moto at `moto`.
    pub async fn start(moto: SocketAddr) -> AwsProxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the AWS proxy to 127.0.0.1:0");
        let url = format!("http://{}", listener.local_addr().expect("its address"));
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let server = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, moto, shared.clone()));
            }
        });
        AwsProxy { url, state, server }
    }

    /// Gives `account` `fault` (`None`: none).
    pub fn set_fault(&self, account: &str, fault: Option<Fault>) {
        let mut state = self.state.lock().expect("not poisoned");
        match fault {
            Some(fault) => state.faults.insert(account.to_owned(), fault),
            None => state.faults.remove(account),
        };
    }

    /// Per account, the most Regions with requests in flight at once.
    pub fn most_regions_in_flight(&self) -> BTreeMap<String, usize> {
        self.state
            .lock()
            .expect("not poisoned")
            .most_regions
            .clone()
    }

    /// Requests per account.
    pub fn requests(&self) -> BTreeMap<String, usize> {
        self.state.lock().expect("not poisoned").requests.clone()
    }
}

/// The access key, Region and service of a SigV4 `Authorization` header.
fn credential(request: &Request) -> Option<(String, String, String)> {
    let header = request.header("authorization")?;
    let scope = header.split("Credential=").nth(1)?.split(',').next()?;
    let mut parts = scope.split('/');
    let key = parts.next()?.to_owned();
    let _date = parts.next()?;
    let region = parts.next()?.to_owned();
    let service = parts.next()?.to_owned();
    Some((key, region, service))
}

/// The account of the role an `AssumeRole` request names.
fn assumed_account(body: &str) -> Option<String> {
    let arn = body.split("RoleArn=").nth(1)?.split('&').next()?;
    let arn = arn.replace("%3A", ":").replace("%2F", "/");
    arn.split(':').nth(4).map(str::to_owned)
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    text.split(open).nth(1)?.split(close).next()
}

fn error_answer(status: &str, content_type: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

async fn serve(stream: TcpStream, moto: SocketAddr, state: Arc<Mutex<State>>) {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let Ok(Some(request)) = read_request(&mut reader).await else {
        return;
    };
    let body = String::from_utf8_lossy(&request.body).into_owned();
    let (key, region, service) = credential(&request).unwrap_or_default();
    let assuming = body.contains("Action=AssumeRole");
    let (account, fault) = {
        let mut s = state.lock().expect("not poisoned");
        let account = if assuming {
            assumed_account(&body)
        } else {
            s.keys.get(&key).cloned()
        };
        let fault = account.as_ref().and_then(|a| s.faults.get(a).copied());
        if let Some(account) = &account {
            *s.requests.entry(account.clone()).or_default() += 1;
            if !assuming {
                let regions = s.in_flight.entry(account.clone()).or_default();
                *regions.entry(region.clone()).or_default() += 1;
                let busy = regions.values().filter(|n| **n > 0).count();
                let most = s.most_regions.entry(account.clone()).or_default();
                *most = (*most).max(busy);
            }
        }
        (account, fault)
    };
    let answer = match (fault, assuming, service.as_str()) {
        (Some(Fault::RefuseRole), true, _) => error_answer(
            "403 Forbidden",
            "text/xml",
            &format!(
                "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: arn:aws:sts::{}:assumed-role/podreach-audit-worker/worker is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::{}:role/podreach-member</Message></Error><RequestId>7c1e0c4e-0000-4000-8000-000000000001</RequestId></ErrorResponse>",
                "999999999999",
                account.as_deref().unwrap_or_default()
            ),
        ),
        (Some(Fault::DenyEc2), false, "ec2") => error_answer(
            "403 Forbidden",
            "text/xml;charset=UTF-8",
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized to perform this operation.</Message></Error></Errors><RequestID>7c1e0c4e-0000-4000-8000-000000000002</RequestID></Response>",
        ),
        (Some(Fault::ThrottleEc2), false, "ec2") => error_answer(
            "503 Service Unavailable",
            "text/xml;charset=UTF-8",
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>7c1e0c4e-0000-4000-8000-000000000003</RequestID></Response>",
        ),
        _ => forward(moto, &request).await,
    };
    if assuming && let Some(account) = &account {
        let text = String::from_utf8_lossy(&answer);
        if let Some(key) = between(&text, "<AccessKeyId>", "</AccessKeyId>") {
            state
                .lock()
                .expect("not poisoned")
                .keys
                .insert(key.to_owned(), account.clone());
        }
    }
    if let (Some(account), false) = (&account, assuming) {
        let mut s = state.lock().expect("not poisoned");
        if let Some(n) = s
            .in_flight
            .get_mut(account)
            .and_then(|r| r.get_mut(&region))
        {
            *n -= 1;
        }
    }
    let _ = write.write_all(&answer).await;
    let _ = write.shutdown().await;
}

/// `request` sent to moto as it came (`Connection: close`); moto's answer, byte for byte.
async fn forward(moto: SocketAddr, request: &Request) -> Vec<u8> {
    let skip: BTreeSet<&str> = ["connection", "content-length", "transfer-encoding"]
        .into_iter()
        .collect();
    let mut head = format!("{} {} HTTP/1.1\r\n", request.method, request.path);
    for (name, value) in &request.headers {
        if !skip.contains(name.to_ascii_lowercase().as_str()) {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        request.body.len()
    ));
    let answer = async {
        let mut upstream = TcpStream::connect(moto).await?;
        upstream.write_all(head.as_bytes()).await?;
        upstream.write_all(&request.body).await?;
        let mut answer = Vec::new();
        upstream.read_to_end(&mut answer).await?;
        std::io::Result::Ok(answer)
    }
    .await;
    answer.unwrap_or_else(|e| error_answer("502 Bad Gateway", "text/plain", &e.to_string()))
}
