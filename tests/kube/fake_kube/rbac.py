"""Authorisation: Kubernetes RBAC (rbac.authorization.k8s.io/v1) plus EKS access policies.

Rules are evaluated as the RBAC authorizer does (plugin/pkg/auth/authorizer/rbac): a request is
allowed when any rule of any role bound to the user (by a ClusterRoleBinding, or by a RoleBinding
in the request's namespace) matches its verb, API group, resource[/subresource] and, when the rule
lists resourceNames, its object name. Non-resource paths match `nonResourceURLs` (exact, or a
prefix ending in `*`). Built in, as on every cluster: `system:masters` may do anything, and every
authenticated user may GET the discovery paths (ClusterRoles system:discovery,
system:public-info-viewer).
"""

from __future__ import annotations

from dataclasses import dataclass

from .auth import AUTHENTICATED, User

RBAC_API_VERSION = "rbac.authorization.k8s.io/v1"


@dataclass(frozen=True)
class Attributes:
    """authorizer.Attributes of one request (see kube.request_info)."""
    verb: str
    path: str
    is_resource: bool
    group: str = ""
    version: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""


@dataclass(frozen=True)
class Rule:
    verbs: tuple[str, ...]
    api_groups: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    resource_names: tuple[str, ...] = ()
    non_resource_urls: tuple[str, ...] = ()

    def allows(self, a: Attributes) -> bool:
        if "*" not in self.verbs and a.verb not in self.verbs:
            return False
        if not a.is_resource:
            return any(u == "*" or u == a.path or (u.endswith("*") and a.path.startswith(u[:-1]))
                       for u in self.non_resource_urls)
        if "*" not in self.api_groups and a.group not in self.api_groups:
            return False
        combined = f"{a.resource}/{a.subresource}" if a.subresource else a.resource
        if not any(r in ("*", combined) or (a.subresource and r == "*/" + a.subresource)
                   for r in self.resources):
            return False
        return not self.resource_names or (bool(a.name) and a.name in self.resource_names)


_READ = ("get", "list", "watch")
#: EKS access policies by name, transcribed from the EKS User Guide's "Review access policy
#: permissions" (access-policy-reference.adoc). AmazonEKSViewPolicy is the Kubernetes `view`
#: role: no nodes (cluster-scoped), no secrets, and no custom resources such as ENIConfig.
ACCESS_POLICIES: dict[str, tuple[Rule, ...]] = {
    "AmazonEKSClusterAdminPolicy": (
        Rule(("*",), ("*",), ("*",)),
        Rule(("*",), non_resource_urls=("*",)),
    ),
    "AmazonEKSAdminViewPolicy": (Rule(_READ, ("*",), ("*",)),),
    "AmazonEKSSecretReaderPolicy": (Rule(_READ, ("",), ("secrets",)),),
    "AmazonEKSViewPolicy": (
        Rule(_READ, ("apps",), (
            "controllerrevisions", "daemonsets", "daemonsets/status", "deployments",
            "deployments/scale", "deployments/status", "replicasets", "replicasets/scale",
            "replicasets/status", "statefulsets", "statefulsets/scale", "statefulsets/status")),
        Rule(_READ, ("autoscaling",), ("horizontalpodautoscalers",
                                       "horizontalpodautoscalers/status")),
        Rule(_READ, ("batch",), ("cronjobs", "cronjobs/status", "jobs", "jobs/status")),
        Rule(_READ, ("discovery.k8s.io",), ("endpointslices",)),
        Rule(_READ, ("extensions",), (
            "daemonsets", "daemonsets/status", "deployments", "deployments/scale",
            "deployments/status", "ingresses", "ingresses/status", "networkpolicies",
            "replicasets", "replicasets/scale", "replicasets/status",
            "replicationcontrollers/scale")),
        Rule(_READ, ("networking.k8s.io",), ("ingresses", "ingresses/status", "networkpolicies")),
        Rule(_READ, ("policy",), ("poddisruptionbudgets", "poddisruptionbudgets/status")),
        Rule(_READ, ("",), (
            "configmaps", "endpoints", "persistentvolumeclaims", "persistentvolumeclaims/status",
            "pods", "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts",
            "services", "services/status")),
        Rule(_READ, ("",), (
            "bindings", "events", "limitranges", "namespaces/status", "pods/log", "pods/status",
            "replicationcontrollers/status", "resourcequotas", "resourcequotas/status")),
        Rule(_READ, ("",), ("namespaces",)),
    ),
}

#: system:discovery + system:public-info-viewer + system:basic-user's non-resource part.
DISCOVERY_RULE = Rule(("get",), non_resource_urls=(
    "/api", "/api/*", "/apis", "/apis/*", "/version", "/version/", "/healthz", "/livez",
    "/readyz", "/openapi", "/openapi/*"))


def policy_name(policy: str) -> str:
    """`AmazonEKSViewPolicy` or its ARN `arn:aws:eks::aws:cluster-access-policy/...`."""
    return policy.rsplit("/", 1)[-1]


