//! The Lambda Runtime API, served here for the real bootstrap binaries: a test starts a
//! [`RuntimeApi`] (a minimal HTTP/1.1 server on 127.0.0.1, a free port), spawns a binary against
//! it as a [`Function`] (a child process with Lambda's environment, killed when dropped), queues
//! events and reads what the binary reported, in order.
//!
//! `GET /2018-06-01/runtime/invocation/next` blocks until the test queues an event, then answers
//! it with the `Lambda-Runtime-Aws-Request-Id`, `-Deadline-Ms`, `-Invoked-Function-Arn` and
//! `-Trace-Id` headers; `POST …/{id}/response`, `POST …/{id}/error` and
//! `POST /2018-06-01/runtime/init/error` are recorded (the JSON body, and the
//! `Lambda-Runtime-Function-Error-Type` header). Connections are kept alive as the runtime's
//! pooled client expects; a poll whose process was killed gives its invocation back, as Lambda
//! gives it to the next instance. Shared by `runtime_api.rs` and `organization_hub.rs`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Mutex, mpsc};
use tokio::task::JoinSet;

use crate::lambda;
use crate::moto::Account;
use crate::seed::SeededDemo;

const PREFIX: &str = "/2018-06-01/runtime";
/// How long an invocation of a binary may take (a collection against moto takes seconds).
pub const INVOCATION_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a binary may take to exit after an initialisation error.
pub const EXIT_TIMEOUT: Duration = Duration::from_secs(30);

/// What a binary reported to the Runtime API.
#[derive(Debug, Clone, PartialEq)]
pub enum Report {
    Response {
        request_id: String,
        body: Value,
    },
    Error {
        request_id: String,
        body: Value,
        /// `Lambda-Runtime-Function-Error-Type`, when sent.
        error_type_header: Option<String>,
    },
    InitError {
        body: Value,
        error_type_header: Option<String>,
    },
}

/// One queued invocation.
#[derive(Debug)]
struct Invocation {
    request_id: String,
    body: Vec<u8>,
}

/// State shared by the server's connections.
#[derive(Debug)]
struct Shared {
    invocations: Mutex<mpsc::UnboundedReceiver<Invocation>>,
    /// The queue's own sender, for an invocation whose answer could not be written.
    requeue: mpsc::UnboundedSender<Invocation>,
    reports: mpsc::UnboundedSender<Report>,
    /// `GET …/invocation/next` requests received.
    polls: AtomicUsize,
    function_arn: String,
    /// Seconds the function's clock runs ahead (under libfaketime): the deadline is given on
    /// the function's clock, as Lambda's and the function's are the same clock.
    clock_ahead: std::sync::atomic::AtomicU64,
}

