#!/usr/bin/env python3
"""The generated cluster's Kubernetes API, for the benchmarks: `tests/kube/fake_kube` in front of
`fake_aws.py`.

Why it exists: the functions and `podreach audit --live` read each cluster's Kubernetes API (the
aws-node DaemonSet, every pod, the Node objects, the ENIConfigs). To measure that at scale, the
scenario of `generate.py` (same --nodes/--routes/--seed) gets an API server: fake_kube serves it
over HTTPS with EKS's token check, and its EKS proxy forwards every EKS request to `fake_aws.py`,
answering `DescribeCluster` with the fake API's endpoint and CA. The cluster has
`PODS_PER_NODE` Running pods per node on the node's secondary addresses (a third on each of the
node's three ENIs, the rest of the addresses stay the CNI's warm pool), each a realistic API
object of about 6 KB (managedFields, containers, conditions: fake_kube's `synthetic_pods`),
plus an aws-node and a kube-proxy pod per node on the host network; the Node objects as the
kubelet registers them; the aws-node DaemonSet of the scenario's CNI (v1.11.4,
AWS_VPC_CNI_NODE_PORT_SUPPORT=false), no ENIConfig CRD.

Use: `start(fake_aws_port, nodes, routes, seed, workdir)` returns a `FakeKube` whose `eks` URL
goes in `AWS_ENDPOINT_URL_EKS`; `requests()` reads the API server's request log (calls, bytes).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import generate  # noqa: E402

PODS_PER_NODE = 30
ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
PRINCIPAL = f"arn:aws:iam::{generate.ACCOUNT}:user/podreach-bench"
ARN = f"arn:aws:eks:{generate.REGION}:{generate.ACCOUNT}:cluster/{generate.CLUSTER}"


def rbac() -> list:
    """infra/rbac.yaml's objects (its YAML is simple enough to need no parser: the tests read it
    with serde_yaml; here the same objects are written out)."""
    group = [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "podreach-readers"}]
    return [
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "podreach-reader"},
         "rules": [{"apiGroups": [""], "resources": ["pods", "nodes"], "verbs": ["list"]},
                   {"apiGroups": ["crd.k8s.amazonaws.com"], "resources": ["eniconfigs"], "verbs": ["list"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "podreach-reader"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "podreach-reader"}, "subjects": group},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
         "metadata": {"name": "podreach-aws-node-reader", "namespace": "kube-system"},
         "rules": [{"apiGroups": ["apps"], "resources": ["daemonsets"], "resourceNames": ["aws-node"], "verbs": ["get"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": {"name": "podreach-aws-node-reader", "namespace": "kube-system"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "podreach-aws-node-reader"}, "subjects": group},
    ]


def daemonset() -> dict:
    image = f"602401143452.dkr.ecr.{generate.REGION}.amazonaws.com/amazon-k8s-cni:{generate.CNI_ADDON_VERSION}"
    env = [{"name": k, "value": v} for k, v in [
        ("ADDITIONAL_ENI_TAGS", "{}"), ("AWS_VPC_CNI_NODE_PORT_SUPPORT", "false"), ("AWS_VPC_ENI_MTU", "9001"),
        ("AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG", "false"), ("AWS_VPC_K8S_CNI_EXTERNALSNAT", "false"),
        ("AWS_VPC_K8S_CNI_LOGLEVEL", "DEBUG"), ("AWS_VPC_K8S_CNI_RANDOMIZESNAT", "prng"),
        ("AWS_VPC_K8S_CNI_VETHPREFIX", "eni"), ("ENABLE_POD_ENI", "false"), ("ENABLE_PREFIX_DELEGATION", "false"),
        ("WARM_ENI_TARGET", "1"),
    ]] + [{"name": "MY_NODE_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "spec.nodeName"}}}]
    return {
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": "aws-node", "namespace": "kube-system", "labels": {"k8s-app": "aws-node"}},
        "spec": {"selector": {"matchLabels": {"k8s-app": "aws-node"}}, "template": {
            "metadata": {"labels": {"k8s-app": "aws-node"}},
            "spec": {"containers": [{"name": "aws-node", "image": image, "env": env}],
                     "initContainers": [{"name": "aws-vpc-cni-init", "image": image.replace("amazon-k8s-cni:", "amazon-k8s-cni-init:"),
                                         "env": [{"name": "DISABLE_TCP_EARLY_DEMUX", "value": "false"}]}],
                     "hostNetwork": True, "serviceAccountName": "aws-node"}}},
    }


def node_object(scenario, node) -> dict:
    primary = scenario.addresses[node.index * generate.ENIS_PER_NODE][0]
    name = generate.dns(primary)
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/instance-type": generate.INSTANCE_TYPE,
                "beta.kubernetes.io/os": "linux", "eks.amazonaws.com/capacityType": "ON_DEMAND",
                "eks.amazonaws.com/nodegroup": scenario.nodegroups[node.nodegroup]["name"],
                "kubernetes.io/arch": "amd64", "kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                "node.kubernetes.io/instance-type": generate.INSTANCE_TYPE,
                "topology.k8s.aws/zone-id": generate.AZ_IDS[node.az], "topology.kubernetes.io/region": generate.REGION,
                "topology.kubernetes.io/zone": node.az,
            },
            "annotations": {"alpha.kubernetes.io/provided-node-ip": generate.ip(primary),
                            "node.alpha.kubernetes.io/ttl": "0",
                            "volumes.kubernetes.io/controller-managed-attach-detach": "true"},
        },
        "spec": {"providerID": f"aws:///{node.az}/{node.instance_id}"},
        "status": {
            "addresses": [{"address": generate.ip(primary), "type": "InternalIP"},
                          {"address": name, "type": "InternalDNS"}, {"address": name, "type": "Hostname"}],
            "allocatable": {"cpu": "63770m", "ephemeral-storage": "95551679124", "memory": "249913828Ki", "pods": "737"},
            "capacity": {"cpu": "64", "ephemeral-storage": "104845292Ki", "memory": "258055652Ki", "pods": "737"},
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                            "message": "kubelet is posting ready status",
                            "lastHeartbeatTime": "2026-12-06T08:10:11Z", "lastTransitionTime": "2026-11-02T08:14:45Z"}],
            "nodeInfo": {"architecture": "amd64", "containerRuntimeVersion": "containerd://1.7.22",
                         "kernelVersion": "6.1.112-124.190.amzn2023.x86_64",
                         "kubeletVersion": "v1.30.4-eks-a737599", "operatingSystem": "linux",
                         "osImage": "Amazon Linux 2023.6.20241031"},
        },
    }


def registration(nodes: int, routes: int, seed: int) -> dict:
    scenario = generate.Scenario(nodes, routes, seed)
    per_eni = PODS_PER_NODE // generate.ENIS_PER_NODE
    synthetic = []
    for node in scenario.nodes:
        first = node.index * generate.ENIS_PER_NODE
        primary = scenario.addresses[first][0]
        ips = []
        for e in range(first, first + generate.ENIS_PER_NODE):
            ips.extend(generate.ip(a) for a in scenario.addresses[e][1 : 1 + per_eni])
        synthetic.append({"name": generate.dns(primary), "host_ip": generate.ip(primary), "pod_ips": ips})
    return {
        "arn": ARN,
        "name": generate.CLUSTER,
        "credentials": [{"access_key_id": ACCESS_KEY, "secret_access_key": SECRET_KEY, "arn": PRINCIPAL}],
        "access_entries": [{"principal_arn": PRINCIPAL, "kubernetes_groups": ["podreach-readers"]}],
        "rbac": rbac(),
        "objects": {"daemonsets": [daemonset()], "nodes": [node_object(scenario, n) for n in scenario.nodes]},
        "synthetic_pods": {"nodes": synthetic, "seed": seed},
    }


class FakeKube:
    def __init__(self, process, control: str, eks: str):
        self.process, self.control, self.eks = process, control, eks

    def call(self, method: str, path: str, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.control + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=600) as answer:
            return json.loads(answer.read() or b"null")

    def requests(self) -> list:
        return self.call("GET", "/clusters/" + urllib.request.quote(ARN, safe="") + "/requests")

    def clear(self) -> None:
        self.call("DELETE", "/clusters/" + urllib.request.quote(ARN, safe="") + "/requests")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)


def start(fake_aws_port: int, nodes: int, routes: int = 100, seed: int = 1) -> FakeKube:
    python = os.path.join(ROOT, ".venv", "bin", "python")
    if not os.path.exists(python):
        raise SystemExit(f"{python} is missing: run scripts/install-test-deps.sh")
    process = subprocess.Popen(
        [python, os.path.join(ROOT, "tests", "kube", "fake_kube"), "--moto", f"http://127.0.0.1:{fake_aws_port}",
         "--quiet", "--parent-pid", str(os.getpid())],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    urls = json.loads(process.stdout.readline())
    kube = FakeKube(process, urls["control"].rstrip("/"), urls["eks"].rstrip("/"))
    kube.call("POST", "/clusters", registration(nodes, routes, seed))
    return kube


def summary(requests: list) -> dict:
    """Calls and bytes on the wire of a request log, by path."""
    by_path: dict[str, dict] = {}
    for r in requests:
        entry = by_path.setdefault(r["path"], {"calls": 0, "bytes": 0})
        entry["calls"] += 1
        entry["bytes"] += r.get("bytes", 0)
    return {"calls": len(requests), "bytes": sum(r.get("bytes", 0) for r in requests), "by_path": by_path}
