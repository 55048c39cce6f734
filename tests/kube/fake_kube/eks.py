"""A proxy for the EKS REST API in front of moto (plain HTTP).

Every request goes to moto as it came (method, path, query, headers except the hop-by-hop ones,
body) and moto's answer comes back as it was, except:

- DescribeCluster (`GET /clusters/{name}`): when the answer's `cluster.arn` is registered, its
  `endpoint` and `certificateAuthority.data` become the fake API server's, `accessConfig` says the
  registered authentication mode, and `resourcesVpcConfig.endpointPublicAccess/
  endpointPrivateAccess` take the registered values when given.
- DescribeAddon (`GET /clusters/{name}/addons/{addon}`, which moto lacks): for a registered
  cluster (in the request's account, known from the access key of its SigV4 `Authorization`), the
  registered `addon`, or EKS's 404 `ResourceNotFoundException` when it has none of that name.
"""

from __future__ import annotations

import gzip
import http.client
import json
import logging
import re
import uuid
from http.server import BaseHTTPRequestHandler
from urllib.parse import unquote, urlsplit

from .httpbase import Server, read_body

log = logging.getLogger("fake_kube.eks")

HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
                        "te", "trailer", "trailers", "transfer-encoding", "upgrade",
                        "content-length"})
DESCRIBE_CLUSTER = re.compile(r"/clusters/([^/]+)")
DESCRIBE_ADDON = re.compile(r"/clusters/([^/]+)/addons/([^/]+)")
CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([a-z0-9-]+)/")


class EksProxyServer(Server):
    def __init__(self, registry, moto: tuple[str, int] | None):
        self.registry = registry
        self.moto = moto
        super().__init__(("127.0.0.1", 0), EksProxyHandler)


class EksProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 300
    server: EksProxyServer

    def do_GET(self):
        self._handle()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def log_message(self, fmt, *args):
        log.debug(fmt, *args)

    def _reply(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response_only(status)
        for name, value in headers:
            if name.lower() not in HOP_BY_HOP:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _reply_json(self, status: int, doc: dict, error_type: str | None = None) -> None:
        headers = [("Content-Type", "application/json"), ("x-amzn-RequestId", str(uuid.uuid4()))]
        if error_type:
            headers.append(("x-amzn-ErrorType", error_type))
        self._reply(status, headers, json.dumps(doc).encode())

    def _caller(self) -> tuple[str | None, str | None]:
        """(account, region) of the request, from its SigV4 credential scope."""
        m = CREDENTIAL.search(self.headers.get("Authorization", ""))
        if not m:
            return None, None
        return self.server.registry.account_of_key(m.group(1)), m.group(2)

    def _handle(self) -> None:
        body = read_body(self)
        path = urlsplit(self.path).path
        if self.command == "GET":
            m = DESCRIBE_ADDON.fullmatch(path)
            if m and self._describe_addon(unquote(m.group(1)), unquote(m.group(2))):
                return
        status, headers, answer = self._forward(body)
        if self.command == "GET" and status == 200 and DESCRIBE_CLUSTER.fullmatch(path):
            headers, answer = self._rewrite_cluster(headers, answer)
        log.info("eks: %s %s -> %d (moto)", self.command, self.path, status)
        self._reply(status, headers, answer)

    def _forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        if self.server.moto is None:
            return 502, [("Content-Type", "application/json")], json.dumps(
                {"message": "fake_kube: started without --moto, nothing to forward to"}).encode()
        host, port = self.server.moto
        conn = http.client.HTTPConnection(host, port, timeout=120)
        try:
            conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for name, value in self.headers.items():
                if name.lower() not in HOP_BY_HOP:
                    conn.putheader(name, value)
            if body or self.command in ("POST", "PUT", "PATCH"):
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body or None)
            response = conn.getresponse()
            return response.status, response.getheaders(), response.read()
        except OSError as err:
            return 502, [("Content-Type", "application/json")], json.dumps(
                {"message": f"fake_kube: moto at {host}:{port} is unreachable: {err}"}).encode()
        finally:
            conn.close()

    def _rewrite_cluster(self, headers, answer: bytes):
        encoding = next((v for k, v in headers if k.lower() == "content-encoding"), "")
        raw = gzip.decompress(answer) if encoding.lower() == "gzip" else answer
        try:
            doc = json.loads(raw)
            cluster = self.server.registry.by_arn(doc["cluster"]["arn"])
        except (ValueError, KeyError, TypeError):
            return headers, answer
        if cluster is None:
            return headers, answer
        described = doc["cluster"]
        described["endpoint"] = cluster.endpoint.url
        described["certificateAuthority"] = {"data": cluster.ca.ca_data}
        described["accessConfig"] = {"authenticationMode": cluster.authentication_mode,
                                     "bootstrapClusterCreatorAdminPermissions": False}
        if cluster.endpoint_access:
            vpc = described.setdefault("resourcesVpcConfig", {})
            vpc.update(cluster.endpoint_access)
        headers = [(k, v) for k, v in headers if k.lower() != "content-encoding"]
        return headers, json.dumps(doc).encode()

    def _describe_addon(self, name: str, addon: str) -> bool:
        """Answer DescribeAddon for a registered cluster; False = not ours, forward it."""
        account, region = self._caller()
        cluster = self.server.registry.cluster_named(name, account, region)
        if cluster is None:
            return False
        if cluster.addon is not None and cluster.addon.get("addonName") == addon:
            log.info("eks: DescribeAddon %s/%s -> 200 (registered)", name, addon)
            self._reply_json(200, {"addon": cluster.addon})
        else:
            log.info("eks: DescribeAddon %s/%s -> 404 (registered without it)", name, addon)
            self._reply_json(404, {"message": f"No addon: {addon} found in cluster: {name}",
                                   "clusterName": name, "addonName": addon},
                             "ResourceNotFoundException")
        return True
