"""kube-apiserver's error bodies: `metav1.Status` objects, byte for byte in the field order Go's
encoding/json writes them (kind, apiVersion, metadata, status, message, reason, details, code).

Each constructor mirrors one function of k8s.io/apimachinery/pkg/api/errors (NewNotFound,
NewForbidden, NewBadRequest, NewResourceExpired, ...) or of the apiserver's response writers, so a
client parsing our errors meets the same shapes as on a real cluster.
"""

from __future__ import annotations

import json

#: HTTP status -> the `reason` kube-apiserver puts beside it (metav1.StatusReason*).
REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}

#: The message etcd3's store gives with a 410 for a continue token it can no longer serve.
EXPIRED_CONTINUE_MESSAGE = (
    "The provided continue parameter is too old to display a consistent list result. You can "
    "start a new list without the continue parameter, or use the continue token in this response "
    "to retrieve the remainder of the results. Continuing with the provided token results in an "
    "inconsistent list - objects that were created, modified, or deleted between the time the "
    "first chunk was returned and now may show up in the list."
)


class KubeError(Exception):
    """An error answered as a `Status` object; `details=None` leaves the field out (omitempty)."""

    def __init__(self, code: int, message: str, details: dict | None = None,
                 reason: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason or REASONS.get(code, "Unknown")
        self.details = details
        self.headers = headers or {}

    def body(self) -> dict:
        status = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                  "message": self.message, "reason": self.reason}
        if self.details is not None:
            status["details"] = self.details
        status["code"] = self.code
        return status

    def encode(self) -> bytes:
        return (json.dumps(self.body(), separators=(",", ":")) + "\n").encode()


def qualified(resource: str, group: str) -> str:
    """schema.GroupResource.String(): `pods`, `daemonsets.apps`."""
    return f"{resource}.{group}" if group else resource


def _details(resource: str, group: str, name: str) -> dict:
    # metav1.StatusDetails field order: name, group, kind; all omitempty.
    details = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    if resource:
        details["kind"] = resource
    return details


def unauthorized() -> KubeError:
    return KubeError(401, "Unauthorized")


def not_found_path() -> KubeError:
    """What the apiserver's NotFound handler says for a path nothing serves."""
    return KubeError(404, "the server could not find the requested resource", details={})


def not_found(resource: str, group: str, name: str) -> KubeError:
    return KubeError(404, f'{qualified(resource, group)} "{name}" not found',
                     details=_details(resource, group, name))


def forbidden(user: str, verb: str, *, resource: str = "", subresource: str = "",
              group: str = "", namespace: str = "", name: str = "", path: str = "",
              is_resource: bool = True) -> KubeError:
    """responsewriters.Forbidden + errors.NewForbidden, with the authorizer's reason left empty."""
    if not is_resource:
        reason = f'User "{user}" cannot {verb} path "{path}"'
        return KubeError(403, f"forbidden: {reason}", details={})
    target = f"{resource}/{subresource}" if subresource else resource
    scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
    reason = f'User "{user}" cannot {verb} resource "{target}" in API group "{group}" {scope}'
    subject = qualified(resource, group)
    message = (f'{subject} "{name}" is forbidden: {reason}' if name
               else f"{subject} is forbidden: {reason}")
    return KubeError(403, message, details=_details(resource, group, name))


def bad_request(message: str) -> KubeError:
    return KubeError(400, message)


def expired(message: str = EXPIRED_CONTINUE_MESSAGE) -> KubeError:
    return KubeError(410, message)


def method_not_allowed() -> KubeError:
    return KubeError(405, "the server does not allow this method on the requested resource",
                     details={})


def conflict(resource: str, group: str, name: str, why: str) -> KubeError:
    return KubeError(409, f'Operation cannot be fulfilled on {qualified(resource, group)} '
                          f'"{name}": {why}', details=_details(resource, group, name))


def invalid(message: str) -> KubeError:
    return KubeError(422, message, details={"causes": [{"message": message}]})


def unsupported_media_type(accepted: list[str]) -> KubeError:
    return KubeError(415, "the body of the request was in an unknown format - accepted media "
                          "types include: " + ", ".join(accepted), details={})


def injected(code: int) -> KubeError:
    """A fault injected through the control API, shaped like the apiserver's own error of that
    code (429 carries Retry-After as API Priority and Fairness sends it)."""
    if code == 429:
        return KubeError(429, "Too many requests, please try again later.",
                         details={"retryAfterSeconds": 1}, headers={"Retry-After": "1"})
    if code == 503:
        return KubeError(503, "the server is currently unable to handle the request", details={})
    if code == 504:
        return KubeError(504, "Timeout: request did not complete within requested timeout - "
                              "context deadline exceeded", details={})
    if code == 500:
        return KubeError(500, "Internal error occurred: injected fault",
                         details={"causes": [{"message": "injected fault"}]})
    return KubeError(code, f"injected fault (HTTP {code})", details={})
