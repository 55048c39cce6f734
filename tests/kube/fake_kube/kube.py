"""The HTTPS Kubernetes API of one cluster: its listening endpoint and the request handler.

Per request, in kube-apiserver's filter order: (fault delay) -> authentication (401) -> request
info -> authorisation (403) -> (injected faults) -> the handler: discovery documents, list, get or
patch (404/400/405/409/410/415/422 Status objects as the real server answers them). Responses are
`application/json`; bodies over 128 KiB are gzipped when the client accepts gzip
(APIResponseCompression, level 1 like the apiserver's gzip pool).
"""

from __future__ import annotations

import gzip
import logging
import socket
import ssl
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from . import resources
from .auth import AuthError
from .httpbase import Server, read_body
from .rbac import Attributes
from .status import (KubeError, bad_request, forbidden, method_not_allowed, not_found_path,
                     unauthorized)
from .store import ListOptions, dumps

log = logging.getLogger("fake_kube.kube")

HOST = "127.0.0.1"
GZIP_THRESHOLD = 128 * 1024
HANDSHAKE_TIMEOUT = 30
IDLE_TIMEOUT = 300
JSON = "application/json"
HEALTH_PATHS = frozenset({"/healthz", "/livez", "/readyz"})
METHOD_VERBS = {"GET": "get", "HEAD": "get", "POST": "create", "PUT": "update",
                "PATCH": "patch", "DELETE": "delete"}


def request_info(method: str, path: str, query: dict[str, list[str]]) -> Attributes:
    """k8s.io/apiserver/pkg/endpoints/request.RequestInfoFactory.NewRequestInfo."""
    parts = path.strip("/").split("/") if path.strip("/") else []
    non_resource = Attributes(verb=method.lower(), path=path, is_resource=False)
    if len(parts) < 3 or parts[0] not in ("api", "apis"):
        return non_resource
    prefix, parts = parts[0], parts[1:]
    group = ""
    if prefix == "apis":
        if len(parts) < 3:
            return non_resource
        group, parts = parts[0], parts[1:]
    version, parts = parts[0], parts[1:]
    verb = METHOD_VERBS.get(method, "")
    if parts and parts[0] == "watch":  # the deprecated /watch/ prefix
        verb, parts = "watch", parts[1:]
    namespace = ""
    if parts and parts[0] == "namespaces" and len(parts) > 1:
        namespace = parts[1]
        if len(parts) > 2 and parts[2] not in ("status", "finalize"):
            parts = parts[2:]
    resource = parts[0] if parts else ""
    name = parts[1] if len(parts) > 1 else ""
    subresource = parts[2] if len(parts) > 2 else ""
    if not name and verb == "get":
        watch = (query.get("watch") or [""])[0].lower()
        verb = "watch" if watch not in ("", "0", "f", "false") else "list"
        # A list pinned to one name by fieldSelector is authorised as that name.
        for term in (query.get("fieldSelector") or [""])[0].split(","):
            key, sep, value = term.partition("=")
            if sep and key.strip() == "metadata.name" and value and not value.startswith("="):
                name = value.strip()
    if not name and verb == "delete":
        verb = "deletecollection"
    return Attributes(verb=verb, path=path, is_resource=True, group=group, version=version,
                      resource=resource, subresource=subresource, namespace=namespace,
                      name=name)


def accepts_json(header: str) -> bool:
    """Whether an Accept header admits plain JSON, the only encoding served here (a Table or
    protobuf-only Accept would get another shape from kube-apiserver: refuse it loudly)."""
    if not header.strip():
        return True
    for part in header.split(","):
        media, *raw_params = (p.strip() for p in part.split(";"))
        params = dict(p.split("=", 1) for p in raw_params if "=" in p)
        if media.lower() in ("*/*", "application/*", "application/json") and "as" not in params \
                and params.get("q", "1") not in ("0", "0.0", "0.00", "0.000"):
            return True
    return False


def accepts_gzip(header: str) -> bool:
    for part in header.split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() == "gzip":
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


