//! A moto server (the AWS-compatible endpoint from the Python `moto` package) for the tests that
//! talk to EC2, EKS, SNS, SQS and EventBridge: one server per test process, started on first use,
//! and one fresh AWS account per test so tests running in parallel never see each other's state.
//!
//! The server is `<repo>/.venv/bin/moto_server`, installed (pinned) by
//! `scripts/install-test-deps.sh`, which `./scripts/test` runs first; a missing installation is a
//! panic with that instruction, never a silent skip. [`Moto::shared`] picks a free port on
//! 127.0.0.1, starts the server through a small Python wrapper whose watchdog thread exits as soon
//! as its parent (this test process) is gone, because a `static` is never dropped and the server
//! must not outlive the tests. It waits until `GET /moto-api/` answers and sends one EC2 call,
//! because moto's first EC2 request is slow. Those synchronous parts use plain HTTP over
//! [`std::net::TcpStream`], so they need no async runtime and work from any test.
//!
//! Accounts: moto 5 does *not* derive the account from a 12-digit access key id; a request is
//! charged to the account of its access key, which only IAM and STS create. [`Moto::account`]
//! therefore calls STS `AssumeRole` for `arn:aws:iam::<new id>:role/podreach-test` and returns an
//! [`SdkConfig`] carrying those temporary credentials: every request made with it lands in that
//! account (ids are counted up from 100000000001). Every account also has moto's default VPC
//! (172.31.0.0/16) in each region, as a real account has. [`Moto::reset`] wipes every account,
//! including the keys of earlier [`Account`]s, whose requests then fall back to moto's default
//! account 123456789012: create new accounts after a reset. [`Account::env`] puts another
//! process in an account, and [`Account::podreach_command`] runs the `podreach` CLI there.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};

use crate::fail;
use crate::infra::repo_root;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use aws_config::retry::RetryConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ec2::config::{Credentials, ProvideCredentials};

/// How long the server may take to answer its first request.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// The first account id [`Moto::account`] hands out.
const FIRST_ACCOUNT: u64 = 100_000_000_001;
/// The region of [`Moto::account`].
pub const DEFAULT_REGION: &str = "us-east-1";

/// Runs moto's server main with a watchdog: `argv[1]` is the pid of the process that must stay
/// this process's parent; when the parent is gone (the wrapper is re-parented), exit at once.
const WRAPPER: &str = r#"
import os, sys, threading, time
parent = int(sys.argv[1])
def watchdog():
    while os.getppid() == parent:
        time.sleep(0.2)
    os._exit(0)
threading.Thread(target=watchdog, daemon=True).start()
from moto.server import main
main(sys.argv[2:])
"#;

/// A running moto server.
#[derive(Debug)]
pub struct Moto {
    child: Mutex<Child>,
    addr: SocketAddr,
    endpoint: String,
    log: PathBuf,
    next_account: AtomicU64,
}

/// One isolated moto account: an [`SdkConfig`] whose requests all land in account `id`.
#[derive(Debug, Clone)]
pub struct Account {
    /// The 12-digit account id (also the `OwnerId` of everything created with `config`).
    pub id: String,
    /// Endpoint, region, credentials of this account; one attempt per request, no retries.
    pub config: SdkConfig,
    /// The account's temporary credentials (from STS `AssumeRole`), e.g. for a child process.
    pub credentials: Credentials,
}

impl Account {
    /// The environment variables that put an AWS SDK or CLI in another process into this
    /// account on this server (`AWS_ENDPOINT_URL`, the region and the credentials).
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let region = self
            .config
            .region()
            .map_or(DEFAULT_REGION.to_owned(), ToString::to_string);
        let mut env = vec![
            (
                "AWS_ENDPOINT_URL",
                self.config.endpoint_url().unwrap_or_default().to_owned(),
            ),
            ("AWS_REGION", region.clone()),
            ("AWS_DEFAULT_REGION", region),
            (
                "AWS_ACCESS_KEY_ID",
                self.credentials.access_key_id().to_owned(),
            ),
            (
                "AWS_SECRET_ACCESS_KEY",
                self.credentials.secret_access_key().to_owned(),
            ),
        ];
        if let Some(token) = self.credentials.session_token() {
            env.push(("AWS_SESSION_TOKEN", token.to_owned()));
        }
        env
    }

    /// A command running the workspace's built `podreach` binary in this account and nowhere
    /// else: every `AWS_*` variable of this process dropped, this account's [`Account::env`]
    /// set, the instance metadata service off, and the shared config and credentials files
    /// named in `scratch`, where they do not exist.
    pub fn podreach_command(&self, scratch: &Path) -> Command {
        let mut command = Command::new(crate::infra::built_binary("podreach"));
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("AWS_") {
                command.env_remove(name);
            }
        }
        command
            .envs(self.env())
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", scratch.join("no-aws-config"))
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                scratch.join("no-aws-credentials"),
            );
        command
    }
}

