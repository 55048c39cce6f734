#!/usr/bin/env bash
# Proves tests/kube/fake_kube against a real kubectl (the Go client-go stack) and botocore.
#
# Starts a moto server and fake_kube in front of it, creates the EKS cluster "shop" in moto through
# the proxy (account 100000000001, identities from STS AssumeRole), registers it with the demo
# aws-node DaemonSet and pods (crates/core/demo/shop), two realistic EC2 nodes, two ENIConfigs,
# podreach's RBAC and a vpc-cni add-on, builds kubeconfigs from DescribeCluster (token, client
# certificate, exec plugin), and checks what kubectl shows and what the server logged: chunked
# lists, field selectors, get, set env (strategic merge patch), 401/403/404/410/503, a gzipped
# synthetic list, hanging and refusing endpoints. Prints one line per check and
# "N passed, N failed"; exits 0 only if every check passed. Everything runs on 127.0.0.1 and is
# stopped on exit.
#
# kubectl: $KUBECTL, else /opt/kubectl-1.20/usr/bin/kubectl, else `kubectl` on PATH. The checks
# were written against Debian's kubectl 1.20 (`apt-get install
# kubernetes-client=1.20.5+really1.20.2-1.1+deb12u1`; where another package owns
# /usr/bin/kubectl, unpack it instead: `apt-get download kubernetes-client=...` and
# `dpkg-deb -x kubernetes-client_*.deb /opt/kubectl-1.20`).
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
python=$repo/.venv/bin/python
if [ ! -x "$python" ] || [ ! -x "$repo/.venv/bin/moto_server" ]; then
  scripts/install-test-deps.sh
fi

kubectl=${KUBECTL:-}
if [ -z "$kubectl" ]; then
  for candidate in /opt/kubectl-1.20/usr/bin/kubectl "$(command -v kubectl || true)"; do
    if [ -n "$candidate" ] && [ -x "$candidate" ]; then kubectl=$candidate; break; fi
  done
fi
if [ -z "$kubectl" ]; then
  echo "check_with_kubectl: no kubectl; install Debian's kubernetes-client or set KUBECTL" >&2
  exit 1
fi

work=$(mktemp -d /tmp/check-fake-kube.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ "${KEEP_LOGS:-}" = 1 ]; then echo "logs kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