class KubeServer(Server):
    """An HTTPS server that completes the TLS handshake in the connection's own thread."""

    allow_reuse_address = True

    def __init__(self, endpoint: ClusterEndpoint, port: int):
        self.endpoint = endpoint
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__((HOST, port), KubeHandler)

    def process_request(self, request, client_address):
        if self.endpoint.mode == "hang":
            self.endpoint.hold(request)  # accepted, never read, never answered, never closed
            return
        super().process_request(request, client_address)

    def finish_request(self, request, client_address):
        request.settimeout(HANDSHAKE_TIMEOUT)
        try:
            tls = self.endpoint.cluster.ssl_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as err:
            log.info("%s: TLS handshake with %s failed: %s", self.endpoint.cluster.name,
                     client_address, err)
            return
        with self.connections_lock:
            self.connections.add(tls)
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            with self.connections_lock:
                self.connections.discard(tls)
            try:
                tls.close()
            except OSError:
                pass

    def drop_connections(self) -> None:
        with self.connections_lock:
            connections = list(self.connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class ClusterEndpoint:
    """The port of a cluster's API server, in one of three modes: `serve`; `hang` (connections
    are accepted and never answered); `refuse` (the port is bound but not listening, so a
    connection is refused)."""

    def __init__(self, cluster, mode: str):
        self.cluster = cluster
        self.mode = mode
        self.port = 0
        self._lock = threading.Lock()
        self._server: KubeServer | None = None
        self._reserved: socket.socket | None = None
        self._held: list[socket.socket] = []
        self._unhang = threading.Event()
        self._apply(mode)

    @property
    def url(self) -> str:
        return f"https://{HOST}:{self.port}"

    def _apply(self, mode: str) -> None:
        if mode == "refuse":
            if self._server is not None:
                self._stop_server()
            if self._reserved is None:
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((HOST, self.port))
                self.port = sock.getsockname()[1]
                self._reserved = sock
        elif self._server is None:
            if self._reserved is not None:
                self._reserved.close()
                self._reserved = None
            self._server = KubeServer(self, self.port)
            self.port = self._server.server_address[1]
            threading.Thread(target=self._server.serve_forever, name=f"kube-{self.port}",
                             daemon=True).start()

    def _stop_server(self) -> None:
        server, self._server = self._server, None
        server.shutdown()
        server.server_close()
        server.drop_connections()

    def set_mode(self, mode: str) -> None:
        with self._lock:
            if mode == self.mode:
                return
            if self.mode == "hang":
                self._release_held()
            self.mode = mode
            self._apply(mode)
            if mode == "hang":
                self._unhang.clear()
                if self._server is not None:
                    self._server.drop_connections()

    def hold(self, sock: socket.socket) -> None:
        with self._lock:
            self._held.append(sock)

    def wait_while_hanging(self) -> None:
        self._unhang.wait()

    def _release_held(self) -> None:
        held, self._held = self._held, []
        for sock in held:
            sock.close()
        self._unhang.set()

    def close(self) -> None:
        with self._lock:
            self._release_held()
            if self._server is not None:
                self._stop_server()
            if self._reserved is not None:
                self._reserved.close()
                self._reserved = None


class KubeHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT
    server: KubeServer

    def do_GET(self):
        self._dispatch()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    # Plumbing ---------------------------------------------------------------------------

    def log_message(self, fmt, *args):
        log.debug("%s: " + fmt, self.server.endpoint.cluster.name, *args)

    def send_response(self, code, message=None):
        # kube-apiserver sends no Server header.
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())

    def _peer_subject(self) -> dict[str, list[str]] | None:
        try:
            cert = self.connection.getpeercert()
        except (ValueError, OSError):
            return None
        if not cert:
            return None
        subject: dict[str, list[str]] = {}
        for rdn in cert.get("subject", ()):
            for key, value in rdn:
                subject.setdefault(key, []).append(value)
        return subject

    def _encode(self, payload: bytes) -> tuple[bytes, bool]:
        """The body as it goes on the wire: gzipped over the threshold if the client accepts."""
        if len(payload) > GZIP_THRESHOLD and accepts_gzip(self.headers.get("Accept-Encoding", "")):
            return gzip.compress(payload, compresslevel=1, mtime=0), True
        return payload, False

    def _send(self, status: int, payload: bytes, compressed: bool,
              headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Audit-Id", str(uuid.uuid4()))
        self.send_header("Cache-Control", "no-cache, private")
        headers = {"Content-Type": JSON, **headers}
        for name, value in headers.items():
            self.send_header(name, value)
        if compressed:
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Vary", "Accept-Encoding")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    # The request ------------------------------------------------------------------------

    def _dispatch(self) -> None:
        endpoint = self.server.endpoint
        if endpoint.mode == "hang":
            endpoint.wait_while_hanging()
            self.close_connection = True
            return
        cluster = endpoint.cluster
        url = urlsplit(self.path)
        query = parse_qs(url.query, keep_blank_values=True)
        body = read_body(self)
        user = ""
        headers: dict[str, str] = {}
        try:
            if cluster.faults.delay_seconds:
                time.sleep(cluster.faults.delay_seconds)
            access = cluster.access
            try:
                identity = access.authenticator.authenticate(
                    self.headers.get("Authorization"), self._peer_subject())
            except AuthError as err:
                log.info("%s: 401 %s %s: %s", cluster.name, self.command, url.path, err)
                raise unauthorized() from None
            user = identity.name
            attrs = request_info(self.command, url.path, query)
            if not access.rbac.allows(identity, attrs):
                raise forbidden(user, attrs.verb, resource=attrs.resource,
                                subresource=attrs.subresource, group=attrs.group,
                                namespace=attrs.namespace, name=attrs.name, path=attrs.path,
                                is_resource=attrs.is_resource)
            fault = cluster.faults.take(url.path, bool((query.get("continue") or [""])[0]))
            if fault is not None:
                raise fault
            text, content_type = self._serve(cluster.store, attrs, query, body)
            status, payload, headers = 200, text.encode(), {"Content-Type": content_type}
        except KubeError as err:
            status, payload, headers = err.code, err.encode(), err.headers
        except Exception:  # noqa: BLE001 - a handler bug must answer 500, not kill the thread
            log.exception("%s: %s %s failed", cluster.name, self.command, self.path)
            err = KubeError(500, "Internal error occurred: fake_kube handler error (see its log)")
            status, payload = err.code, err.encode()
        payload, compressed = self._encode(payload)
        # Logged before the answer goes out, so a client that has its answer finds it logged.
        cluster.log.append({
            "method": self.command, "path": url.path,
            "query": {k: v[0] if len(v) == 1 else v for k, v in query.items()},
            "status": status, "user": user,
            "bytes": 0 if self.command == "HEAD" else len(payload), "gzip": compressed})
        log.info("%s: %s %s -> %d (%d bytes%s) user=%s", cluster.name, self.command, self.path,
                 status, len(payload), ", gzip" if compressed else "", user or "-")
        self._send(status, payload, compressed, headers)

    def _serve(self, store, attrs: Attributes, query: dict[str, list[str]],
               body: bytes) -> tuple[str, str]:
        """(body, content type) of a successful answer; errors are raised as KubeError."""
        if not accepts_json(self.headers.get("Accept", "")):
            raise KubeError(406, "only the following media types are accepted by this test "
                                 "server: application/json")
        if not attrs.is_resource:
            if self.command not in ("GET", "HEAD"):
                raise not_found_path()
            if attrs.path in HEALTH_PATHS:
                return "ok", "text/plain; charset=utf-8"
            doc = resources.discovery(attrs.path, store.installed)
            if doc is None:
                raise not_found_path()
            return dumps(doc) + "\n", JSON
        return self._serve_resource(store, attrs, query, body), JSON

    def _serve_resource(self, store, attrs: Attributes, query: dict[str, list[str]],
                        body: bytes) -> str:
        resource = resources.find(attrs.group, attrs.version, attrs.resource, store.installed)
        if resource is None or attrs.subresource:
            raise not_found_path()
        namespace = attrs.namespace
        if not resource.namespaced:
            if namespace and resource.plural != "namespaces":
                raise not_found_path()
            namespace = ""
        collection = attrs.verb in ("list", "watch", "deletecollection", "create")
        if resource.namespaced and not namespace and not collection:
            raise not_found_path()  # /api/v1/pods/NAME is not a route
        if attrs.verb == "watch":
            raise bad_request("watch is not supported by this test server")
        if attrs.verb == "list":
            return store.list(resource, namespace, ListOptions.parse(resource, query))
        if attrs.verb == "get":
            return store.get(resource, namespace, attrs.name)
        if attrs.verb == "patch":
            return store.patch(resource, namespace, attrs.name,
                               self.headers.get("Content-Type", ""), body)
        raise method_not_allowed()
