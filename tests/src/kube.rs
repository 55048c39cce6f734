//! The fake EKS Kubernetes API (`tests/kube/fake_kube`) for the tests that read a cluster's API:
//! one server per test process, started on first use beside the shared moto server.
//!
//! `fake_kube` serves each registered cluster's Kubernetes API over HTTPS with its own CA, checks
//! bearer tokens the way aws-iam-authenticator does (the presigned STS `GetCallerIdentity`
//! signature, recomputed; the `x-k8s-aws-id` header naming this cluster; the expiry), maps the
//! caller through access entries and RBAC (401 and 403 with kube-apiserver's `Status` bodies), and
//! lists in chunks with `continue`, 410 on expired tokens, field selectors and gzip. Its EKS
//! proxy forwards every EKS request to moto, except that `DescribeCluster` answers with the fake
//! API's endpoint and CA (and `accessConfig`), and `DescribeAddon` from the registration (moto
//! has no add-on API). A test points the EKS client (or `AWS_ENDPOINT_URL_EKS` of a child
//! process) at [`FakeKube::eks_endpoint`]. `tests/tests/kube_api.rs` proves the server against
//! the real `kubectl`.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};

use serde::Deserialize as _;
use serde_json::{Value, json};

use crate::fail;
use crate::infra::repo_root;
use crate::moto::{Account, Moto};

/// The group `infra/rbac.yaml` binds its roles to.
pub const READERS: &str = "podreach-readers";

/// A running fake_kube.
#[derive(Debug)]
pub struct FakeKube {
    child: Mutex<Child>,
    control: SocketAddr,
    /// The EKS endpoint to use instead of moto's: DescribeCluster answers point at the fake APIs.
    pub eks_endpoint: String,
}

/// A registered cluster.
#[derive(Debug, Clone)]
pub struct Registered {
    pub arn: String,
    pub name: String,
    /// `https://127.0.0.1:PORT`.
    pub endpoint: String,
    /// EKS's `certificateAuthority.data`: base64 of the CA's PEM.
    pub ca_data: String,
    pub ca_pem_path: String,
    /// A client certificate of user `podreach-cert-user` in [`READERS`], when asked for.
    pub client_cert: Option<(String, String)>,
}