free_port() { "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

moto_port=$(free_port)
"$repo/.venv/bin/moto_server" -H 127.0.0.1 -p "$moto_port" >"$work/moto.log" 2>&1 &
pids+=($!)
for _ in $(seq 150); do
  curl -sf "http://127.0.0.1:$moto_port/moto-api/" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -sf "http://127.0.0.1:$moto_port/moto-api/" >/dev/null || { echo "moto did not start" >&2; cat "$work/moto.log" >&2; exit 1; }

"$python" tests/kube/fake_kube --moto "http://127.0.0.1:$moto_port" --parent-pid $$ \
  >"$work/urls.json" 2>"$work/fake_kube.log" &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/urls.json" ] && break; sleep 0.1; done
[ -s "$work/urls.json" ] || { echo "fake_kube did not start" >&2; cat "$work/fake_kube.log" >&2; exit 1; }

echo "kubectl: $kubectl ($("$kubectl" version --client --short 2>/dev/null || "$kubectl" version --client 2>&1 | head -1))"
export KUBECTL=$kubectl WORK=$work REPO=$repo MOTO=http://127.0.0.1:$moto_port
status=0
"$python" - <<'PY' || status=$?
import base64
import copy
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

import boto3
from botocore.exceptions import ClientError

REPO, WORK, KUBECTL, MOTO = (os.environ[k] for k in ("REPO", "WORK", "KUBECTL", "MOTO"))
sys.path.insert(0, f"{REPO}/tests/kube")
from fake_kube.presign import make_token  # noqa: E402

URLS = json.load(open(f"{WORK}/urls.json"))
ACCOUNT, REGION = "100000000001", "us-east-1"
results: list[bool] = []


def check(name: str, ok: bool, detail: str = "") -> bool:
    print(("ok   " if ok else "FAIL ") + name + ("" if ok or not detail else f"\n     {detail}"))
    results.append(bool(ok))
    return bool(ok)


def control(method: str, path: str, body=None):
    request = urllib.request.Request(URLS["control"] + path, method=method,
                                     data=None if body is None else json.dumps(body).encode())
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def kubectl(kubeconfig: str, *args: str, cache: str = "cache", timeout: float = 60):
    env = dict(os.environ, HOME=WORK)
    done = subprocess.run([KUBECTL, "--kubeconfig", kubeconfig, "--cache-dir", f"{WORK}/{cache}",
                           *args], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, env=env)
    return done.returncode, done.stdout, done.stderr


def requests_of(cluster: str) -> list[dict]:
    return control("GET", f"/clusters/{cluster}/requests")[1]


def kubeconfig(name: str, server: str, ca_data: str, user: dict) -> str:
    path = f"{WORK}/{name}.kubeconfig"
    json.dump({"apiVersion": "v1", "kind": "Config", "current-context": name,
               "clusters": [{"name": name, "cluster": {"server": server,
                                                       "certificate-authority-data": ca_data}}],
               "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
               "users": [{"name": name, "user": user}]}, open(path, "w"))
    return path


# AWS side: two identities of account 100000000001, the cluster in moto (through the proxy) --
sts = boto3.client("sts", endpoint_url=MOTO, region_name=REGION, aws_access_key_id="AKIDBOOTSTRAP",
                   aws_secret_access_key="bootstrap")


def assume(role: str) -> dict:
    c = sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{role}",
                        RoleSessionName="check")["Credentials"]
    return {"access_key_id": c["AccessKeyId"], "secret_access_key": c["SecretAccessKey"],
            "session_token": c["SessionToken"],
            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/check"}


reader, admin = assume("podreach-test"), assume("podreach-admin")
eks = boto3.client("eks", endpoint_url=URLS["eks"], region_name=REGION,
                   aws_access_key_id=reader["access_key_id"],
                   aws_secret_access_key=reader["secret_access_key"],
                   aws_session_token=reader["session_token"])
for name in ("shop", "plain"):
    eks.create_cluster(name=name, roleArn=f"arn:aws:iam::{ACCOUNT}:role/eks-cluster",
                       resourcesVpcConfig={"subnetIds": ["subnet-0a10e5f1c2d3b4a01"]})
arn = eks.describe_cluster(name="shop")["cluster"]["arn"]
check("moto created the cluster in the assumed account", arn ==
      f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/shop", arn)

# The cluster's objects ------------------------------------------------------------------------
aws_node = json.load(open(f"{REPO}/crates/core/demo/shop/aws-node.json"))
pods = json.load(open(f"{REPO}/crates/core/demo/shop/pods.json"))["items"]
extra = copy.deepcopy(next(p for p in pods if p["metadata"]["name"].startswith("web-")))
extra["metadata"]["name"] = "web-6b9f7c5d8-7hq4n"
extra["spec"]["nodeName"] = "ip-10-0-2-20.ec2.internal"
extra["status"].update(hostIP="10.0.2.20", podIP="10.0.2.31", podIPs=[{"ip": "10.0.2.31"}])
pods.append(extra)


def node(ip: str, zone: str, zone_id: str, instance: str) -> dict:
    name = f"ip-{ip.replace('.', '-')}.ec2.internal"
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {
            "beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/instance-type": "m5.large",
            "beta.kubernetes.io/os": "linux", "eks.amazonaws.com/capacityType": "ON_DEMAND",
            "eks.amazonaws.com/nodegroup": "default",
            "eks.amazonaws.com/nodegroup-image": "ami-0f3a9e8bdf5c2a1e4",
            "failure-domain.beta.kubernetes.io/region": REGION,
            "failure-domain.beta.kubernetes.io/zone": zone, "kubernetes.io/arch": "amd64",
            "kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
            "node.kubernetes.io/instance-type": "m5.large", "topology.k8s.aws/zone-id": zone_id,
            "topology.kubernetes.io/region": REGION, "topology.kubernetes.io/zone": zone},
            "annotations": {"alpha.kubernetes.io/provided-node-ip": ip,
                            "node.alpha.kubernetes.io/ttl": "0",
                            "volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
        "spec": {"providerID": f"aws:///{zone}/{instance}"},
        "status": {
            "addresses": [{"type": "InternalIP", "address": ip},
                          {"type": "InternalDNS", "address": name},
                          {"type": "Hostname", "address": name}],
            "allocatable": {"cpu": "1930m", "ephemeral-storage": "18242267924",
                            "memory": "7220184Ki", "pods": "29"},
            "capacity": {"cpu": "2", "ephemeral-storage": "20959212Ki", "memory": "7910360Ki",
                         "pods": "29"},
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                            "message": "kubelet is posting ready status",
                            "lastHeartbeatTime": "2026-01-05T08:00:00Z",
                            "lastTransitionTime": "2025-12-01T08:00:00Z"}],
            "nodeInfo": {"architecture": "amd64", "containerRuntimeVersion": "containerd://1.7.22",
                         "kernelVersion": "5.10.226-214.880.amzn2.x86_64",
                         "kubeProxyVersion": "v1.30.4-eks-a737599",
                         "kubeletVersion": "v1.30.4-eks-a737599", "operatingSystem": "linux",
                         "osImage": "Amazon Linux 2"}},
    }


