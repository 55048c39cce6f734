"""Synthetic pods for benchmarks: a deterministic, lazily rendered pod list of any size.

`SyntheticPods({"nodes": [{"name", "host_ip", "pod_ips"}], "seed": N})` stands for one Running
pod per pod IP (spread over 40 namespaces x 20 Deployments, owned by a ReplicaSet
`<deployment>-<pod-template-hash>`) plus, per node, one `aws-node-xxxxx` and one
`kube-proxy-xxxxx` DaemonSet pod in kube-system (hostNetwork, podIP = the node's IP). Each pod is
rendered on demand from a per-Deployment template that reproduces a real EKS list item (~5-7 KB:
managedFields of kube-controller-manager and kubelet, projected service-account token volume,
tolerations, four conditions, containerStatuses, ...). What is kept is the input node list, a
permutation of pod ids and its inverse (two arrays of 4 bytes per pod) and one cache entry per
ReplicaSet, so 150,000 pods cost a few MB; every value of a pod derives from a hash of (seed, pod
id), so the list is the same on every run with the same seed.

Order: like etcd, pods are listed by key `<namespace>/<name>`; `order[position] = id` and
`position_of[id]` are the two compact arrays that give that order. Node-scoped lists
(`fieldSelector=spec.nodeName=X`) use the node's own ids instead of scanning.
"""

from __future__ import annotations

import bisect
import hashlib
import ipaddress
import json
import re
import time
from array import array

from .resources import BY_PLURAL

PODS = BY_PLURAL["pods"]
NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # k8s.io/apimachinery rand.SafeEncodeString
NODE_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
#: Every timestamp is this instant minus a per-object offset, so the output is reproducible.
EPOCH = 1767600000  # 2026-01-05T08:00:00Z

NAMESPACES = (
    "accounts", "analytics", "auth", "backoffice", "billing", "cart", "catalog", "cdn-origin",
    "chat", "checkout", "crm", "data-export", "email", "etl", "feature-store", "fraud", "gateway",
    "graphql", "ingest", "inventory", "ledger", "loyalty", "media", "ml-serving",
    "notifications", "observability", "orders", "partners", "payments", "pricing", "promotions",
    "recommendations", "reporting", "reviews", "risk", "search", "shipping", "sms", "support",
    "tax",
)
DEPLOYMENTS = (
    "api", "web", "worker", "scheduler", "consumer", "producer", "cache-warmer", "grpc-gateway",
    "admin", "webhook", "indexer", "sync", "exporter", "reconciler", "notifier", "frontend",
    "backend", "batch-runner", "ingestor", "controller",
)


def _ts(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


_WORD_TABLE = bytes(ord(NAME_ALPHABET[b % len(NAME_ALPHABET)]) for b in range(256))


def _word(digest: bytes, start: int, length: int = 5) -> str:
    """`length` name characters drawn from the digest's bytes at `start`."""
    return digest[start:start + length].translate(_WORD_TABLE).decode("ascii")


def _uid(digest: bytes) -> str:
    h = digest[:16].hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[digest[8] % 4]}{h[17:20]}-{h[20:32]}"


def _f(*names: str) -> dict:
    """A fieldsV1 set: {"f:a": {}, ...} with the "." marker of a map that has members."""
    return {".": {}, **{f"f:{n}": {} for n in names}}


def _compile(shape: dict) -> str:
    """json.dumps of a shape whose strings carry `@@name@@` markers -> a str.format template."""
    text = json.dumps(shape, separators=(",", ":"))
    text = text.replace("{", "{{").replace("}", "}}")
    return re.sub(r"@@(\w+)@@", r"{\1}", text)