/// The Runtime API server; stops (with its connections) when dropped.
#[derive(Debug)]
pub struct RuntimeApi {
    address: String,
    invocations: mpsc::UnboundedSender<Invocation>,
    pub reports: mpsc::UnboundedReceiver<Report>,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
    next_id: usize,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl RuntimeApi {
    pub async fn start(function_arn: String) -> RuntimeApi {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the Runtime API server to 127.0.0.1:0");
        let address = listener
            .local_addr()
            .expect("the listener's address")
            .to_string();
        let (invocations, queued) = mpsc::unbounded_channel();
        let (reported, reports) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            invocations: Mutex::new(queued),
            requeue: invocations.clone(),
            reports: reported,
            polls: AtomicUsize::new(0),
            function_arn,
            clock_ahead: std::sync::atomic::AtomicU64::new(0),
        });
        let server_shared = shared.clone();
        let server = tokio::spawn(async move {
            // Owning the connections here means aborting this task stops them too.
            let mut connections = JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                let shared = server_shared.clone();
                connections.spawn(async move {
                    // A reset is the child being killed at the end of a test.
                    if let Err(e) = serve(stream, &shared).await
                        && e.kind() != std::io::ErrorKind::ConnectionReset
                    {
                        eprintln!("runtime API connection: {e}");
                    }
                });
            }
        });
        RuntimeApi {
            address,
            invocations,
            reports,
            shared,
            server,
            next_id: 0,
        }
    }

    /// Queues an event; returns its request id.
    pub fn invoke(&mut self, body: impl Into<Vec<u8>>) -> String {
        self.next_id += 1;
        let request_id = format!("00000000-0000-4000-8000-{:012}", self.next_id);
        self.invocations
            .send(Invocation {
                request_id: request_id.clone(),
                body: body.into(),
            })
            .expect("the Runtime API server is running");
        request_id
    }

    pub fn polls(&self) -> usize {
        self.shared.polls.load(Ordering::SeqCst)
    }

    /// The function's clock runs `seconds` ahead from now on.
    pub fn clock_ahead(&self, seconds: u64) {
        self.shared.clock_ahead.store(seconds, Ordering::SeqCst);
    }

    /// The next report of `function`; fails the test when the process exits or nothing comes
    /// within `within`.
    pub async fn next_report(&mut self, function: &mut Function, within: Duration) -> Report {
        let deadline = Instant::now() + within;
        loop {
            match tokio::time::timeout(Duration::from_millis(200), self.reports.recv()).await {
                Ok(Some(report)) => return report,
                Ok(None) => function.fail("the Runtime API server stopped"),
                Err(_) => {}
            }
            if let Some(status) = function.exited() {
                function.fail(&format!(
                    "{} exited ({status}) while an invocation was pending",
                    function.name
                ));
            }
            if Instant::now() > deadline {
                function.fail(&format!(
                    "no report from {} within {} s",
                    function.name,
                    within.as_secs()
                ));
            }
        }
    }

    /// Reports that arrived without waiting.
    pub fn pending_reports(&mut self) -> Vec<Report> {
        let mut reports = Vec::new();
        while let Ok(report) = self.reports.try_recv() {
            reports.push(report);
        }
        reports
    }
}

/// One HTTP/1.1 request.
#[derive(Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn invalid(message: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, message)
}

/// Reads one request; `None` when the client closed the connection between requests.
pub async fn read_request<R: AsyncBufReadExt + Unpin>(
    reader: &mut R,
) -> std::io::Result<Option<Request>> {
    let mut line = String::new();
    if reader.read_line(&mut line).await? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let (Some(method), Some(path), Some(_version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid(format!("not an HTTP request line: {line:?}")));
    };
    let (method, path) = (method.to_owned(), path.to_owned());
    let mut headers = Vec::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).await? == 0 {
            return Err(invalid(
                "the connection closed inside the headers".to_owned(),
            ));
        }
        let header = line.trim_end_matches(['\r', '\n']);
        if header.is_empty() {
            break;
        }
        let (name, value) = header
            .split_once(':')
            .ok_or_else(|| invalid(format!("not a header: {header:?}")))?;
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let mut request = Request {
        method,
        path,
        headers,
        body: Vec::new(),
    };
    if let Some(length) = request.header("content-length") {
        let length: usize = length
            .parse()
            .map_err(|_| invalid(format!("Content-Length {length:?}")))?;
        request.body.resize(length, 0);
        reader.read_exact(&mut request.body).await?;
    } else if request
        .header("transfer-encoding")
        .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
    {
        loop {
            line.clear();
            reader.read_line(&mut line).await?;
            let size = line.trim_end_matches(['\r', '\n']);
            let size = size.split(';').next().unwrap_or_default();
            let size = usize::from_str_radix(size.trim(), 16)
                .map_err(|_| invalid(format!("chunk size {size:?}")))?;
            if size == 0 {
                // Trailers, then the empty line.
                loop {
                    line.clear();
                    reader.read_line(&mut line).await?;
                    if line.trim_end_matches(['\r', '\n']).is_empty() {
                        break;
                    }
                }
                break;
            }
            let start = request.body.len();
            request.body.resize(start + size, 0);
            reader.read_exact(&mut request.body[start..]).await?;
            line.clear();
            reader.read_line(&mut line).await?; // the CRLF after the chunk
        }
    }
    Ok(Some(request))
}