nodes = [node("10.0.1.10", "us-east-1a", "use1-az4", "i-0123456789abcdef0"),
         node("10.0.2.20", "us-east-1b", "use1-az6", "i-0fedcba9876543210")]
eniconfigs = [{"apiVersion": "crd.k8s.amazonaws.com/v1alpha1", "kind": "ENIConfig",
               "metadata": {"name": zone},
               "spec": {"subnet": subnet, "securityGroups": ["sg-0a7d1e2f3a4b5c601"]}}
              for zone, subnet in (("us-east-1a", "subnet-0c1a2b3c4d5e6f701"),
                                   ("us-east-1b", "subnet-0c1a2b3c4d5e6f702"))]
RBAC_API = "rbac.authorization.k8s.io/v1"
rbac = [  # podreach's RBAC (see the brief / docs)
    {"apiVersion": RBAC_API, "kind": "ClusterRole", "metadata": {"name": "podreach-reader"},
     "rules": [{"apiGroups": [""], "resources": ["pods", "nodes"], "verbs": ["list"]},
               {"apiGroups": ["crd.k8s.amazonaws.com"], "resources": ["eniconfigs"],
                "verbs": ["list"]}]},
    {"apiVersion": RBAC_API, "kind": "Role",
     "metadata": {"name": "podreach-aws-node-reader", "namespace": "kube-system"},
     "rules": [{"apiGroups": ["apps"], "resources": ["daemonsets"],
                "resourceNames": ["aws-node"], "verbs": ["get"]}]},
    {"apiVersion": RBAC_API, "kind": "ClusterRoleBinding", "metadata": {"name": "podreach-reader"},
     "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                 "name": "podreach-reader"},
     "subjects": [{"kind": "Group", "name": "podreach-readers",
                   "apiGroup": "rbac.authorization.k8s.io"}]},
    {"apiVersion": RBAC_API, "kind": "RoleBinding",
     "metadata": {"name": "podreach-aws-node-reader", "namespace": "kube-system"},
     "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                 "name": "podreach-aws-node-reader"},
     "subjects": [{"kind": "Group", "name": "podreach-readers",
                   "apiGroup": "rbac.authorization.k8s.io"}]},
]
addon = {"addonName": "vpc-cni", "clusterName": "shop", "status": "ACTIVE",
         "addonVersion": "v1.18.3-eksbuild.2", "health": {"issues": []},
         "addonArn": f"arn:aws:eks:{REGION}:{ACCOUNT}:addon/shop/vpc-cni/5ec8a9e0",
         "createdAt": 1740910272.0, "modifiedAt": 1740910272.0, "tags": {}}