def _token_volume() -> tuple[dict, dict]:
    volume = {"name": "@@token_volume@@", "projected": {"sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {
            "apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}], "defaultMode": 420}}
    mount = {"name": "@@token_volume@@", "readOnly": True,
             "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}
    return volume, mount


def _conditions() -> list[dict]:
    return [{"type": t, "status": "True", "lastProbeTime": None,
             "lastTransitionTime": "@@" + when + "@@"}
            for t, when in (("Initialized", "start_time"), ("Ready", "ready_time"),
                            ("ContainersReady", "ready_time"), ("PodScheduled", "created"))]


def _status_fields(pod_ip_key: str) -> dict:
    cond = {f'k:{{"type":"{t}"}}': _f("lastProbeTime", "lastTransitionTime", "status", "type")
            for t in ("ContainersReady", "Initialized", "Ready")}
    return {"f:status": {"f:conditions": cond, "f:containerStatuses": {}, "f:hostIP": {},
                         "f:hostIPs": {}, "f:phase": {}, "f:podIP": {},
                         "f:podIPs": {".": {}, f'k:{{"ip":"{pod_ip_key}"}}': _f("ip")},
                         "f:startTime": {}}}


def _container_fields(container: dict) -> dict:
    fields = _f("image", "imagePullPolicy", "name", "resources", "terminationMessagePath",
                "terminationMessagePolicy")
    if container.get("env"):
        fields["f:env"] = {".": {}, **{f'k:{{"name":"{e["name"]}"}}':
                                       ({**_f("name"), "f:valueFrom": _f("fieldRef")}
                                        if "valueFrom" in e else _f("name", "value"))
                                       for e in container["env"]}}
    if container.get("ports"):
        fields["f:ports"] = {".": {}, **{
            f'k:{{"containerPort":{p["containerPort"]},"protocol":"TCP"}}':
                _f("containerPort", "name", "protocol") for p in container["ports"]}}
    fields["f:resources"] = {".": {}, "f:limits": _f("memory"), "f:requests": _f("cpu", "memory")}
    return fields


def _container_status(container: dict, cid: str) -> dict:
    return {"name": container["name"], "state": {"running": {"startedAt": "@@started_at@@"}},
            "lastState": {}, "ready": True, "restartCount": 0, "image": container["image"],
            "imageID": container["image"].split(":")[0] + "@sha256:@@image_digest@@",
            "containerID": "containerd://@@" + cid + "@@", "started": True}


def _pod_shape(metadata: dict, spec: dict, containers: list[dict], owner: dict,
               owner_fields: dict, qos: str) -> dict:
    """Assemble a list item (no kind/apiVersion) around the given metadata and spec parts."""
    metadata["ownerReferences"] = [owner]
    metadata["managedFields"] = [
        {"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "v1",
         "time": "@@created@@", "fieldsType": "FieldsV1", "fieldsV1": {
             "f:metadata": owner_fields, "f:spec": {
                 "f:containers": {f'k:{{"name":"{c["name"]}"}}': _container_fields(c)
                                  for c in containers},
                 "f:dnsPolicy": {}, "f:enableServiceLinks": {}, "f:restartPolicy": {},
                 "f:schedulerName": {}, "f:securityContext": {}, "f:serviceAccount": {},
                 "f:serviceAccountName": {}, "f:terminationGracePeriodSeconds": {}}}},
        {"manager": "kubelet", "operation": "Update", "apiVersion": "v1", "time": "@@ready_time@@",
         "fieldsType": "FieldsV1", "fieldsV1": _status_fields("@@pod_ip@@"),
         "subresource": "status"},
    ]
    return {
        "metadata": metadata,
        "spec": {"volumes": spec["volumes"], "containers": containers,
                 **{k: v for k, v in spec.items() if k != "volumes"}},
        "status": {
            "phase": "Running", "conditions": _conditions(), "hostIP": "@@host_ip@@",
            "hostIPs": [{"ip": "@@host_ip@@"}], "podIP": "@@pod_ip@@",
            "podIPs": [{"ip": "@@pod_ip@@"}], "startTime": "@@start_time@@",
            "containerStatuses": [_container_status(c, f"cid{n}")
                                  for n, c in enumerate(containers)],
            "qosClass": qos},
    }


def _spec_common(service_account: str, host_network: bool) -> dict:
    volume, _ = _token_volume()
    spec = {"volumes": [volume], "restartPolicy": "Always", "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst", "serviceAccountName": service_account,
            "serviceAccount": service_account, "nodeName": "@@node@@", "securityContext": {},
            "schedulerName": "default-scheduler", "tolerations": [
                {"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                 "effect": "NoExecute", "tolerationSeconds": 300},
                {"key": "node.kubernetes.io/unreachable", "operator": "Exists",
                 "effect": "NoExecute", "tolerationSeconds": 300}],
            "priority": 0, "enableServiceLinks": True,
            "preemptionPolicy": "PreemptLowerPriority"}
    if host_network:
        spec["hostNetwork"] = True
        spec["dnsPolicy"] = "ClusterFirstWithHostNet"
    return spec


def _metadata(labels: dict, annotations: dict | None = None) -> dict:
    meta = {"name": "@@name@@", "generateName": "@@generate_name@@", "namespace": "@@namespace@@",
            "uid": "@@uid@@", "resourceVersion": "@@rv@@", "creationTimestamp": "@@created@@",
            "labels": labels}
    if annotations:
        meta["annotations"] = annotations
    return meta


def deployment_template(d: int, region: str) -> str:
    name = DEPLOYMENTS[d]
    _, mount = _token_volume()
    port = 8080 + d
    app = {"name": name,
           "image": f"111122223333.dkr.ecr.{region}.amazonaws.com/@@namespace@@/{name}:@@tag@@",
           "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}],
           "env": [{"name": "LOG_LEVEL", "value": "info"}, {"name": "PORT", "value": str(port)},
                   {"name": "SERVICE_NAME", "value": name},
                   {"name": "AWS_REGION", "value": region},
                   {"name": "POD_IP", "valueFrom": {"fieldRef": {
                       "apiVersion": "v1", "fieldPath": "status.podIP"}}}],
           "resources": {"limits": {"memory": f"{256 << (d % 3)}Mi"},
                         "requests": {"cpu": f"{100 + 50 * (d % 4)}m",
                                      "memory": f"{128 << (d % 3)}Mi"}},
           "volumeMounts": [mount], "terminationMessagePath": "/dev/termination-log",
           "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent"}
    containers = [app]
    if d % 3 == 0:
        containers.append({
            "name": "envoy", "image": "public.ecr.aws/appmesh/aws-appmesh-envoy:v1.29.6.0-prod",
            "ports": [{"name": "admin", "containerPort": 9901, "protocol": "TCP"}],
            "env": [{"name": "APPMESH_VIRTUAL_NODE_NAME", "value": f"mesh/@@namespace@@/{name}"},
                    {"name": "ENVOY_LOG_LEVEL", "value": "warn"},
                    {"name": "AWS_REGION", "value": region},
                    {"name": "ENABLE_ENVOY_STATS_TAGS", "value": "1"},
                    {"name": "POD_IP", "valueFrom": {"fieldRef": {
                        "apiVersion": "v1", "fieldPath": "status.podIP"}}}],
            "resources": {"limits": {"memory": "128Mi"},
                          "requests": {"cpu": "10m", "memory": "32Mi"}},
            "volumeMounts": [mount], "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent"})
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": f"{name}",
              "app.kubernetes.io/part-of": "@@namespace@@", "pod-template-hash": "@@hash@@"}
    owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "@@owner@@",
             "uid": "@@owner_uid@@", "controller": True, "blockOwnerDeletion": True}
    owner_fields = {"f:generateName": {}, "f:labels": _f(*labels),
                    "f:ownerReferences": {".": {}, 'k:{"uid":"@@owner_uid@@"}': {}}}
    return _compile(_pod_shape(
        _metadata(labels, {"prometheus.io/scrape": "true", "prometheus.io/port": str(port)}),
        _spec_common(name, False), containers, owner, owner_fields, "Burstable"))


def daemon_template(kind: str, region: str) -> str:
    _, mount = _token_volume()
    ecr = f"602401143452.dkr.ecr.{region}.amazonaws.com"
    if kind == "aws-node":
        containers = [
            {"name": "aws-node", "image": f"{ecr}/amazon-k8s-cni:v1.18.3-eksbuild.2",
             "ports": [{"name": "metrics", "containerPort": 61678, "protocol": "TCP"}],
             "env": [{"name": "ADDITIONAL_ENI_TAGS", "value": "{}"},
                     {"name": "AWS_VPC_K8S_CNI_LOGLEVEL", "value": "DEBUG"},
                     {"name": "ENABLE_PREFIX_DELEGATION", "value": "false"},
                     {"name": "WARM_ENI_TARGET", "value": "1"},
                     {"name": "MY_NODE_NAME", "valueFrom": {"fieldRef": {
                         "apiVersion": "v1", "fieldPath": "spec.nodeName"}}}],
             "resources": {"limits": {"memory": "256Mi"},
                           "requests": {"cpu": "25m", "memory": "64Mi"}},
             "volumeMounts": [mount], "terminationMessagePath": "/dev/termination-log",
             "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent"},
            {"name": "aws-eks-nodeagent", "image": f"{ecr}/amazon/aws-network-policy-agent:"
                                                   "v1.1.2-eksbuild.1",
             "env": [{"name": "MY_NODE_NAME", "valueFrom": {"fieldRef": {
                 "apiVersion": "v1", "fieldPath": "spec.nodeName"}}}],
             "resources": {"limits": {"memory": "128Mi"},
                           "requests": {"cpu": "25m", "memory": "32Mi"}},
             "volumeMounts": [mount], "terminationMessagePath": "/dev/termination-log",
             "terminationMessagePolicy": "File", "imagePullPolicy": "Always"}]
    else:
        containers = [
            {"name": "kube-proxy", "image": f"{ecr}/eks/kube-proxy:v1.30.3-minimal-eksbuild.5",
             "command": ["kube-proxy", "--v=2", "--config=/var/lib/kube-proxy-config/config",
                         "--hostname-override=$(NODE_NAME)"],
             "env": [{"name": "NODE_NAME", "valueFrom": {"fieldRef": {
                 "apiVersion": "v1", "fieldPath": "spec.nodeName"}}}],
             "resources": {"limits": {"memory": "128Mi"},
                           "requests": {"cpu": "100m", "memory": "64Mi"}},
             "volumeMounts": [mount], "terminationMessagePath": "/dev/termination-log",
             "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent"}]
    labels = {"controller-revision-hash": "@@hash@@", "k8s-app": kind,
              "pod-template-generation": "1"}
    owner = {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": kind,
             "uid": "@@owner_uid@@", "controller": True, "blockOwnerDeletion": True}
    owner_fields = {"f:generateName": {}, "f:labels": _f(*labels),
                    "f:ownerReferences": {".": {}, 'k:{"uid":"@@owner_uid@@"}': {}}}
    spec = _spec_common(kind, True)
    spec["priorityClassName"] = "system-node-critical"
    spec["priority"] = 2000001000
    spec["tolerations"] = [{"operator": "Exists"}]
    spec["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchFields": [
            {"key": "metadata.name", "operator": "In", "values": ["@@node@@"]}]}]}}}
    return _compile(_pod_shape(_metadata(labels), spec, containers, owner, owner_fields,
                               "Burstable"))


