"""Registered clusters: their configuration (parsed strictly from the control API's JSON), their
objects, faults and request log, and the registry that is the process's only mutable state."""

from __future__ import annotations

import re
import shutil
import ssl
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from .auth import (AccessEntry, Authenticator, AuthError, AwsAuthMapping, Credential,
                   principal_of)
from .pki import CertificateAuthority
from .rbac import ACCESS_POLICIES, Rbac, policy_name
from .status import KubeError, expired, injected
from .store import ClusterStore, Revisions

CLUSTER_ARN = re.compile(r"arn:(aws[a-z-]*):eks:([a-z0-9-]+):(\d{12}):cluster/"
                         r"([A-Za-z0-9][A-Za-z0-9_-]{0,99})")
AUTH_MODES = ("API", "API_AND_CONFIG_MAP", "CONFIG_MAP")
ENDPOINT_MODES = ("serve", "hang", "refuse")
REGISTER_FIELDS = frozenset({
    "arn", "name", "authentication_mode", "endpoint_mode", "endpoint_public_access",
    "endpoint_private_access", "credentials", "access_entries", "aws_auth", "rbac",
    "client_cert_users", "objects", "synthetic_pods", "addon"})
CERT_USER, CERT_GROUP = "podreach-cert-user", "podreach-readers"