registration = {
    "arn": arn, "name": "shop", "authentication_mode": "API_AND_CONFIG_MAP",
    "endpoint_public_access": False, "endpoint_private_access": True,
    "credentials": [reader, admin],
    "access_entries": [
        {"principal_arn": f"arn:aws:iam::{ACCOUNT}:role/podreach-test",
         "kubernetes_groups": ["podreach-readers"]},
        {"principal_arn": f"arn:aws:iam::{ACCOUNT}:role/podreach-admin",
         "policies": ["AmazonEKSClusterAdminPolicy"]}],
    "rbac": rbac, "client_cert_users": True, "addon": addon,
    "objects": {"daemonsets": [aws_node], "pods": pods, "nodes": nodes,
                "eniconfigs": eniconfigs},
}
code, shop = control("POST", "/clusters", registration)
if not check("register the cluster", code == 200, json.dumps(shop)):
    sys.exit(1)

# The EKS proxy -----------------------------------------------------------------------------
described = eks.describe_cluster(name="shop")["cluster"]
check("DescribeCluster: endpoint is the fake API server", described["endpoint"] == shop["endpoint"],
      described["endpoint"])
check("DescribeCluster: certificateAuthority.data is its CA",
      described["certificateAuthority"]["data"] == shop["ca_data"] and
      base64.b64decode(shop["ca_data"]).startswith(b"-----BEGIN CERTIFICATE-----"))
check("DescribeCluster: accessConfig and endpoint access as registered",
      described.get("accessConfig") == {"authenticationMode": "API_AND_CONFIG_MAP",
                                        "bootstrapClusterCreatorAdminPermissions": False} and
      described["resourcesVpcConfig"].get("endpointPublicAccess") is False and
      described["resourcesVpcConfig"].get("endpointPrivateAccess") is True,
      json.dumps({k: described.get(k) for k in ("accessConfig", "resourcesVpcConfig")}))
plain = eks.describe_cluster(name="plain")["cluster"]
check("DescribeCluster of an unregistered cluster is moto's own",
      "127.0.0.1" not in plain["endpoint"] and "accessConfig" not in plain, plain["endpoint"])
got = eks.describe_addon(clusterName="shop", addonName="vpc-cni")["addon"]
check("DescribeAddon answers the registered add-on",
      got["addonVersion"] == "v1.18.3-eksbuild.2" and got["addonName"] == "vpc-cni", str(got))
try:
    eks.describe_addon(clusterName="shop", addonName="coredns")
    check("DescribeAddon of a missing add-on is ResourceNotFoundException", False, "no error")
except ClientError as err:
    check("DescribeAddon of a missing add-on is ResourceNotFoundException",
          err.response["Error"]["Code"] == "ResourceNotFoundException" and
          err.response["ResponseMetadata"]["HTTPStatusCode"] == 404 and
          err.response["Error"]["Message"] == "No addon: coredns found in cluster: shop",
          str(err.response["Error"]))

# kubeconfigs from DescribeCluster ---------------------------------------------------------
server, ca = described["endpoint"], described["certificateAuthority"]["data"]
token_kc = kubeconfig("token", server, ca, {"token": make_token(
    "shop", reader["access_key_id"], reader["secret_access_key"], reader["session_token"],
    expires=60)})
admin_kc = kubeconfig("admin", server, ca, {"token": make_token(
    "shop", admin["access_key_id"], admin["secret_access_key"], admin["session_token"],
    expires=60)})
cert_kc = kubeconfig("cert", server, ca, {
    "client-certificate": shop["client_cert"]["cert_pem_path"],
    "client-key": shop["client_cert"]["key_pem_path"]})
exec_kc = kubeconfig("exec", server, ca, {"exec": {
    "apiVersion": "client.authentication.k8s.io/v1beta1",
    "command": f"{REPO}/.venv/bin/python", "args": ["-m", "fake_kube.presign", "shop"],
    "env": [{"name": "PYTHONPATH", "value": f"{REPO}/tests/kube"},
            {"name": "AWS_ACCESS_KEY_ID", "value": reader["access_key_id"]},
            {"name": "AWS_SECRET_ACCESS_KEY", "value": reader["secret_access_key"]},
            {"name": "AWS_SESSION_TOKEN", "value": reader["session_token"]}]}})
other_kc = kubeconfig("other", server, ca, {"token": make_token(
    "shop-other", reader["access_key_id"], reader["secret_access_key"], reader["session_token"])})