/// Serves one connection until the client closes it.
async fn serve(stream: TcpStream, shared: &Shared) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    while let Some(request) = read_request(&mut reader).await? {
        // A poll left by a killed child must not take the next test's invocation: while it
        // waits, the end of its connection ends it (the runtime sends nothing while it waits).
        let (status, headers, body) = tokio::select! {
            answered = answer(&request, shared) => answered,
            () = closed_by_peer(&mut reader) => return Ok(()),
        };
        let mut head = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        let written = async {
            write.write_all(head.as_bytes()).await?;
            write.write_all(&body).await?;
            write.flush().await
        }
        .await;
        if let Err(e) = written {
            // The child died between its poll and the answer: the invocation goes back to the
            // queue, as Lambda would give it to the next instance.
            if let Some(request_id) = headers_request_id(&head) {
                let _ = shared.requeue.send(Invocation { request_id, body });
            }
            return Err(e);
        }
        if request
            .header("connection")
            .is_some_and(|c| c.eq_ignore_ascii_case("close"))
        {
            break;
        }
    }
    Ok(())
}

/// Resolves when the client closes its side (or the connection fails); never while it is open.
async fn closed_by_peer<R: AsyncBufReadExt + Unpin>(reader: &mut R) {
    match reader.fill_buf().await {
        Ok([]) | Err(_) => {}
        Ok(_) => std::future::pending().await,
    }
}

/// The request id an invocation's answer carries, from its head.
fn headers_request_id(head: &str) -> Option<String> {
    head.lines()
        .find_map(|line| line.strip_prefix("Lambda-Runtime-Aws-Request-Id: "))
        .map(str::to_owned)
}

fn json_body(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

/// The Runtime API's answer to one request: status line, extra headers, body.
async fn answer(
    request: &Request,
    shared: &Shared,
) -> (&'static str, Vec<(&'static str, String)>, Vec<u8>) {
    let accepted = || ("202 Accepted", Vec::new(), br#"{"status":"OK"}"#.to_vec());
    let error_type_header = request
        .header("lambda-runtime-function-error-type")
        .map(str::to_owned);
    let path = request.path.strip_prefix(PREFIX).unwrap_or_default();
    match (request.method.as_str(), path) {
        ("GET", "/invocation/next") => {
            shared.polls.fetch_add(1, Ordering::SeqCst);
            let next = shared.invocations.lock().await.recv().await;
            let Some(invocation) = next else {
                return ("500 Internal Server Error", Vec::new(), b"{}".to_vec());
            };
            let deadline = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis())
                + u128::from(shared.clock_ahead.load(Ordering::SeqCst)) * 1000
                + INVOCATION_TIMEOUT.as_millis();
            let trace = format!(
                "Root=1-6745a1b2-{:024x};Parent={:016x};Sampled=0",
                deadline, deadline
            );
            (
                "200 OK",
                vec![
                    ("Lambda-Runtime-Aws-Request-Id", invocation.request_id),
                    ("Lambda-Runtime-Deadline-Ms", deadline.to_string()),
                    (
                        "Lambda-Runtime-Invoked-Function-Arn",
                        shared.function_arn.clone(),
                    ),
                    ("Lambda-Runtime-Trace-Id", trace),
                ],
                invocation.body,
            )
        }
        ("POST", "/init/error") => {
            let _ = shared.reports.send(Report::InitError {
                body: json_body(&request.body),
                error_type_header,
            });
            accepted()
        }
        ("POST", rest) if rest.starts_with("/invocation/") => {
            let rest = &rest["/invocation/".len()..];
            let report = if let Some(id) = rest.strip_suffix("/response") {
                Report::Response {
                    request_id: id.to_owned(),
                    body: json_body(&request.body),
                }
            } else if let Some(id) = rest.strip_suffix("/error") {
                Report::Error {
                    request_id: id.to_owned(),
                    body: json_body(&request.body),
                    error_type_header,
                }
            } else {
                return ("404 Not Found", Vec::new(), b"{}".to_vec());
            };
            let _ = shared.reports.send(report);
            accepted()
        }
        _ => ("404 Not Found", Vec::new(), b"{}".to_vec()),
    }
}

/// The function binary `<name>` built next to this test, which must exist.
pub fn binary(name: &str) -> PathBuf {
    crate::infra::built_binary(name)
}