impl Moto {
    /// The one server of this test process, started on first use (lazily), warmed up.
    ///
    /// Panics when moto is not installed or does not start; the message says what to do.
    pub fn shared() -> &'static Moto {
        static SHARED: OnceLock<Moto> = OnceLock::new();
        SHARED.get_or_init(Moto::start)
    }

    /// A private server, stopped when the value is dropped: for a test that must reset the
    /// server without disturbing the tests that share [`Moto::shared`].
    pub fn start() -> Moto {
        let repo = repo_root();
        let venv = repo.join(".venv");
        let moto_server = venv.join("bin/moto_server");
        let python = venv.join("bin/python");
        assert!(
            moto_server.is_file() && python.is_file(),
            "moto is not installed: run scripts/install-test-deps.sh (./scripts/test does this); \
             {} is missing",
            moto_server.display()
        );
        let log_dir = repo.join("target/moto");
        std::fs::create_dir_all(&log_dir).expect("create target/moto for the moto server's log");

        // The free port may be taken by someone else before moto binds it: try a few.
        let mut failures = Vec::new();
        for attempt in 1..=3 {
            let port = free_port();
            let log = log_dir.join(format!("moto-{}-{port}.log", std::process::id()));
            let child = spawn(&python, port, &log);
            let moto = Moto {
                child: Mutex::new(child),
                addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
                endpoint: format!("http://127.0.0.1:{port}"),
                log,
                next_account: AtomicU64::new(FIRST_ACCOUNT),
            };
            match moto.wait_until_ready() {
                Ok(()) => {
                    moto.warm_up();
                    return moto;
                }
                Err(why) => failures.push(format!(
                    "attempt {attempt} (port {port}): {why}\n--- {} ---\n{}",
                    moto.log.display(),
                    moto.log_tail()
                )),
            }
        }
        fail(&format!(
            "moto server did not start:\n{}",
            failures.join("\n")
        ))
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The server's log (stdout and stderr, one line per request).
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// An [`SdkConfig`] for a fresh, isolated account in `us-east-1`.
    pub async fn account(&self) -> Account {
        self.account_in(DEFAULT_REGION).await
    }

    /// An [`SdkConfig`] for a fresh, isolated account in `region`.
    pub async fn account_in(&self, region: &str) -> Account {
        let id = format!("{:012}", self.next_account.fetch_add(1, Ordering::Relaxed));
        let base = Credentials::new("podreach-test", "secret", None, None, "moto");
        let base = self.sdk_config(region, base).await;
        let assumed = AssumeRoleProvider::builder(format!("arn:aws:iam::{id}:role/podreach-test"))
            .session_name("podreach-test")
            .configure(&base)
            .build()
            .await
            .provide_credentials()
            .await
            .expect("STS AssumeRole on the moto server (gives the new account's credentials)");
        // Static credentials without an expiry: the identity cache never refreshes them.
        let credentials = Credentials::new(
            assumed.access_key_id(),
            assumed.secret_access_key(),
            assumed.session_token().map(str::to_owned),
            None,
            "moto",
        );
        let config = self.sdk_config(region, credentials.clone()).await;
        Account {
            id,
            config,
            credentials,
        }
    }

    /// `POST /moto-api/reset`: forgets every resource of every account, and the credentials of
    /// every [`Account`] made so far. It affects every test sharing this server.
    pub fn reset(&self) {
        match request(self.addr, "POST", "/moto-api/reset", &[], "") {
            Ok((200, _)) => {}
            Ok((status, body)) => fail(&format!("moto reset answered {status}: {body}")),
            Err(e) => fail(&format!("moto reset failed: {e}")),
        }
    }

    async fn sdk_config(&self, region: &str, credentials: Credentials) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region(Region::new(region.to_owned()))
            .credentials_provider(credentials)
            .retry_config(RetryConfig::standard().with_max_attempts(1))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(10))
                    .operation_timeout(Duration::from_secs(120))
                    .build(),
            )
            .load()
            .await
    }

    fn wait_until_ready(&self) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self
                .child
                .lock()
                .expect("moto child lock")
                .try_wait()
                .map_err(|e| format!("cannot poll the moto process: {e}"))?
            {
                return Err(format!("moto exited early ({status})"));
            }
            if let Ok((200, _)) = request(self.addr, "GET", "/moto-api/", &[], "") {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "no answer from {}/moto-api/ within {} s",
                    self.endpoint,
                    START_TIMEOUT.as_secs()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// One `DescribeVpcs` (signature not checked by moto), so that the first test's first EC2
    /// call does not pay for moto loading its EC2 backend.
    fn warm_up(&self) {
        let auth = "AWS4-HMAC-SHA256 \
                    Credential=podreach-warmup/20260101/us-east-1/ec2/aws4_request, \
                    SignedHeaders=host, Signature=0";
        let headers = [
            (
                "Content-Type",
                "application/x-www-form-urlencoded; charset=utf-8",
            ),
            ("Authorization", auth),
        ];
        let body = "Action=DescribeVpcs&Version=2016-11-15";
        match request(self.addr, "POST", "/", &headers, body) {
            Ok((200, _)) => {}
            Ok((status, body)) => fail(&format!(
                "moto warm-up DescribeVpcs answered {status}: {body}\n--- {} ---\n{}",
                self.log.display(),
                self.log_tail()
            )),
            Err(e) => fail(&format!(
                "moto warm-up DescribeVpcs failed: {e}\n--- {} ---\n{}",
                self.log.display(),
                self.log_tail()
            )),
        }
    }

    /// The last 40 lines of the server's log.
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        if let Ok(child) = self.child.get_mut() {
            // Already gone is fine: nothing more to stop.
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0 to find a free port")
        .port()
}

fn spawn(python: &Path, port: u16, log: &Path) -> Child {
    let out = std::fs::File::create(log).expect("create the moto server's log file");
    let err = out.try_clone().expect("clone the moto log file handle");
    Command::new(python)
        .arg("-c")
        .arg(WRAPPER)
        .arg(std::process::id().to_string())
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        // The account must come from the credentials, never from the environment.
        .env_remove("MOTO_ACCOUNT_ID")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("start the moto server (.venv/bin/python)")
}

/// One HTTP/1.1 request with `Connection: close`; returns the status and the body (also for the
/// other local test servers).
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(START_TIMEOUT))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.as_bytes())?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    let answer = String::from_utf8_lossy(&answer);
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP answer: {answer:.200}")))?;
    let body = answer
        .split_once("\r\n\r\n")
        .map_or("", |(_, body)| body)
        .to_owned();
    Ok((status, body))
}