class SyntheticPods:
    """The pod table of a cluster registered with `synthetic_pods` (read-only)."""

    resource = PODS

    def __init__(self, spec: dict, allocate_revisions):
        """`allocate_revisions(n)` reserves n revisions (one per pod and one for the change)."""
        self.seed, self.nodes = self._validate(spec)
        self.node_index = {n["name"]: i for i, n in enumerate(self.nodes)}
        self.starts = array("I", [0])  # regular pod ids of node i: starts[i] .. starts[i+1]-1
        for node in self.nodes:
            self.starts.append(self.starts[-1] + len(node["pod_ips"]))
        self.regular = self.starts[-1]
        self._count = self.regular + 2 * len(self.nodes)
        self.first_rv = allocate_revisions(self._count + 1)
        self.changed_rv = self.first_rv + self._count  # the revision of the replacement itself
        first = self.nodes[0]["name"] if self.nodes else ""
        m = re.search(r"\.([a-z]{2}(?:-[a-z]+)+-\d)\.compute\.internal$", first)
        self.region = m.group(1) if m else "us-east-1"
        self.templates = [deployment_template(d, self.region) for d in range(len(DEPLOYMENTS))]
        self.daemon_templates = {k: daemon_template(k, self.region)
                                 for k in ("aws-node", "kube-proxy")}
        self.salt: dict[int, int] = {}  # ids whose first name collided with another pod's
        self._owners: dict[tuple[str, int], dict[str, str]] = {}  # per ReplicaSet/DaemonSet
        keys = self._all_keys()
        self.order = array("I", sorted(range(self._count), key=keys.__getitem__))
        self.position_of = array("I", bytes(4 * self._count))
        for position, pod_id in enumerate(self.order):
            self.position_of[pod_id] = position

    # Input -------------------------------------------------------------------------------

    @staticmethod
    def _validate(spec) -> tuple[int, list[dict]]:
        if not isinstance(spec, dict) or set(spec) - {"nodes", "seed"}:
            raise ValueError("synthetic_pods must be {\"nodes\": [...], \"seed\": N}")
        seed = spec.get("seed", 1)
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise ValueError("synthetic_pods.seed must be an integer")
        nodes = spec.get("nodes")
        if not isinstance(nodes, list):
            raise ValueError("synthetic_pods.nodes must be a list")
        seen = set()
        for i, node in enumerate(nodes):
            where = f"synthetic_pods.nodes[{i}]"
            if not isinstance(node, dict) or set(node) != {"name", "host_ip", "pod_ips"}:
                raise ValueError(f"{where} must have exactly name, host_ip and pod_ips")
            if not isinstance(node["name"], str) or not NODE_NAME.fullmatch(node["name"]):
                raise ValueError(f"{where}.name {node['name']!r} is not a DNS subdomain")
            if node["name"] in seen:
                raise ValueError(f"{where}.name {node['name']!r} is given twice")
            seen.add(node["name"])
            if not isinstance(node["pod_ips"], list):
                raise ValueError(f"{where}.pod_ips must be a list")
            for ip in [node["host_ip"], *node["pod_ips"]]:
                try:
                    if not isinstance(ip, str):
                        raise TypeError(ip)
                    ipaddress.ip_address(ip)
                except (ValueError, TypeError):
                    raise ValueError(f"{where}: {ip!r} is not an IP address") from None
        return seed, nodes

    # Identity of a pod id -----------------------------------------------------------------

    def count(self) -> int:
        return self._count

    def _digest(self, pod_id: int, salt: int = 0) -> bytes:
        return hashlib.blake2b(f"{self.seed}/{pod_id}/{salt}".encode(), digest_size=32).digest()

    def _ident(self, pod_id: int) -> tuple[str, str, int, bytes]:
        """(namespace, name, deployment index or -1/-2 for aws-node/kube-proxy, digest)."""
        digest = self._digest(pod_id, self.salt.get(pod_id, 0))
        if pod_id >= self.regular:
            kind = "aws-node" if (pod_id - self.regular) % 2 == 0 else "kube-proxy"
            return "kube-system", f"{kind}-{_word(digest, 16)}", -1 - (pod_id - self.regular) % 2, \
                digest
        namespace = NAMESPACES[int.from_bytes(digest[21:23], "big") % len(NAMESPACES)]
        d = int.from_bytes(digest[23:25], "big") % len(DEPLOYMENTS)
        return namespace, f"{DEPLOYMENTS[d]}-{self._rs_hash(namespace, d)}-{_word(digest, 16)}", \
            d, digest

    def _rs_hash(self, namespace: str, d: int) -> str:
        return self._owner(namespace, d)["hash"]

    def _owner(self, namespace: str, d: int) -> dict[str, str]:
        """The template values of a pod's owner: its ReplicaSet (d >= 0) in `namespace`, or the
        aws-node (d = -1) or kube-proxy (d = -2) DaemonSet. Computed once per owner."""
        values = self._owners.get((namespace, d))
        if values is not None:
            return values
        if d < 0:
            kind = "aws-node" if d == -1 else "kube-proxy"
            name_digest = hashlib.blake2b(f"{self.seed}/ds/{kind}".encode(),
                                          digest_size=16).digest()
            uid_digest = hashlib.blake2b(f"{self.seed}/ds-uid/{kind}".encode(),
                                         digest_size=16).digest()
            values = {"hash": _word(name_digest, 0, 10), "owner": kind,
                      "owner_uid": _uid(uid_digest),
                      "image_digest": hashlib.sha256(kind.encode()).hexdigest()}
        else:
            name_digest = hashlib.blake2b(f"{self.seed}/rs/{namespace}/{d}".encode(),
                                          digest_size=16).digest()
            rs = hashlib.blake2b(f"{self.seed}/rs-uid/{namespace}/{d}".encode(),
                                 digest_size=16).digest()
            rs_hash = _word(name_digest, 0, 10)
            values = {"hash": rs_hash, "owner": f"{DEPLOYMENTS[d]}-{rs_hash}",
                      "owner_uid": _uid(rs), "tag": f"v1.{rs[0] % 40}.{rs[1] % 10}",
                      "image_digest": hashlib.sha256(rs).hexdigest()}
        self._owners[(namespace, d)] = values
        return values

    def _all_keys(self) -> list[str]:
        keys, seen = [], set()
        for pod_id in range(self._count):
            while True:
                namespace, name, _, _ = self._ident(pod_id)
                key = f"{namespace}/{name}"
                if key not in seen:
                    break
                self.salt[pod_id] = self.salt.get(pod_id, 0) + 1
            seen.add(key)
            keys.append(key)
        return keys

    def _node_of(self, pod_id: int) -> tuple[int, int]:
        """(node index, pod IP index or -1 for a DaemonSet pod)."""
        if pod_id >= self.regular:
            return (pod_id - self.regular) // 2, -1
        node = bisect.bisect_right(self.starts, pod_id) - 1
        return node, pod_id - self.starts[node]

    # The table interface (see store.StoredTable) -------------------------------------------

    def key_at(self, position: int) -> str:
        namespace, name, _, _ = self._ident(self.order[position])
        return f"{namespace}/{name}"

    def ns_range(self, namespace: str) -> tuple[int, int]:
        positions = range(self._count)
        lo = bisect.bisect_left(positions, namespace + "/", key=self.key_at)
        hi = bisect.bisect_left(positions, namespace + "0", key=self.key_at)  # "0" follows "/"
        return lo, hi

    def find(self, namespace: str, name: str) -> int | None:
        key = f"{namespace}/{name}"
        positions = range(self._count)
        position = bisect.bisect_left(positions, key, key=self.key_at)
        if position < self._count and self.key_at(position) == key:
            return position
        return None

    def candidates(self, lo: int, hi: int, field_selector):
        node_name = field_selector.exact("spec.nodeName") if field_selector else None
        if node_name is None:
            return iter(range(lo, hi))
        node = self.node_index.get(node_name)
        if node is None:
            return iter(())
        ids = list(range(self.starts[node], self.starts[node + 1]))
        ids += [self.regular + 2 * node, self.regular + 2 * node + 1]
        return iter(sorted(p for p in (self.position_of[i] for i in ids) if lo <= p < hi))

    def fields_at(self, position: int) -> dict[str, str]:
        pod_id = self.order[position]
        namespace, name, d, _ = self._ident(pod_id)
        node, ip = self._node_of(pod_id)
        node_doc = self.nodes[node]
        daemon = d < 0
        return {"metadata.name": name, "metadata.namespace": namespace,
                "spec.nodeName": node_doc["name"], "spec.restartPolicy": "Always",
                "spec.schedulerName": "default-scheduler",
                "spec.serviceAccountName": ("aws-node" if d == -1 else "kube-proxy") if daemon
                else DEPLOYMENTS[d],
                "spec.hostNetwork": "true" if daemon else "false", "status.phase": "Running",
                "status.podIP": node_doc["host_ip"] if daemon else node_doc["pod_ips"][ip],
                "status.nominatedNodeName": ""}

    def labels_at(self, position: int) -> dict[str, str]:
        namespace, _, d, _ = self._ident(self.order[position])
        if d < 0:
            kind = "aws-node" if d == -1 else "kube-proxy"
            return {"controller-revision-hash": self._daemon_hash(kind), "k8s-app": kind,
                    "pod-template-generation": "1"}
        name = DEPLOYMENTS[d]
        return {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": name,
                "app.kubernetes.io/part-of": namespace,
                "pod-template-hash": self._rs_hash(namespace, d)}

    def _daemon_hash(self, kind: str) -> str:
        return self._owner("kube-system", -1 if kind == "aws-node" else -2)["hash"]

    def item_json(self, position: int) -> str:
        pod_id = self.order[position]
        namespace, name, d, digest = self._ident(pod_id)
        node, ip = self._node_of(pod_id)
        node_doc = self.nodes[node]
        created = EPOCH - int.from_bytes(digest[25:28], "big") % (30 * 86400)
        containers = hashlib.sha256(digest).hexdigest()
        values = {
            "name": name, "generate_name": name[:-5], "namespace": namespace,
            "uid": _uid(digest), "rv": str(self.first_rv + pod_id),
            "created": _ts(created), "start_time": _ts(created + 1),
            "started_at": _ts(created + 3 + digest[28] % 6),
            "ready_time": _ts(created + 10 + digest[29] % 20),
            "node": node_doc["name"], "host_ip": node_doc["host_ip"],
            "token_volume": "kube-api-access-" + _word(digest, 26),
            "cid0": containers, "cid1": hashlib.sha256(containers.encode()).hexdigest(),
        }
        values.update(self._owner(namespace, d))
        if d < 0:
            values["pod_ip"] = node_doc["host_ip"]
            return self.daemon_templates[values["owner"]].format_map(values)
        values["pod_ip"] = node_doc["pod_ips"][ip]
        return self.templates[d].format_map(values)

    def object_json(self, position: int) -> str:
        return '{"kind":"Pod","apiVersion":"v1",' + self.item_json(position)[1:]