# EKS's generated username of an access entry for a role: the caller's assumed-role ARN.
READER = f"arn:aws:sts::{ACCOUNT}:assumed-role/podreach-test/check"

# Reads ------------------------------------------------------------------------------------
rc, out, err = kubectl(token_kc, "version", "-o", "json")
check("kubectl version shows the EKS server version",
      rc == 0 and json.loads(out)["serverVersion"]["gitVersion"] == "v1.30.4-eks-a737599",
      err or out)

control("DELETE", "/clusters/shop/requests")
rc, out, err = kubectl(token_kc, "get", "pods", "-A", "--chunk-size=2", "-o", "json")
items = json.loads(out)["items"] if rc == 0 else []
want = sorted((p["metadata"]["namespace"], p["metadata"]["name"]) for p in pods)
check("get pods -A --chunk-size=2: every pod, in key order",
      [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in items] == want, err or out[:300])
check("get pods: kubectl prints kind/apiVersion on items (the server sends none)",
      items and all(i.get("kind") == "Pod" and i.get("apiVersion") == "v1" for i in items))
listing = [r for r in requests_of("shop") if r["path"] == "/api/v1/pods"]
chunked = [r for r in listing if r["query"].get("limit") == "2"]
continued = [r for r in chunked if r["query"].get("continue")]
check("the server saw 3 chunks of limit=2, two of them with continue",
      len(chunked) == 3 and len(continued) == 2 and all(r["status"] == 200 for r in chunked) and
      all(r["user"] == READER for r in chunked), json.dumps(listing))

rc, out, err = kubectl(token_kc, "get", "pods", "-A")
check("get pods -A (human output: asks for a Table, falls back to JSON)",
      rc == 0 and out.splitlines()[0].split()[:2] == ["NAMESPACE", "NAME"] and
      len(out.splitlines()) == len(pods) + 1, err or out)
rc, out, err = kubectl(token_kc, "get", "pods", "-A", "--field-selector",
                       "spec.nodeName=ip-10-0-2-20.ec2.internal", "-o", "json")
names = [i["metadata"]["name"] for i in json.loads(out)["items"]] if rc == 0 else err
check("get pods --field-selector spec.nodeName=X: only that node's pods",
      names == ["web-6b9f7c5d8-7hq4n"], str(names))
rc, out, err = kubectl(token_kc, "get", "pods", "-A", "--field-selector",
                       "spec.nodeName=ip-10-0-1-10.ec2.internal,status.phase=Running", "-o", "json")
check("get pods --field-selector nodeName,phase: the other node's five",
      rc == 0 and len(json.loads(out)["items"]) == 5, err)

rc, out, err = kubectl(token_kc, "get", "daemonset", "aws-node", "-n", "kube-system", "-o", "json")
ds = json.loads(out) if rc == 0 else {}
env = lambda d: d["spec"]["template"]["spec"]["containers"][0]["env"]  # noqa: E731
check("get daemonset aws-node: the registered object, with kind",
      rc == 0 and ds["kind"] == "DaemonSet" and env(ds) == env(aws_node), err)
rv_before = int(ds["metadata"]["resourceVersion"]) if ds else 0

rc, out, err = kubectl(token_kc, "get", "nodes", "-o", "json")
check("get nodes: both nodes",
      rc == 0 and [i["metadata"]["name"] for i in json.loads(out)["items"]] ==
      [n["metadata"]["name"] for n in nodes], err)
rc, out, err = kubectl(token_kc, "get", "eniconfigs", "-o", "json")
check("get eniconfigs: both ENIConfigs",
      rc == 0 and [i["metadata"]["name"] for i in json.loads(out)["items"]] ==
      ["us-east-1a", "us-east-1b"] and json.loads(out)["items"][0]["kind"] == "ENIConfig", err)

# Other credentials ------------------------------------------------------------------------
control("DELETE", "/clusters/shop/requests")
rc, out, err = kubectl(cert_kc, "get", "pods", "-A", "-o", "json")
users = {r["user"] for r in requests_of("shop")}
check("client certificate: pods listed as podreach-cert-user",
      rc == 0 and len(json.loads(out)["items"]) == len(pods) and users == {"podreach-cert-user"},
      err + str(users))
