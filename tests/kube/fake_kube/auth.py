"""Authentication as EKS does it: aws-iam-authenticator bearer tokens, access entries or the
aws-auth mapping, and (optionally) client certificates.

Token format and server-side checks follow aws-iam-authenticator (pkg/token/token.go,
`tokenVerifier.Verify`): `k8s-aws-v1.` + base64url (no padding) of a presigned STS
`GetCallerIdentity` GET URL; https, an STS host, path `/`, only whitelisted query parameters,
each at most once, `X-Amz-SignedHeaders` including `x-k8s-aws-id`, a date not in the future and
not expired. Where the real authenticator then forwards the URL to STS, we verify the SigV4
query signature ourselves (AWS "Create a signed AWS API request", query-string variant) against
the cluster's credential table, with `x-k8s-aws-id` set to *this* cluster's name, so a token made
for another cluster fails exactly as on EKS.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import hashlib
import hmac
import re
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, urlsplit

TOKEN_PREFIX = "k8s-aws-v1."
#: aws-iam-authenticator's parameterWhitelist (it compares lower-cased names).
ALLOWED_PARAMETERS = frozenset({
    "action", "version", "x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-expires",
    "x-amz-security-token", "x-amz-signature", "x-amz-signedheaders",
})
MAX_EXPIRES = 900
CLOCK_SKEW = 5
MAX_FUTURE = 300
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
STS_HOST = re.compile(r"sts(?:\.([a-z0-9-]+))?\.amazonaws\.com")
ASSUMED_ROLE = re.compile(r"arn:(aws[a-z-]*):sts::(\d{12}):assumed-role/([^/]+)/(.+)")
IAM_ROLE = re.compile(r"arn:(aws[a-z-]*):iam::(\d{12}):role/(?:.*/)?([^/]+)")
IAM_USER = re.compile(r"arn:(aws[a-z-]*):iam::(\d{12}):user/(?:.*/)?([^/]+)")

#: The group every authenticated user is in (kube-apiserver adds it).
AUTHENTICATED = "system:authenticated"


class AuthError(Exception):
    """A request that must be answered 401; the message is logged, never sent."""


@dataclass(frozen=True)
class User:
    name: str
    groups: tuple[str, ...]
    #: EKS access policies associated with the access entry that authenticated this user.
    policies: tuple[str, ...] = ()


@dataclass(frozen=True)
class Credential:
    access_key_id: str
    secret_access_key: str
    arn: str
    #: Temporary credentials: STS accepts the key only together with its session token.
    session_token: str | None = None


def sigv4_encode(value: str) -> str:
    """URI-encode per SigV4: RFC 3986 unreserved characters kept, the rest %XX upper-case."""
    return quote(value, safe="-_.~")


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = _hmac(("AWS4" + secret).encode(), date)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    return key


def presigned_signature(secret: str, host: str, params: list[tuple[str, str]],
                        header_values: dict[str, str]) -> str:
    """The hex SigV4 signature of a presigned `GET https://host/?params` request whose signed
    headers (`X-Amz-SignedHeaders`) take their values from `header_values`."""
    query = dict(params)
    canonical_query = "&".join(
        f"{n}={v}" for n, v in sorted((sigv4_encode(n), sigv4_encode(v))
                                      for n, v in params if n != "X-Amz-Signature"))
    signed = query["X-Amz-SignedHeaders"]
    canonical_headers = "".join(f"{h}:{header_values[h]}\n" for h in signed.split(";"))
    canonical_request = "\n".join(
        ["GET", "/", canonical_query, canonical_headers, signed, EMPTY_SHA256])
    _, date, region, service, _ = query["X-Amz-Credential"].split("/")
    string_to_sign = "\n".join([
        "AWS4-HMAC-SHA256", query["X-Amz-Date"], f"{date}/{region}/{service}/aws4_request",
        hashlib.sha256(canonical_request.encode()).hexdigest()])
    key = signing_key(secret, date, region, service)
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


class TokenVerifier:
    """Verifies `k8s-aws-v1.` tokens for one cluster; answers the caller's IAM ARN."""

    def __init__(self, cluster_name: str, credentials: dict[str, Credential],
                 clock=time.time):
        self.cluster_name = cluster_name
        self.credentials = credentials
        self.clock = clock

    def verify(self, token: str) -> str:
        if not token.startswith(TOKEN_PREFIX):
            raise AuthError(f'token is missing the expected "{TOKEN_PREFIX}" prefix')
        encoded = token[len(TOKEN_PREFIX):]
        try:
            url = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError) as err:
            raise AuthError(f"token is not base64url: {err}") from None
        parts = urlsplit(url)
        if parts.scheme != "https":
            raise AuthError(f"unexpected scheme {parts.scheme!r} in pre-signed URL")
        host = (parts.hostname or "").lower()
        host_match = STS_HOST.fullmatch(host)
        if host_match is None:
            raise AuthError(f"unexpected hostname {host!r} in pre-signed URL")
        if parts.path != "/":
            raise AuthError(f"unexpected path {parts.path!r} in pre-signed URL")
        if parts.fragment:
            raise AuthError("unexpected fragment in pre-signed URL")
        params = self._parameters(parts.query)
        query = dict(params)

        if query.get("Action") != "GetCallerIdentity":
            raise AuthError("unexpected action parameter in pre-signed URL")
        if query.get("Version") != "2011-06-15":
            raise AuthError("unexpected Version parameter in pre-signed URL")
        if query.get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256":
            raise AuthError("unexpected X-Amz-Algorithm in pre-signed URL")
        for name in ("X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders",
                     "X-Amz-Signature"):
            if name not in query:
                raise AuthError(f"pre-signed URL lacks {name}")

        signed_headers = query["X-Amz-SignedHeaders"].split(";")
        if "x-k8s-aws-id" not in signed_headers:
            raise AuthError("client did not sign the x-k8s-aws-id header in the pre-signed URL")
        if "host" not in signed_headers:
            raise AuthError("client did not sign the host header in the pre-signed URL")
        unknown = [h for h in signed_headers if h not in ("host", "x-k8s-aws-id")]
        if unknown or signed_headers != sorted(signed_headers):
            raise AuthError(f"unexpected X-Amz-SignedHeaders {query['X-Amz-SignedHeaders']!r}")

        signed_at = self._check_time(query["X-Amz-Date"], query["X-Amz-Expires"])
        credential = query["X-Amz-Credential"].split("/")
        if len(credential) != 5 or credential[3:] != ["sts", "aws4_request"]:
            raise AuthError(f"malformed X-Amz-Credential {query['X-Amz-Credential']!r}")
        akid, date, region = credential[:3]
        if date != signed_at[:8]:
            raise AuthError("X-Amz-Credential date does not match X-Amz-Date")
        host_region = host_match.group(1) or "us-east-1"
        if region != host_region:
            raise AuthError(f"credential scope region {region!r} does not match host {host!r}")
        known = self.credentials.get(akid)
        if known is None:
            raise AuthError(f"unknown access key id {akid!r}")
        if known.session_token is not None and \
                query.get("X-Amz-Security-Token") != known.session_token:
            raise AuthError(f"access key {akid} is temporary and the URL lacks its session token")

        netloc = parts.netloc.lower()
        if netloc.endswith(":443"):
            netloc = netloc[:-4]
        expected = presigned_signature(known.secret_access_key, netloc, params,
                                       {"host": netloc, "x-k8s-aws-id": self.cluster_name})
        if not hmac.compare_digest(expected, query["X-Amz-Signature"]):
            raise AuthError("signature does not match (wrong secret, altered URL, or a token "
                            f"for another cluster than {self.cluster_name!r})")
        return known.arn

    @staticmethod
    def _parameters(raw_query: str) -> list[tuple[str, str]]:
        try:
            params = parse_qsl(raw_query, keep_blank_values=True, strict_parsing=True)
        except ValueError as err:
            raise AuthError(f"malformed query in pre-signed URL: {err}") from None
        seen = set()
        for name, _ in params:
            if name.lower() not in ALLOWED_PARAMETERS:
                raise AuthError(f"non-whitelisted query parameter {name!r}")
            if name.lower() in seen:
                raise AuthError(f"query parameter {name!r} given more than once")
            seen.add(name.lower())
        return params

    def _check_time(self, amz_date: str, amz_expires: str) -> str:
        try:
            signed = calendar.timegm(time.strptime(amz_date, "%Y%m%dT%H%M%SZ"))
        except ValueError:
            raise AuthError(f"malformed X-Amz-Date {amz_date!r}") from None
        if not amz_expires.isdigit() or not 0 < int(amz_expires) <= MAX_EXPIRES:
            raise AuthError(f"X-Amz-Expires {amz_expires!r} is not 1..{MAX_EXPIRES} seconds")
        now = self.clock()
        if signed > now + MAX_FUTURE:
            raise AuthError(f"X-Amz-Date {amz_date} is in the future")
        if signed + int(amz_expires) + CLOCK_SKEW < now:
            raise AuthError(f"token expired (signed {amz_date}, valid {amz_expires} s)")
        return amz_date