/// A running bootstrap binary; killed when dropped.
#[derive(Debug)]
pub struct Function {
    pub name: String,
    child: Child,
    pub stdout: PathBuf,
    stderr: PathBuf,
    _scratch: tempfile::TempDir,
}

impl Drop for Function {
    fn drop(&mut self) {
        // Already exited is fine.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Function {
    /// Starts `target/debug/<name>` against `api`, in `account`, with `settings`.
    pub fn spawn(
        name: &str,
        api: &RuntimeApi,
        account: &Account,
        settings: &[(&str, &str)],
    ) -> Function {
        let scratch = tempfile::tempdir().expect("a scratch directory for the function");
        let stdout = scratch.path().join("stdout.log");
        let stderr = scratch.path().join("stderr.log");
        let mut command = Command::new(binary(name));
        command
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", &api.address)
            .env("AWS_LAMBDA_FUNCTION_NAME", format!("podreach-{name}"))
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .env("AWS_LAMBDA_LOG_LEVEL", "INFO")
            .env("_HANDLER", "bootstrap")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("HOME", scratch.path())
            .env("AWS_CONFIG_FILE", scratch.path().join("no-config"))
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                scratch.path().join("no-credentials"),
            )
            .envs(account.env())
            // moto's DescribeCluster names no reachable API server: the Kubernetes API is read in
            // the tests that serve one (`KUBERNETES_API=eks` in `settings`), off elsewhere.
            .env("KUBERNETES_API", "off")
            .envs(settings.iter().copied())
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).expect("create the stdout log"))
            .stderr(std::fs::File::create(&stderr).expect("create the stderr log"));
        let child = command.spawn().unwrap_or_else(|e| spawn_failed(name, &e));
        Function {
            name: name.to_owned(),
            child,
            stdout,
            stderr,
            _scratch: scratch,
        }
    }

    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("poll the function process")
    }

    pub async fn wait_for_exit(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.exited() {
                return status;
            }
            if Instant::now() > deadline {
                self.fail(&format!(
                    "{} did not exit within {} s",
                    self.name,
                    within.as_secs()
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn stdout_contains(&self, text: &str) -> bool {
        std::fs::read_to_string(&self.stdout).is_ok_and(|s| s.contains(text))
            || self.stderr().contains(text)
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    pub fn logs(&self) -> String {
        let tail = |path: &Path| {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(30)..].join("\n")
        };
        format!(
            "--- stdout (last 30 lines) ---\n{}\n--- stderr (last 30 lines) ---\n{}",
            tail(&self.stdout),
            tail(&self.stderr)
        )
    }

    #[allow(
        clippy::panic,
        reason = "test support: fails the test with the function's logs"
    )]
    pub fn fail(&self, message: &str) -> ! {
        panic!("{message}\n{}", self.logs())
    }
}

#[allow(
    clippy::panic,
    reason = "test support: a binary that cannot start fails the test"
)]
fn spawn_failed(name: &str, error: &std::io::Error) -> ! {
    panic!("cannot start target/debug/{name}: {error}")
}

pub fn function_arn(account: &Account, name: &str) -> String {
    format!(
        "arn:aws:lambda:{}:{}:function:podreach-{name}",
        lambda::region(account),
        account.id
    )
}

/// The sample `events/<name>` for `account`, as the bytes of an invocation.
pub fn sample_for(name: &str, seeded: &SeededDemo, account: &Account) -> Vec<u8> {
    serde_json::to_vec(&lambda::sample_event(name, seeded, account)).expect("an event serialises")
}

/// Asserts `report` is the response to `request_id` and returns its body.
pub fn response_of(report: Report, request_id: &str, function: &Function) -> Value {
    match report {
        Report::Response {
            request_id: id,
            body,
        } if id == request_id => body,
        other => function.fail(&format!(
            "expected the response to {request_id}, got {other:#?}"
        )),
    }
}

/// Asserts `report` is the error of `request_id` and returns its body and header.
pub fn error_of(report: Report, request_id: &str, function: &Function) -> (Value, Option<String>) {
    match report {
        Report::Error {
            request_id: id,
            body,
            error_type_header,
        } if id == request_id => (body, error_type_header),
        other => function.fail(&format!(
            "expected the error of {request_id}, got {other:#?}"
        )),
    }
}
