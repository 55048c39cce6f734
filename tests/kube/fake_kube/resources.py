"""The resource types the fake API server knows, and the discovery documents built from them.

One table drives everything: which object kinds the control API accepts, which paths are served,
which field selectors each type supports (the field labels of the real types' GetAttrs), and the
APIResourceList/APIGroupList documents kubectl and kube-rs read to map `kind` to a path.
"""

from __future__ import annotations

from dataclasses import dataclass

#: What `/version` says: an EKS 1.30 control plane (EKS reports the minor version with a `+`).
VERSION = {
    "major": "1", "minor": "30+", "gitVersion": "v1.30.4-eks-a737599",
    "gitCommit": "66d2d8f1bbc8b7b4a6a6b3b1c2c3d4e5f6a7b8c9", "gitTreeState": "clean",
    "buildDate": "2024-08-26T21:27:41Z", "goVersion": "go1.22.5", "compiler": "gc",
    "platform": "linux/amd64",
}

#: Every object supports these (storage.DefaultNamespaceScopedAttr / DefaultClusterScopedAttr).
NAMESPACED_FIELDS = ("metadata.name", "metadata.namespace")
CLUSTER_FIELDS = ("metadata.name",)

#: The field labels of a Pod (pkg/registry/core/pod/strategy.go, ToSelectableFields).
POD_FIELDS = NAMESPACED_FIELDS + (
    "spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
    "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName",
)

#: The verbs we list in discovery: what this server implements (watch is answered 400).
VERBS = ["get", "list", "patch", "watch"]


@dataclass(frozen=True)
class Resource:
    plural: str
    singular: str
    kind: str
    group: str
    version: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()
    #: A custom resource: served only while its CRD is installed; no strategic merge patch.
    custom: bool = False

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return self.kind + "List"

    @property
    def field_labels(self) -> tuple[str, ...]:
        base = NAMESPACED_FIELDS if self.namespaced else CLUSTER_FIELDS
        return base + tuple(f for f in self.fields if f not in base)

    def discovery_entry(self) -> dict:
        entry = {"name": self.plural, "singularName": self.singular,
                 "namespaced": self.namespaced, "kind": self.kind, "verbs": list(VERBS)}
        if self.short_names:
            entry["shortNames"] = list(self.short_names)
        if self.categories:
            entry["categories"] = list(self.categories)
        return entry


RESOURCES: tuple[Resource, ...] = (
    Resource("pods", "pod", "Pod", "", "v1", True, ("po",), ("all",), POD_FIELDS),
    Resource("nodes", "node", "Node", "", "v1", False, ("no",),
             fields=("spec.unschedulable",)),
    Resource("namespaces", "namespace", "Namespace", "", "v1", False, ("ns",),
             fields=("status.phase",)),
    Resource("configmaps", "configmap", "ConfigMap", "", "v1", True, ("cm",)),
    Resource("secrets", "secret", "Secret", "", "v1", True, fields=("type",)),
    Resource("services", "service", "Service", "", "v1", True, ("svc",), ("all",)),
    Resource("daemonsets", "daemonset", "DaemonSet", "apps", "v1", True, ("ds",), ("all",)),
    Resource("deployments", "deployment", "Deployment", "apps", "v1", True, ("deploy",),
             ("all",)),
    Resource("replicasets", "replicaset", "ReplicaSet", "apps", "v1", True, ("rs",), ("all",)),
    Resource("eniconfigs", "eniconfig", "ENIConfig", "crd.k8s.amazonaws.com", "v1alpha1", False,
             custom=True),
)

BY_PLURAL = {r.plural: r for r in RESOURCES}
#: The object kinds whose absence means "not installed" rather than "no objects".
OPTIONAL_KINDS = frozenset(r.plural for r in RESOURCES if r.custom)


def find(group: str, version: str, plural: str, installed: frozenset[str]) -> Resource | None:
    r = BY_PLURAL.get(plural)
    if r is None or r.group != group or r.version != version or r.plural not in installed:
        return None
    return r


def _group_versions(installed: frozenset[str]) -> dict[str, str]:
    """API group -> its one served version, for the groups that have an installed resource."""
    out: dict[str, str] = {}
    for r in RESOURCES:
        if r.group and r.plural in installed:
            out.setdefault(r.group, r.version)
    return out


def _group_doc(group: str, version: str) -> dict:
    gv = {"groupVersion": f"{group}/{version}", "version": version}
    return {"name": group, "versions": [gv], "preferredVersion": gv}


def discovery(path: str, installed: frozenset[str]) -> dict | None:
    """The discovery document at `path` (`/api`, `/apis`, `/api/v1`, `/apis/G`, `/apis/G/V`), or
    None when nothing is served there."""
    path = path.rstrip("/") or "/"
    if path == "/version":
        return dict(VERSION)
    if path == "/api":
        return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": "10.0.0.10:443"}]}
    groups = _group_versions(installed)
    if path == "/apis":
        return {"kind": "APIGroupList", "apiVersion": "v1",
                "groups": [_group_doc(g, v) for g, v in groups.items()]}
    if path == "/api/v1":
        return {"kind": "APIResourceList", "groupVersion": "v1", "resources": [
            r.discovery_entry() for r in RESOURCES if not r.group and r.plural in installed]}
    parts = path.split("/")[1:]
    if len(parts) == 2 and parts[0] == "apis" and parts[1] in groups:
        return {"kind": "APIGroup", "apiVersion": "v1", **_group_doc(parts[1], groups[parts[1]])}
    if len(parts) == 3 and parts[0] == "apis" and groups.get(parts[1]) == parts[2]:
        return {"kind": "APIResourceList", "apiVersion": "v1",
                "groupVersion": f"{parts[1]}/{parts[2]}",
                "resources": [r.discovery_entry() for r in RESOURCES
                              if r.group == parts[1] and r.plural in installed]}
    return None