control("DELETE", "/clusters/shop/requests")
rc, out, err = kubectl(exec_kc, "get", "nodes", "-o", "json")
users = {r["user"] for r in requests_of("shop")}
check("exec credential plugin: nodes listed as the reader role",
      rc == 0 and len(json.loads(out)["items"]) == 2 and users == {READER}, err + str(users))
rc, out, err = kubectl(other_kc, "get", "pods", "-A")
check("a token signed for another cluster name is 401 Unauthorized",
      rc != 0 and "Unauthorized" in err, err)

# 403 ----------------------------------------------------------------------------------------
rc, out, err = kubectl(token_kc, "get", "secrets", "-A")
check("get secrets -A is Forbidden with kube-apiserver's message", rc != 0 and (
    f'Error from server (Forbidden): secrets is forbidden: User "{READER}" cannot list '
    'resource "secrets" in API group "" at the cluster scope') in err, err)
rc, out, err = kubectl(token_kc, "get", "daemonset", "kube-proxy", "-n", "kube-system")
check("get daemonset kube-proxy is Forbidden (resourceNames: [aws-node])", rc != 0 and (
    f'daemonsets.apps "kube-proxy" is forbidden: User "{READER}" cannot get resource '
    '"daemonsets" in API group "apps" in the namespace "kube-system"') in err, err)

# set env ------------------------------------------------------------------------------------
rc, out, err = kubectl(token_kc, "set", "env", "daemonset", "aws-node", "-n", "kube-system",
                       "AWS_VPC_CNI_NODE_PORT_SUPPORT=true")
check("set env as the reader is Forbidden (no patch verb)",
      rc != 0 and 'cannot patch resource "daemonsets"' in err, err)
control("DELETE", "/clusters/shop/requests")
rc, out, err = kubectl(admin_kc, "set", "env", "daemonset", "aws-node", "-n", "kube-system",
                       "AWS_VPC_CNI_NODE_PORT_SUPPORT=true")
patches = [r for r in requests_of("shop") if r["method"] == "PATCH"]
check("set env as the admin: one strategic merge PATCH, 200",
      rc == 0 and "env updated" in out and len(patches) == 1 and patches[0]["status"] == 200,
      err + json.dumps(patches))
rc, out, err = kubectl(token_kc, "get", "daemonset", "aws-node", "-n", "kube-system", "-o", "json")
after = json.loads(out) if rc == 0 else {}
values = {e["name"]: e.get("value") for e in env(after)} if after else {}
check("after set env: the new value, the other env kept in order",
      values.get("AWS_VPC_CNI_NODE_PORT_SUPPORT") == "true" and
      [e["name"] for e in env(after)] == [e["name"] for e in env(aws_node)], str(values))
check("after set env: higher resourceVersion, generation and template generation +1",
      after and int(after["metadata"]["resourceVersion"]) > rv_before and
      after["metadata"]["generation"] == ds["metadata"]["generation"] + 1 and
      after["metadata"]["annotations"]["deprecated.daemonset.template.generation"] == "4",
      json.dumps(after.get("metadata")))

# Faults -------------------------------------------------------------------------------------
control("POST", "/clusters/shop/faults", {"expire_next_continue": 1})
rc, out, err = kubectl(token_kc, "get", "pods", "-A", "--chunk-size=2", "-o", "json")
check("expire_next_continue: kubectl reports the 410 Expired",
      rc != 0 and "The provided continue parameter is too old" in err, err)
rc, out, err = kubectl(token_kc, "get", "--raw", "/api/v1/pods?limit=2")
token = json.loads(out)["metadata"]["continue"] if rc == 0 else ""
control("PUT", "/clusters/shop/objects", {"pods": pods})
rc, out, err = kubectl(token_kc, "get", "--raw", f"/api/v1/pods?limit=2&continue={token}")
check("a continue token from before the pods changed is 410 Expired",
      rc != 0 and "Error from server (Expired)" in err, err)
control("POST", "/clusters/shop/faults",
        {"status_once": {"path_prefix": "/api/v1/nodes", "code": 503}})