def _strings(value, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{what} must be a list of strings")
    return tuple(value)


def _rule(raw, where: str, cluster_scoped: bool) -> Rule:
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: a rule must be an object")
    unknown = set(raw) - {"verbs", "apiGroups", "resources", "resourceNames", "nonResourceURLs"}
    if unknown:
        raise ValueError(f"{where}: unknown rule fields {sorted(unknown)}")
    rule = Rule(_strings(raw.get("verbs"), f"{where}.verbs"),
                _strings(raw.get("apiGroups"), f"{where}.apiGroups"),
                _strings(raw.get("resources"), f"{where}.resources"),
                _strings(raw.get("resourceNames"), f"{where}.resourceNames"),
                _strings(raw.get("nonResourceURLs"), f"{where}.nonResourceURLs"))
    if not rule.verbs:
        raise ValueError(f"{where}: verbs must not be empty")
    if rule.non_resource_urls:
        if not cluster_scoped:
            raise ValueError(f"{where}: nonResourceURLs are only valid in a ClusterRole")
        if rule.resources or rule.api_groups:
            raise ValueError(f"{where}: a rule has either nonResourceURLs or resources")
    elif not rule.resources:
        raise ValueError(f"{where}: resources must not be empty")
    return rule


@dataclass(frozen=True)
class Binding:
    namespace: str  # "" for a ClusterRoleBinding
    role_kind: str
    role_name: str
    users: frozenset[str]
    groups: frozenset[str]

    def binds(self, user: User) -> bool:
        return user.name in self.users or any(g in self.groups for g in user.groups)


class Rbac:
    """The compiled RBAC objects of one cluster."""

    def __init__(self, objects: list[dict]):
        if not isinstance(objects, list):
            raise ValueError("rbac must be a list of Role/ClusterRole/RoleBinding/"
                             "ClusterRoleBinding objects")
        self.roles: dict[tuple[str, str, str], tuple[Rule, ...]] = {}
        self.bindings: list[Binding] = []
        for i, obj in enumerate(objects):
            self._add(obj, f"rbac[{i}]")

    def _add(self, obj, where: str) -> None:
        if not isinstance(obj, dict):
            raise ValueError(f"{where} must be an object")
        kind = obj.get("kind")
        if obj.get("apiVersion") != RBAC_API_VERSION:
            raise ValueError(f"{where}: apiVersion must be {RBAC_API_VERSION}")
        meta = obj.get("metadata")
        if not isinstance(meta, dict):
            raise ValueError(f"{where}: metadata is required")
        name, namespace = meta.get("name"), meta.get("namespace", "")
        if not isinstance(name, str) or not name:
            raise ValueError(f"{where}: metadata.name is required")
        where = f"{where} ({kind} {name})"
        namespaced = kind in ("Role", "RoleBinding")
        if kind not in ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"):
            raise ValueError(f"{where}: unsupported kind {kind!r}")
        if namespaced and not namespace:
            raise ValueError(f"{where}: metadata.namespace is required")
        if not namespaced and namespace:
            raise ValueError(f"{where}: a {kind} is cluster-scoped; drop metadata.namespace")
        if kind in ("Role", "ClusterRole"):
            if "aggregationRule" in obj:
                raise ValueError(f"{where}: aggregationRule is not supported by this server")
            rules = obj.get("rules") or []
            if not isinstance(rules, list):
                raise ValueError(f"{where}: rules must be a list")
            key = (kind, namespace, name)
            if key in self.roles:
                raise ValueError(f"{where}: defined twice")
            self.roles[key] = tuple(_rule(r, f"{where}.rules[{j}]", kind == "ClusterRole")
                                    for j, r in enumerate(rules))
            return
        ref = obj.get("roleRef")
        if not isinstance(ref, dict) or ref.get("apiGroup") != "rbac.authorization.k8s.io" \
                or not ref.get("name"):
            raise ValueError(f"{where}: roleRef needs apiGroup rbac.authorization.k8s.io and name")
        allowed_refs = ("Role", "ClusterRole") if namespaced else ("ClusterRole",)
        if ref.get("kind") not in allowed_refs:
            raise ValueError(f"{where}: roleRef.kind must be one of {allowed_refs}")
        users, groups = set(), set()
        subjects = obj.get("subjects") or []
        if not isinstance(subjects, list) or not all(isinstance(s, dict) for s in subjects):
            raise ValueError(f"{where}: subjects must be a list of objects")
        for j, subject in enumerate(subjects):
            skind, sname = subject.get("kind"), subject.get("name")
            if not isinstance(sname, str) or not sname:
                raise ValueError(f"{where}.subjects[{j}]: name is required")
            if skind == "User":
                users.add(sname)
            elif skind == "Group":
                groups.add(sname)
            elif skind == "ServiceAccount":
                sa_ns = subject.get("namespace")
                if not sa_ns:
                    raise ValueError(f"{where}.subjects[{j}]: a ServiceAccount needs a namespace")
                users.add(f"system:serviceaccount:{sa_ns}:{sname}")
            else:
                raise ValueError(f"{where}.subjects[{j}]: unsupported subject kind {skind!r}")
        self.bindings.append(Binding(namespace, ref["kind"], ref["name"], frozenset(users),
                                     frozenset(groups)))

    def _rules_for(self, user: User, namespace: str):
        for b in self.bindings:
            if b.namespace and b.namespace != namespace:
                continue
            if not b.binds(user):
                continue
            role_ns = b.namespace if b.role_kind == "Role" else ""
            yield from self.roles.get((b.role_kind, role_ns, b.role_name), ())
        for policy in user.policies:
            yield from ACCESS_POLICIES[policy_name(policy)]
        if AUTHENTICATED in user.groups:
            yield DISCOVERY_RULE

    def allows(self, user: User, a: Attributes) -> bool:
        if "system:masters" in user.groups:
            return True
        return any(rule.allows(a) for rule in self._rules_for(user, a.namespace))