class ControlError(Exception):
    """A control API request that is answered `{"error": message}` with HTTP `code`."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ControlError(400, message)


def _strict_keys(obj, allowed: set[str] | frozenset[str], where: str,
                 required: tuple[str, ...] = ()) -> dict:
    _require(isinstance(obj, dict), f"{where} must be an object")
    unknown = set(obj) - set(allowed)
    _require(not unknown, f"{where}: unknown fields {sorted(unknown)}; allowed: {sorted(allowed)}")
    missing = [k for k in required if k not in obj]
    _require(not missing, f"{where}: missing fields {missing}")
    return obj


def _string_list(value, where: str) -> tuple[str, ...]:
    _require(isinstance(value, list) and all(isinstance(v, str) for v in value),
             f"{where} must be a list of strings")
    return tuple(value)


def parse_credentials(raw) -> dict[str, Credential]:
    _require(isinstance(raw, list), "credentials must be a list")
    out = {}
    for i, c in enumerate(raw):
        where = f"credentials[{i}]"
        _strict_keys(c, {"access_key_id", "secret_access_key", "session_token", "arn"}, where,
                     ("access_key_id", "secret_access_key", "arn"))
        _require(all(isinstance(c[k], str) and c[k] for k in c), f"{where}: values are strings")
        try:
            principal_of(c["arn"])
        except AuthError as err:
            raise ControlError(400, f"{where}.arn: {err}") from None
        _require(c["access_key_id"] not in out, f"{where}: access key id given twice")
        out[c["access_key_id"]] = Credential(c["access_key_id"], c["secret_access_key"],
                                             c["arn"], c.get("session_token"))
    return out


def parse_access_entries(raw) -> tuple[AccessEntry, ...]:
    _require(isinstance(raw, list), "access_entries must be a list")
    entries = []
    for i, e in enumerate(raw):
        where = f"access_entries[{i}]"
        _strict_keys(e, {"principal_arn", "kubernetes_groups", "policies", "username"}, where,
                     ("principal_arn",))
        _require(isinstance(e["principal_arn"], str) and e["principal_arn"].startswith("arn:"),
                 f"{where}.principal_arn must be an IAM ARN")
        policies = _string_list(e.get("policies", []), f"{where}.policies")
        for p in policies:
            _require(policy_name(p) in ACCESS_POLICIES,
                     f"{where}: policy {p!r} is not modelled; known: {sorted(ACCESS_POLICIES)}")
        username = e.get("username")
        _require(username is None or isinstance(username, str), f"{where}.username: a string")
        entries.append(AccessEntry(e["principal_arn"],
                                   _string_list(e.get("kubernetes_groups", []),
                                                f"{where}.kubernetes_groups"),
                                   policies, username))
    return tuple(entries)


def parse_aws_auth(raw) -> tuple[AwsAuthMapping, ...]:
    _require(isinstance(raw, list), "aws_auth must be a list of mapRoles/mapUsers entries")
    out = []
    for i, m in enumerate(raw):
        where = f"aws_auth[{i}]"
        _strict_keys(m, {"rolearn", "userarn", "username", "groups"}, where)
        _require(("rolearn" in m) != ("userarn" in m), f"{where}: give rolearn or userarn")
        arn = m.get("rolearn") or m.get("userarn")
        _require(isinstance(arn, str) and arn.startswith("arn:"), f"{where}: not an ARN")
        username = m.get("username")
        _require(username is None or isinstance(username, str), f"{where}.username: a string")
        out.append(AwsAuthMapping(arn, username, _string_list(m.get("groups", []),
                                                               f"{where}.groups")))
    return tuple(out)


@dataclass(frozen=True)
class Access:
    """Who may do what on a cluster; replaced as a whole, read without a lock."""
    authenticator: Authenticator
    rbac: Rbac


class Faults:
    """Faults injected through the control API."""

    KEYS = frozenset({"expire_next_continue", "status_once", "delay_seconds"})

    def __init__(self):
        self._lock = threading.Lock()
        self.expire_next_continue = 0
        self.status_once: list[dict] = []
        self.delay_seconds = 0.0

    def add(self, body) -> None:
        _strict_keys(body, self.KEYS, "faults")
        expire = body.get("expire_next_continue", 0)
        _require(isinstance(expire, int) and not isinstance(expire, bool) and expire >= 0,
                 "expire_next_continue must be a non-negative integer")
        raw = body.get("status_once", [])
        raw = [raw] if isinstance(raw, dict) else raw
        _require(isinstance(raw, list), "status_once must be an object or a list of them")
        statuses = []
        for i, s in enumerate(raw):
            where = f"status_once[{i}]"
            _strict_keys(s, {"path_prefix", "code", "times"}, where, ("path_prefix", "code"))
            _require(isinstance(s["path_prefix"], str) and s["path_prefix"].startswith("/"),
                     f"{where}.path_prefix must start with /")
            _require(isinstance(s["code"], int) and 400 <= s["code"] <= 599,
                     f"{where}.code must be an HTTP error status (400-599)")
            times = s.get("times", 1)
            _require(isinstance(times, int) and times >= 1, f"{where}.times must be >= 1")
            statuses.append({"path_prefix": s["path_prefix"], "code": s["code"], "times": times})
        delay = body.get("delay_seconds")
        _require(delay is None or (isinstance(delay, (int, float)) and 0 <= delay <= 600),
                 "delay_seconds must be a number of seconds, 0..600")
        with self._lock:
            self.expire_next_continue += expire
            self.status_once.extend(statuses)
            if delay is not None:
                self.delay_seconds = float(delay)

    def clear(self) -> None:
        with self._lock:
            self.expire_next_continue, self.status_once, self.delay_seconds = 0, [], 0.0

    def take(self, path: str, has_continue: bool) -> KubeError | None:
        with self._lock:
            for fault in self.status_once:
                if path.startswith(fault["path_prefix"]):
                    fault["times"] -= 1
                    if fault["times"] == 0:
                        self.status_once.remove(fault)
                    return injected(fault["code"])
            if has_continue and self.expire_next_continue > 0:
                self.expire_next_continue -= 1
                return expired()
        return None

    def describe(self) -> dict:
        with self._lock:
            return {"expire_next_continue": self.expire_next_continue,
                    "status_once": [dict(s) for s in self.status_once],
                    "delay_seconds": self.delay_seconds}


class RequestLog:
    def __init__(self):
        self._lock = threading.Lock()
        self._entries: list[dict] = []

    def append(self, entry: dict) -> None:
        with self._lock:
            self._entries.append(entry)

    def snapshot(self) -> list[dict]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class Cluster:
    """One registered cluster. Its CA, port and directory live as long as the process; what a
    re-registration replaces is swapped in whole (`access`, `store`, settings)."""

    def __init__(self, arn: str, revisions: Revisions, directory: Path):
        partition, self.region, self.account, self.name = CLUSTER_ARN.fullmatch(arn).groups()
        self.arn = arn
        self.revisions = revisions
        self.directory = directory  # this cluster's own (fresh) directory for its PEM files
        self.ca = CertificateAuthority(f"{self.name} CA")
        self.ca_pem_path = directory / "ca.crt"
        self.ca_pem_path.write_bytes(self.ca.cert_pem)
        cert_pem, key_pem = self.ca.issue_server()
        self.server_cert_path = directory / "server.crt"
        self.server_cert_path.write_bytes(cert_pem + self.ca.cert_pem)
        self.server_key_path = directory / "server.key"
        self.server_key_path.touch(mode=0o600)
        self.server_key_path.write_bytes(key_pem)
        self.client_cert: dict[str, str] | None = None
        self.faults = Faults()
        self.log = RequestLog()
        self.endpoint = None  # set by Registry (kube.ClusterEndpoint)
        self.access: Access | None = None
        self.store: ClusterStore | None = None
        self.ssl_context: ssl.SSLContext | None = None
        self.authentication_mode = "API_AND_CONFIG_MAP"
        self.endpoint_access: dict[str, bool] = {}
        self.addon: dict | None = None
        self.credentials: dict[str, Credential] = {}

    def configure(self, body: dict) -> None:
        """Apply a registration body (validated completely before anything changes)."""
        mode = body.get("authentication_mode", "API_AND_CONFIG_MAP")
        _require(mode in AUTH_MODES, f"authentication_mode must be one of {AUTH_MODES}")
        endpoint_access = {}
        for field, key in (("endpoint_public_access", "endpointPublicAccess"),
                           ("endpoint_private_access", "endpointPrivateAccess")):
            if field in body:
                _require(isinstance(body[field], bool), f"{field} must be true or false")
                endpoint_access[key] = body[field]
        addon = body.get("addon")
        _require(addon is None or (isinstance(addon, dict) and
                                   isinstance(addon.get("addonName"), str)),
                 "addon must be null or the `addon` object of describe-addon (with addonName)")
        cert_users = body.get("client_cert_users", False)
        _require(isinstance(cert_users, bool), "client_cert_users must be true or false")
        access = self._access(mode, body.get("credentials", []), body.get("access_entries", []),
                              body.get("aws_auth", []), body.get("rbac", []), cert_users)
        store = ClusterStore(self.revisions)
        try:
            store.replace(body.get("objects") or {}, body.get("synthetic_pods"))
        except ValueError as err:
            raise ControlError(400, str(err)) from None
        if cert_users and self.client_cert is None:
            cert_pem, key_pem = self.ca.issue_client(CERT_USER, [CERT_GROUP])
            cert_path, key_path = self.directory / "client.crt", self.directory / "client.key"
            cert_path.write_bytes(cert_pem)
            key_path.touch(mode=0o600)
            key_path.write_bytes(key_pem)
            self.client_cert = {"cert_pem_path": str(cert_path), "key_pem_path": str(key_path)}
        self.ssl_context = self._ssl_context(cert_users)
        self.authentication_mode = mode
        self.endpoint_access = endpoint_access
        self.addon = addon
        self.credentials = access.authenticator.credentials
        self.access = access
        self.store = store

    def _access(self, mode, credentials, entries, aws_auth, rbac, cert_users) -> Access:
        try:
            rbac_compiled = Rbac(rbac)
        except ValueError as err:
            raise ControlError(400, f"rbac: {err}") from None
        authenticator = Authenticator(self.name, mode, parse_credentials(credentials),
                                      parse_access_entries(entries), parse_aws_auth(aws_auth),
                                      cert_users)
        return Access(authenticator, rbac_compiled)

    def update_access(self, body: dict) -> None:
        _strict_keys(body, {"access_entries", "aws_auth", "rbac", "credentials"}, "access")
        current = self.access.authenticator
        try:
            rbac = Rbac(body["rbac"]) if "rbac" in body else self.access.rbac
        except ValueError as err:
            raise ControlError(400, f"rbac: {err}") from None
        authenticator = Authenticator(
            self.name, current.authentication_mode,
            parse_credentials(body["credentials"]) if "credentials" in body
            else current.credentials,
            parse_access_entries(body["access_entries"]) if "access_entries" in body
            else current.access_entries,
            parse_aws_auth(body["aws_auth"]) if "aws_auth" in body else current.aws_auth,
            current.client_cert_users)
        self.credentials = authenticator.credentials
        self.access = Access(authenticator, rbac)

    def replace_objects(self, body: dict) -> None:
        _require(isinstance(body, dict), "the body must be an object")
        objects = {k: v for k, v in body.items() if k != "synthetic_pods"}
        try:
            self.store.replace(objects, body.get("synthetic_pods"))
        except ValueError as err:
            raise ControlError(400, str(err)) from None

    def _ssl_context(self, cert_users: bool) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(self.server_cert_path, self.server_key_path)
        ctx.set_alpn_protocols(["http/1.1"])
        if cert_users:
            ctx.verify_mode = ssl.CERT_OPTIONAL
            ctx.load_verify_locations(cadata=self.ca.cert_pem.decode())
        return ctx

    def describe(self) -> dict:
        answer = {"arn": self.arn, "name": self.name, "endpoint": self.endpoint.url,
                  "ca_data": self.ca.ca_data, "ca_pem_path": str(self.ca_pem_path),
                  "endpoint_mode": self.endpoint.mode}
        if self.client_cert and self.access.authenticator.client_cert_users:
            answer["client_cert"] = dict(self.client_cert)
        return answer


class Registry:
    """Every registered cluster, by ARN."""

    def __init__(self, workdir: Path, endpoint_factory):
        self.workdir = workdir
        self.revisions = Revisions()
        self._lock = threading.RLock()
        self._clusters: dict[str, Cluster] = {}
        self._endpoint_factory = endpoint_factory

    def register(self, body) -> dict:
        _strict_keys(body, REGISTER_FIELDS, "cluster", ("arn",))
        arn = body["arn"]
        _require(isinstance(arn, str) and CLUSTER_ARN.fullmatch(arn) is not None,
                 f"arn {arn!r} is not an EKS cluster ARN "
                 "(arn:aws:eks:REGION:ACCOUNT:cluster/NAME)")
        name = CLUSTER_ARN.fullmatch(arn).group(4)
        _require(body.get("name", name) == name, f"name {body.get('name')!r} does not match the "
                                                 f"ARN's cluster name {name!r}")
        mode = body.get("endpoint_mode", "serve")
        _require(mode in ENDPOINT_MODES, f"endpoint_mode must be one of {ENDPOINT_MODES}")
        with self._lock:
            cluster = self._clusters.get(arn)
            fresh = cluster is None
            if fresh:
                directory = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self.workdir))
                cluster = Cluster(arn, self.revisions, directory)
            cluster.configure(body)
            if fresh:
                cluster.endpoint = self._endpoint_factory(cluster, mode)
                self._clusters[arn] = cluster
            else:
                cluster.endpoint.set_mode(mode)
                cluster.faults.clear()
                cluster.log.clear()
            return cluster.describe()

    def lookup(self, ident: str) -> Cluster:
        ident = unquote(ident)
        with self._lock:
            if ident.startswith("arn:"):
                cluster = self._clusters.get(ident)
                if cluster is None:
                    raise ControlError(404, f"no cluster registered with arn {ident}")
                return cluster
            matches = [c for c in self._clusters.values() if c.name == ident]
        if not matches:
            raise ControlError(404, f"no cluster registered with name {ident!r}")
        if len(matches) > 1:
            raise ControlError(409, f"cluster name {ident!r} is ambiguous: "
                                    f"{sorted(c.arn for c in matches)}; use the arn")
        return matches[0]

    def unregister(self, ident: str) -> None:
        cluster = self.lookup(ident)
        with self._lock:
            self._clusters.pop(cluster.arn, None)
        cluster.endpoint.close()
        shutil.rmtree(cluster.directory, ignore_errors=True)

    def clusters(self) -> list[Cluster]:
        with self._lock:
            return list(self._clusters.values())

    def by_arn(self, arn: str) -> Cluster | None:
        with self._lock:
            return self._clusters.get(arn)

    def account_of_key(self, access_key_id: str) -> str | None:
        for cluster in self.clusters():
            credential = cluster.credentials.get(access_key_id)
            if credential is not None:
                return principal_of(credential.arn).account
        return None

    def cluster_named(self, name: str, account: str | None, region: str | None) -> Cluster | None:
        """The registered cluster `name` in the request's account (and region) when known,
        else the only one of that name."""
        candidates = [c for c in self.clusters() if c.name == name]
        if account is not None:
            scoped = [c for c in candidates if c.account == account and
                      (region is None or c.region == region)]
            return scoped[0] if len(scoped) == 1 else None
        return candidates[0] if len(candidates) == 1 else None

