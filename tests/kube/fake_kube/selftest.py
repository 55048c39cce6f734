"""`--self-test`: the token verifier against tokens botocore signs (an independent SigV4
implementation), and the wire shapes that tests rely on. Prints one line per check and
'N passed, N failed'; exit status 1 on any failure."""

from __future__ import annotations

import base64
import time

from .auth import AuthError, Credential, TokenVerifier
from .patch import json_patch, merge_patch, strategic_merge
from .presign import make_token
from .resources import BY_PLURAL
from .selectors import FieldSelector, LabelSelector
from .status import KubeError, forbidden
from .store import decode_continue, encode_continue

AKID, SECRET = "ASIAFAKEKUBESELFTEST", "c2VsZi10ZXN0LXNlY3JldC1rZXktMDEyMzQ1Njc4OQ"
ARN = "arn:aws:sts::100000000001:assumed-role/podreach-test/self-test"


def _b64(token: str) -> str:
    return base64.urlsafe_b64decode(token[11:] + "=" * (-len(token[11:]) % 4)).decode()


def _token_of(url: str) -> str:
    return "k8s-aws-v1." + base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")


def _verifies(token: str, *, cluster: str = "shop", credentials=None, clock=time.time) -> bool:
    creds = credentials or {AKID: Credential(AKID, SECRET, ARN)}
    try:
        return TokenVerifier(cluster, creds, clock).verify(token) == ARN
    except AuthError:
        return False


def _token_checks():
    token = make_token("shop", AKID, SECRET, expires=60)
    url = _b64(token)
    signature = url.rsplit("X-Amz-Signature=", 1)[1]
    flipped = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    now = time.time()
    yield "a botocore-signed token verifies", _verifies(token)
    yield "a padded token verifies", _verifies(token + "=" * (-len(token[11:]) % 4))
    yield "one changed signature character fails", \
        not _verifies(_token_of(url.replace(signature, flipped)))
    yield "a changed X-Amz-Expires fails", \
        not _verifies(_token_of(url.replace("X-Amz-Expires=60", "X-Amz-Expires=61")))
    yield "a token for another cluster fails", not _verifies(token, cluster="shop2")
    yield "an unknown access key fails", not _verifies(make_token("shop", "AKIDUNKNOWN", SECRET))
    yield "a wrong secret fails", not _verifies(make_token("shop", AKID, SECRET + "x"))
    yield "still valid within 5 s of skew", _verifies(token, clock=lambda: now + 62)
    yield "expired after X-Amz-Expires + 5 s", not _verifies(token, clock=lambda: now + 70)
    yield "a date 5 min in the future fails", not _verifies(token, clock=lambda: now - 310)
    yield "X-Amz-Expires over 900 fails", not _verifies(make_token("shop", AKID, SECRET,
                                                                    expires=901))
    yield "a non-whitelisted parameter fails", not _verifies(_token_of(url + "&Foo=bar"))
    yield "a non-STS host fails", \
        not _verifies(_token_of(url.replace("sts.us-east-1.amazonaws.com", "example.com")))
    yield "the regional host must match the scope", \
        not _verifies(_token_of(url.replace("sts.us-east-1.", "sts.eu-west-1.")))
    temporary = {AKID: Credential(AKID, SECRET, ARN, "session-token/with+special=chars")}
    with_session = make_token("shop", AKID, SECRET, "session-token/with+special=chars")
    yield "a token with X-Amz-Security-Token verifies", \
        _verifies(with_session, credentials=temporary)
    yield "a temporary key without its session token fails", \
        not _verifies(token, credentials=temporary)
    yield "a token for the global sts.amazonaws.com verifies", _verifies(_global_token())


def _global_token() -> str:
    from botocore.auth import SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    request = AWSRequest(method="GET", url="https://sts.amazonaws.com/?Action=GetCallerIdentity"
                         "&Version=2011-06-15", headers={"x-k8s-aws-id": "shop"})
    SigV4QueryAuth(Credentials(AKID, SECRET), "sts", "us-east-1", expires=60).add_auth(request)
    return _token_of(request.url)