rc, out, err = kubectl(token_kc, "get", "nodes", "-o", "json")
rc2, out2, err2 = kubectl(token_kc, "get", "nodes", "-o", "json")
check("status_once 503: the first list fails, the next succeeds",
      rc != 0 and "ServiceUnavailable" in err and rc2 == 0, err + err2)

# The CRD goes away --------------------------------------------------------------------------
control("PUT", "/clusters/shop/objects", {"eniconfigs": None})
rc, out, err = kubectl(token_kc, "get", "eniconfigs", "-o", "json", cache="cache-fresh")
check("without the CRD, kubectl has no resource type eniconfigs",
      rc != 0 and 'the server doesn\'t have a resource type "eniconfigs"' in err, err)
rc, out, err = kubectl(token_kc, "get", "--raw",
                       "/apis/crd.k8s.amazonaws.com/v1alpha1/eniconfigs", cache="cache-fresh")
check("without the CRD, its list path is 404 NotFound",
      rc != 0 and "the server could not find the requested resource" in err, err)

# Scale: synthetic pods, gzip ----------------------------------------------------------------
big_nodes = [{"name": f"ip-10-1-{i}-5.ec2.internal", "host_ip": f"10.1.{i}.5",
              "pod_ips": [f"10.1.{i}.{10 + j}" for j in range(10)]} for i in range(60)]
code, big = control("POST", "/clusters", {
    "arn": f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/big", "credentials": [reader],
    "access_entries": registration["access_entries"][:1], "rbac": rbac,
    "synthetic_pods": {"nodes": big_nodes, "seed": 7}})
big_kc = kubeconfig("big", big["endpoint"], big["ca_data"], {"token": make_token(
    "big", reader["access_key_id"], reader["secret_access_key"], reader["session_token"])})
rc, out, err = kubectl(big_kc, "get", "pods", "-A", "--chunk-size=500", "-o", "json",
                       cache="cache-big")
items = json.loads(out)["items"] if rc == 0 else []
logged = [r for r in requests_of("big") if r["path"] == "/api/v1/pods"]
check("synthetic pods: 60 x 10 + 2 x 60 DaemonSet pods in two gzipped chunks",
      len(items) == 720 and len(logged) == 2 and all(r["gzip"] for r in logged) and
      len({(i["metadata"]["namespace"], i["metadata"]["name"]) for i in items}) == 720,
      f"{len(items)} items; {json.dumps(logged)[:400]}; {err}")
rc, out, err = kubectl(big_kc, "get", "pods", "-A", "--field-selector",
                       "spec.nodeName=ip-10-1-7-5.ec2.internal", "-o", "json", cache="cache-big")
mine = json.loads(out)["items"] if rc == 0 else []
check("synthetic pods by node: its 10 pods + aws-node + kube-proxy",
      len(mine) == 12 and {i["spec"]["nodeName"] for i in mine} == {"ip-10-1-7-5.ec2.internal"}
      and sum(i["spec"].get("hostNetwork", False) for i in mine) == 2, err)

# Endpoints that hang or refuse --------------------------------------------------------------
for mode, expect in (("hang", ("Timeout", "timeout", "deadline")), ("refuse", ("refused",))):
    code, c = control("POST", "/clusters", {
        "arn": f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/{mode}", "endpoint_mode": mode,
        "credentials": [reader], "access_entries": registration["access_entries"][:1]})
    kc = kubeconfig(mode, c["endpoint"], c["ca_data"], {"token": make_token(
        mode, reader["access_key_id"], reader["secret_access_key"], reader["session_token"])})
    started = time.monotonic()
    rc, out, err = kubectl(kc, "--request-timeout=3s", "get", "nodes", cache=f"cache-{mode}",
                           timeout=60)
    elapsed = time.monotonic() - started
    check(f"endpoint_mode {mode}: kubectl fails ({elapsed:.1f} s)",
          rc != 0 and any(e in err for e in expect), err)

failed = results.count(False)
print(f"{len(results) - failed} passed, {failed} failed")
sys.exit(1 if failed else 0)
PY
if [ "$status" -ne 0 ]; then
  echo "--- fake_kube log (last 40 lines) ---"
  tail -n 40 "$work/fake_kube.log"
fi
exit "$status"
