"""The control API (plain HTTP JSON on 127.0.0.1) through which tests drive the fake clusters.

    POST   /clusters                      register (or re-register) a cluster -> its endpoint
    GET    /clusters                      every registered cluster
    GET    /clusters/{id}                 one cluster (id = name or ARN, URL-encoded or not)
    DELETE /clusters/{id}                 unregister, closing its port
    PUT    /clusters/{id}/objects         replace the kinds given ({"pods": [...], ...})
    PUT    /clusters/{id}/access          replace access_entries / aws_auth / rbac / credentials
    GET    /clusters/{id}/requests        the request log;  DELETE clears it
    POST   /clusters/{id}/faults          add faults;  GET shows them;  DELETE clears them

Errors are `{"error": "..."}` with 400 (invalid body), 404 (unknown cluster or path), 405, or
409 (a name that several registered clusters share).
"""

from __future__ import annotations

import json
import logging
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

from .cluster import ControlError, Registry
from .httpbase import Server

log = logging.getLogger("fake_kube.control")

SUFFIXES = ("objects", "access", "requests", "faults")


class ControlServer(Server):
    def __init__(self, registry: Registry):
        self.registry = registry
        super().__init__(("127.0.0.1", 0), ControlHandler)


class ControlHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ControlServer

    def do_GET(self):
        self._handle()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

    def log_message(self, fmt, *args):
        log.debug(fmt, *args)

    def _reply(self, status: int, doc) -> None:
        body = (json.dumps(doc) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            raise ControlError(400, "a JSON body is required")
        try:
            return json.loads(raw)
        except ValueError as err:
            raise ControlError(400, f"the body is not JSON: {err}") from None

    def _handle(self) -> None:
        try:
            status, doc = self._route(urlsplit(self.path).path.rstrip("/"))
        except ControlError as err:
            status, doc = err.code, {"error": err.message}
            log.warning("control: %s %s -> %d %s", self.command, self.path, err.code, err.message)
        except Exception as err:  # noqa: BLE001 - answer, and keep the server up
            log.exception("control: %s %s failed", self.command, self.path)
            status, doc = 500, {"error": f"{type(err).__name__}: {err}"}
        self._reply(status, doc)

    def _route(self, path: str):
        registry = self.server.registry
        method = self.command
        if path == "/clusters":
            if method == "POST":
                answer = registry.register(self._body())
                log.info("control: registered %s at %s", answer["arn"], answer["endpoint"])
                return 200, answer
            if method == "GET":
                return 200, [c.describe() for c in registry.clusters()]
            raise ControlError(405, f"{method} /clusters: use POST or GET")
        if not path.startswith("/clusters/"):
            raise ControlError(404, f"no such control path {path!r}")
        rest = path[len("/clusters/"):]
        ident, _, suffix = rest.rpartition("/")
        if suffix not in SUFFIXES:
            ident, suffix = rest, ""
        cluster = registry.lookup(ident)
        route = (method, suffix)
        if route == ("GET", ""):
            return 200, cluster.describe()
        if route == ("DELETE", ""):
            registry.unregister(cluster.arn)
            return 200, {"deleted": cluster.arn}
        if route == ("PUT", "objects"):
            cluster.replace_objects(self._body())
            return 200, {"installed": sorted(cluster.store.installed),
                         "resourceVersion": str(registry.revisions.current)}
        if route == ("PUT", "access"):
            cluster.update_access(self._body())
            return 200, {"updated": cluster.arn}
        if route == ("GET", "requests"):
            return 200, cluster.log.snapshot()
        if route == ("DELETE", "requests"):
            cluster.log.clear()
            return 200, {"cleared": cluster.arn}
        if route == ("POST", "faults"):
            cluster.faults.add(self._body())
            return 200, cluster.faults.describe()
        if route == ("GET", "faults"):
            return 200, cluster.faults.describe()
        if route == ("DELETE", "faults"):
            cluster.faults.clear()
            return 200, cluster.faults.describe()
        raise ControlError(405, f"{method} is not supported on {path}")