def _shape_checks():
    user = "arn:aws:iam::100000000001:role/x"
    yield "403 body for a cluster-scoped list", forbidden(
        user, "list", resource="pods").body() == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'pods is forbidden: User "arn:aws:iam::100000000001:role/x" cannot list '
                   'resource "pods" in API group "" at the cluster scope',
        "reason": "Forbidden", "details": {"kind": "pods"}, "code": 403}
    yield "403 message for a named get", forbidden(
        user, "get", resource="daemonsets", group="apps", namespace="kube-system",
        name="aws-node").message == (
        'daemonsets.apps "aws-node" is forbidden: User "arn:aws:iam::100000000001:role/x" '
        'cannot get resource "daemonsets" in API group "apps" in the namespace "kube-system"')
    ds = {"spec": {"template": {"spec": {"containers": [{"name": "aws-node", "env": [
        {"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}]}}}}
    patch = {"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "aws-node"}],
        "containers": [{"name": "aws-node", "$setElementOrder/env": [
            {"name": "A"}, {"name": "B"}, {"name": "C"}],
            "env": [{"name": "B", "value": "3"}, {"name": "C", "value": "4"}]}]}}}}
    merged = strategic_merge(ds, patch)
    yield "strategic merge patch merges env by name", \
        merged["spec"]["template"]["spec"]["containers"][0]["env"] == [
            {"name": "A", "value": "1"}, {"name": "B", "value": "3"}, {"name": "C", "value": "4"}]
    yield "strategic merge leaves the original alone", \
        ds["spec"]["template"]["spec"]["containers"][0]["env"][1]["value"] == "2"
    deleted = strategic_merge(ds, {"spec": {"template": {"spec": {"containers": [
        {"name": "aws-node", "env": [{"name": "A", "$patch": "delete"}]}]}}}})
    yield "strategic merge $patch: delete removes an element", \
        deleted["spec"]["template"]["spec"]["containers"][0]["env"] == [{"name": "B", "value": "2"}]
    yield "merge patch: null deletes, maps merge", merge_patch(
        {"a": {"b": 1, "c": 2}, "d": [1]}, {"a": {"b": None}, "d": [2]}) == {"a": {"c": 2}, "d": [2]}
    yield "json patch add/replace/remove", json_patch(
        {"a": [1, 2], "b": {"c": 1}},
        [{"op": "add", "path": "/a/-", "value": 3}, {"op": "replace", "path": "/b/c", "value": 2},
         {"op": "remove", "path": "/a/0"}]) == {"a": [2, 3], "b": {"c": 2}}
    pods = BY_PLURAL["pods"]
    sel = FieldSelector("spec.nodeName=n1,status.phase!=Failed", pods.field_labels)
    yield "field selector: = and != joined by commas", sel.matches(
        {"spec.nodeName": "n1", "status.phase": "Running"}) and not sel.matches(
        {"spec.nodeName": "n1", "status.phase": "Failed"})
    try:
        FieldSelector("spec.foo=x", pods.field_labels)
        unsupported = False
    except KubeError as err:
        unsupported = err.code == 400 and err.message == "field label not supported: spec.foo"
    yield "field selector: an unsupported label is 400", unsupported
    labels = LabelSelector("app=web,tier in (a,b),!legacy")
    yield "label selector: equality, set and existence", labels.matches(
        {"app": "web", "tier": "b"}) and not labels.matches({"app": "web", "tier": "c"}) \
        and not labels.matches({"app": "web", "tier": "a", "legacy": "1"})
    yield "continue token round trip", \
        decode_continue("pods", encode_continue("pods", 1234, 56)) == (1234, 56)
    try:
        decode_continue("nodes", encode_continue("pods", 1234, 56))
        misused = False
    except KubeError as err:
        misused = err.code == 400
    yield "a continue token of another resource is 400", misused
    try:
        decode_continue("pods", "not-a-token")
        bad = False
    except KubeError as err:
        bad = err.code == 400 and err.message.startswith("invalid continue token")
    yield "a malformed continue token is 400", bad


def run() -> int:
    passed = failed = 0
    for group in (_token_checks, _shape_checks):
        for name, ok in group():
            print(f"{'ok  ' if ok else 'FAIL'} {name}")
            passed, failed = passed + bool(ok), failed + (not ok)
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1