impl FakeKube {
    /// The one server of this test process, beside [`Moto::shared`].
    pub fn shared() -> &'static FakeKube {
        static SHARED: OnceLock<FakeKube> = OnceLock::new();
        SHARED.get_or_init(|| FakeKube::start(Moto::shared().endpoint()))
    }

    fn start(moto: &str) -> FakeKube {
        let root = repo_root();
        let python = root.join(".venv/bin/python");
        if !python.exists() {
            fail(&format!(
                "{} is missing: run scripts/install-test-deps.sh (./scripts/test does)",
                python.display()
            ));
        }
        let mut child = Command::new(&python)
            .arg(root.join("tests/kube/fake_kube"))
            .args(["--moto", moto, "--quiet"])
            .args(["--parent-pid", &std::process::id().to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| fail(&format!("start tests/kube/fake_kube: {e}")));
        let stdout = child
            .stdout
            .take()
            .unwrap_or_else(|| fail("fake_kube has no stdout"));
        let mut line = String::new();
        if let Err(e) = BufReader::new(stdout).read_line(&mut line) {
            fail(&format!("fake_kube's first line: {e}"));
        }
        let urls: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| fail(&format!("fake_kube printed `{line}`, not its URLs: {e}")));
        let control = urls["control"]
            .as_str()
            .and_then(|u| u.strip_prefix("http://"))
            .and_then(|a| a.trim_end_matches('/').parse().ok())
            .unwrap_or_else(|| fail(&format!("no control URL in {urls}")));
        let eks_endpoint = urls["eks"]
            .as_str()
            .map(|u| u.trim_end_matches('/').to_owned())
            .unwrap_or_else(|| fail(&format!("no EKS URL in {urls}")));
        FakeKube {
            child: Mutex::new(child),
            control,
            eks_endpoint,
        }
    }

    fn call(&self, method: &str, path: &str, body: &Value) -> Value {
        let text = if body.is_null() {
            String::new()
        } else {
            body.to_string()
        };
        let headers = [("Content-Type", "application/json")];
        match crate::moto::request(self.control, method, path, &headers, &text) {
            Ok((status, answer)) if (200..300).contains(&status) => {
                serde_json::from_str(&answer).unwrap_or(Value::Null)
            }
            Ok((status, answer)) => fail(&format!(
                "fake_kube {method} {path} answered {status}: {answer}"
            )),
            Err(e) => fail(&format!("fake_kube {method} {path}: {e}")),
        }
    }

    /// Registers (or re-registers) a cluster; `registration` is fake_kube's JSON (README).
    pub fn register(&self, registration: &Value) -> Registered {
        let answer = self.call("POST", "/clusters", registration);
        let text = |key: &str| answer[key].as_str().unwrap_or_default().to_owned();
        Registered {
            arn: text("arn"),
            name: text("name"),
            endpoint: text("endpoint"),
            ca_data: text("ca_data"),
            ca_pem_path: text("ca_pem_path"),
            client_cert: answer["client_cert"]["cert_pem_path"].as_str().map(|cert| {
                (
                    cert.to_owned(),
                    answer["client_cert"]["key_pem_path"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                )
            }),
        }
    }

    /// Replaces the kinds of objects given (`{"daemonsets": [...], "pods": [...]}`).
    pub fn put_objects(&self, arn: &str, objects: &Value) {
        self.call(
            "PUT",
            &format!("/clusters/{}/objects", encode(arn)),
            objects,
        );
    }

    /// Replaces access entries, aws-auth mappings, RBAC or credentials.
    pub fn put_access(&self, arn: &str, access: &Value) {
        self.call("PUT", &format!("/clusters/{}/access", encode(arn)), access);
    }

    /// The requests the cluster's API server answered, in order.
    pub fn requests(&self, arn: &str) -> Vec<Value> {
        match self.call(
            "GET",
            &format!("/clusters/{}/requests", encode(arn)),
            &Value::Null,
        ) {
            Value::Array(list) => list,
            other => fail(&format!("fake_kube's request log is not a list: {other}")),
        }
    }

    /// Forgets the cluster's request log.
    pub fn clear_requests(&self, arn: &str) {
        self.call(
            "DELETE",
            &format!("/clusters/{}/requests", encode(arn)),
            &Value::Null,
        );
    }

    /// Adds faults (`{"expire_next_continue": 1}`, `{"status_once": …}`, `{"delay_seconds": S}`).
    pub fn faults(&self, arn: &str, faults: &Value) {
        self.call("POST", &format!("/clusters/{}/faults", encode(arn)), faults);
    }
}