@dataclass(frozen=True)
class Caller:
    """An STS caller identity, as EKS sees it."""
    #: The ARN an access entry or aws-auth entry names: an assumed role's role ARN (no path).
    principal: str
    account: str
    #: The role session name ("" for an IAM user).
    session: str
    #: EKS's generated access-entry username: the STS ARN of the assumed role with
    #: `{{SessionName}}` (so the caller's own ARN), or the IAM user's ARN.
    default_username: str


def principal_of(arn: str) -> Caller:
    m = ASSUMED_ROLE.fullmatch(arn)
    if m:
        partition, account, role, session = m.groups()
        return Caller(f"arn:{partition}:iam::{account}:role/{role}", account, session,
                      f"arn:{partition}:sts::{account}:assumed-role/{role}/{{{{SessionName}}}}")
    m = IAM_ROLE.fullmatch(arn) or IAM_USER.fullmatch(arn)
    if m:
        return Caller(arn, m.group(2), "", arn)
    raise AuthError(f"caller ARN {arn!r} is neither an assumed role, a role nor a user")


def _same_principal(configured: str, principal: str) -> bool:
    """Role ARNs match whatever their path (an assumed-role ARN carries none)."""
    if configured == principal:
        return True
    a, b = IAM_ROLE.fullmatch(configured), IAM_ROLE.fullmatch(principal)
    return bool(a and b and a.groups() == b.groups())