impl Drop for FakeKube {
    fn drop(&mut self) {
        if let Ok(child) = self.child.get_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `infra/rbac.yaml`'s objects, as fake_kube's `rbac` field takes them.
pub fn project_rbac() -> Vec<Value> {
    let text = std::fs::read_to_string(repo_root().join("infra/rbac.yaml"))
        .unwrap_or_else(|e| fail(&format!("infra/rbac.yaml: {e}")));
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|doc| {
            let value = serde_yaml_ng::Value::deserialize(doc)
                .unwrap_or_else(|e| fail(&format!("infra/rbac.yaml: {e}")));
            crate::infra::yaml_to_json(value)
        })
        .filter(|v| !v.is_null())
        .collect()
}

/// The moto account's principal as STS names it, and as an access entry takes it.
pub fn identity(account: &Account) -> (String, String) {
    (
        format!(
            "arn:aws:sts::{}:assumed-role/podreach-test/podreach-test",
            account.id
        ),
        format!("arn:aws:iam::{}:role/podreach-test", account.id),
    )
}

/// The registration of `cluster` of `account` that lets the account read it with
/// `infra/rbac.yaml`, serving `objects`; `addon` answers DescribeAddon (`None`: self-managed).
pub fn readable_cluster(
    account: &Account,
    cluster: &str,
    objects: Value,
    addon: Option<Value>,
) -> Value {
    let region = crate::lambda::region(account);
    let (assumed, role) = identity(account);
    json!({
        "arn": format!("arn:aws:eks:{region}:{}:cluster/{cluster}", account.id),
        "name": cluster,
        "credentials": [{
            "access_key_id": account.credentials.access_key_id(),
            "secret_access_key": account.credentials.secret_access_key(),
            "session_token": account.credentials.session_token(),
            "arn": assumed,
        }],
        "access_entries": [{"principal_arn": role, "kubernetes_groups": [READERS]}],
        "rbac": project_rbac(),
        "objects": objects,
        "addon": addon,
    })
}

/// Percent-encodes a path segment.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A demo cluster's API objects (`<cluster>/aws-node.json` when the demo has one, else `shop`'s,
/// pods, nodes) with the demo's ids rewritten to `seeded`'s moto ids, the aws-node image at
/// `version` (`v1.10.4`) and `env` set on the aws-node container.
pub fn demo_objects(
    seeded: &crate::seed::SeededDemo,
    cluster: &str,
    version: &str,
    env: &[(&str, &str)],
) -> Value {
    let file = |path: &str| -> Value {
        serde_json::from_str(&seeded.to_moto_ids(crate::seed::demo_file_text(path)))
            .unwrap_or_else(|e| fail(&format!("{path}: {e}")))
    };
    let mut daemonset = file("shop/aws-node.json");
    let spec = &mut daemonset["spec"]["template"]["spec"];
    for (list, image) in [
        ("containers", "amazon-k8s-cni"),
        ("initContainers", "amazon-k8s-cni-init"),
    ] {
        for container in spec[list].as_array_mut().into_iter().flatten() {
            container["image"] = json!(format!(
                "602401143452.dkr.ecr.us-east-1.amazonaws.com/{image}:{version}-eksbuild.1"
            ));
        }
    }
    for (name, value) in env {
        let vars = spec["containers"][0]["env"]
            .as_array_mut()
            .unwrap_or_else(|| fail("aws-node has an env list"));
        vars.retain(|v| v["name"] != *name);
        vars.push(json!({"name": name, "value": value}));
    }
    json!({
        "daemonsets": [daemonset],
        "pods": file(&format!("{cluster}/pods.json"))["items"],
        "nodes": file(&format!("{cluster}/nodes.json"))["items"],
    })
}

/// A kubeconfig for `registered` whose user is a bearer token podreach's own signer makes for
/// `who` (as `aws eks get-token` would), written into `dir`.
pub fn kubeconfig_for(
    dir: &std::path::Path,
    registered: &Registered,
    who: &Account,
) -> std::path::PathBuf {
    let token = podreach_aws::kube::token::eks_token(
        &registered.name,
        &crate::lambda::region(who),
        &who.credentials,
        std::time::SystemTime::now(),
    )
    .unwrap_or_else(|e| fail(&format!("a token: {e}")));
    let config = json!({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": registered.endpoint, "certificate-authority-data": registered.ca_data}}],
        "users": [{"name": "u", "user": {"token": token}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "x"
    });
    let path = dir.join("kubeconfig");
    std::fs::write(&path, config.to_string())
        .unwrap_or_else(|e| fail(&format!("write the kubeconfig: {e}")));
    path
}

/// Debian's kubectl (`scripts/install-kubectl.sh`) with `config`; its stdout, and a failed test
/// when it fails.
pub fn kubectl(config: &std::path::Path, args: &[&str]) -> String {
    let path = repo_root().join(".tools/kubectl/usr/bin/kubectl");
    if !path.is_file() {
        fail(&format!(
            "{} is missing: run scripts/install-kubectl.sh (./scripts/test does)",
            path.display()
        ));
    }
    let output = Command::new(path)
        .arg("--kubeconfig")
        .arg(config)
        .args(args)
        .env("HOME", config.parent().unwrap_or(config))
        .output()
        .unwrap_or_else(|e| fail(&format!("kubectl: {e}")));
    if !output.status.success() {
        fail(&format!(
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    String::from_utf8_lossy(&output.stdout).into_owned()
}