def _render_username(template: str, caller: Caller) -> str:
    """The username templates of access entries and aws-auth (`{{SessionName}}` has `@`
    replaced by `-`, as aws-iam-authenticator does; `{{SessionNameRaw}}` does not)."""
    return (template.replace("{{AccountID}}", caller.account)
            .replace("{{SessionNameRaw}}", caller.session)
            .replace("{{SessionName}}", caller.session.replace("@", "-")))


@dataclass(frozen=True)
class AccessEntry:
    principal_arn: str
    kubernetes_groups: tuple[str, ...] = ()
    policies: tuple[str, ...] = ()
    #: EKS's `username` template; None = EKS's generated one (see Caller.default_username).
    username: str | None = None


@dataclass(frozen=True)
class AwsAuthMapping:
    """One `mapRoles`/`mapUsers` entry of the aws-auth ConfigMap."""
    arn: str
    username: str | None = None
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class Authenticator:
    """Maps a request's credentials to a Kubernetes user for one cluster."""
    cluster_name: str
    authentication_mode: str
    credentials: dict[str, Credential] = field(default_factory=dict)
    access_entries: tuple[AccessEntry, ...] = ()
    aws_auth: tuple[AwsAuthMapping, ...] = ()
    client_cert_users: bool = False

    def authenticate(self, authorization: str | None, peer_subject: dict[str, list[str]] | None,
                     clock=time.time) -> User:
        # kube-apiserver's union authenticator tries x509 first, then bearer tokens.
        if self.client_cert_users and peer_subject and peer_subject.get("commonName"):
            groups = tuple(peer_subject.get("organizationName", ())) + (AUTHENTICATED,)
            return User(peer_subject["commonName"][0], groups)
        if not authorization:
            raise AuthError("no credentials")
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError(f"unsupported Authorization scheme {scheme!r}")
        arn = TokenVerifier(self.cluster_name, self.credentials, clock).verify(token.strip())
        return self.map_identity(arn)

    def map_identity(self, arn: str) -> User:
        """EKS's mapping: access entries (API modes) first, then aws-auth (CONFIG_MAP modes)."""
        caller = principal_of(arn)
        if self.authentication_mode in ("API", "API_AND_CONFIG_MAP"):
            for entry in self.access_entries:
                if _same_principal(entry.principal_arn, caller.principal):
                    name = _render_username(entry.username or caller.default_username, caller)
                    return User(name, entry.kubernetes_groups + (AUTHENTICATED,), entry.policies)
        if self.authentication_mode in ("CONFIG_MAP", "API_AND_CONFIG_MAP"):
            for mapping in self.aws_auth:
                if _same_principal(mapping.arn, caller.principal):
                    name = _render_username(mapping.username or caller.default_username, caller)
                    return User(name, mapping.groups + (AUTHENTICATED,))
        raise AuthError(f"{arn} (principal {caller.principal}) has no access entry or aws-auth "
                        f"mapping in authentication mode {self.authentication_mode}")
