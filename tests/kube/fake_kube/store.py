"""The objects of one cluster, and list/get/patch on them as kube-apiserver's etcd3 store does.

- Objects of a kind are kept in etcd's key order (`<namespace>/<name>`, byte order), which is the
  order of every list response.
- resourceVersions come from one process-wide counter (etcd's revision): each replacement of a
  kind gives every object of it a new one, and a patch that changes an object gives it the next.
- Lists (`limit`/`continue`, k8s.io/apiserver/pkg/storage/etcd3/store.go GetList): a page of
  `limit` items, a `continue` token while keys remain after the last item, `remainingItemCount`
  only for lists without selectors, `metadata.resourceVersion` = the snapshot's revision on every
  page. The token is opaque (base64url JSON `{"r": resource, "rv", "start"}`); a malformed one is 400 "invalid
  continue token", and one older than the kind's last change is 410 Expired (this store keeps no
  history to serve an old snapshot from, which is what a compacted etcd says too).
- List items carry no kind/apiVersion (they are encoded as members of a typed List); a get answers
  the object with both.

Tables are immutable: a change builds a new table and swaps it in under the store's lock, so a list
in progress reads a consistent snapshot without holding a lock.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass

from . import patch as patching
from .resources import BY_PLURAL, OPTIONAL_KINDS, Resource
from .selectors import FieldSelector, LabelSelector, field_value
from .status import (KubeError, bad_request, conflict, expired, invalid, not_found,
                     not_found_path)
from .synthetic import SyntheticPods

NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
#: Kinds whose metadata.generation counts spec changes (workloads and custom resources).
GENERATION_KINDS = frozenset({"daemonsets", "deployments", "replicasets", "eniconfigs"})


def dumps(obj) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


class Revisions:
    """etcd's revision counter, shared by every cluster of the process."""

    def __init__(self, start: int = 1000):
        self._lock = threading.Lock()
        self.current = start

    def allocate(self, n: int = 1) -> int:
        """Reserve `n` consecutive revisions; returns the first."""
        with self._lock:
            first = self.current + 1
            self.current += n
            return first


def _key(resource: Resource, obj: dict) -> str:
    meta = obj["metadata"]
    return f"{meta['namespace']}/{meta['name']}" if resource.namespaced else meta["name"]


class StoredTable:
    """The objects of one kind, as given through the control API."""

    def __init__(self, resource: Resource, objects: list[dict], changed_rv: int):
        self.resource = resource
        self.objects = sorted(objects, key=lambda o: _key(resource, o))
        self.keys = [_key(resource, o) for o in self.objects]
        self.items = [dumps({k: v for k, v in o.items() if k not in ("kind", "apiVersion")})
                      for o in self.objects]
        self.changed_rv = changed_rv

    @classmethod
    def build(cls, resource: Resource, objects, revisions: Revisions) -> StoredTable:
        """Validate `objects` (as the control API got them) and give them new revisions."""
        if not isinstance(objects, list):
            raise ValueError(f"objects.{resource.plural} must be a list of {resource.kind} objects")
        first = revisions.allocate(len(objects) + 1)
        seen = set()
        for n, obj in enumerate(objects):
            where = f"objects.{resource.plural}[{n}]"
            _prepare(resource, obj, where, str(first + n))
            key = _key(resource, obj)
            if key in seen:
                raise ValueError(f"{where}: {resource.kind} {key} is given twice")
            seen.add(key)
        return cls(resource, objects, first + len(objects))

    def with_object(self, position: int, obj: dict, changed_rv: int) -> StoredTable:
        objects = list(self.objects)
        objects[position] = obj
        return StoredTable(self.resource, objects, changed_rv)

    def count(self) -> int:
        return len(self.objects)

    def key_at(self, position: int) -> str:
        return self.keys[position]

    def ns_range(self, namespace: str) -> tuple[int, int]:
        return (bisect.bisect_left(self.keys, namespace + "/"),
                bisect.bisect_left(self.keys, namespace + "0"))

    def find(self, namespace: str, name: str) -> int | None:
        key = f"{namespace}/{name}" if self.resource.namespaced else name
        position = bisect.bisect_left(self.keys, key)
        return position if position < len(self.keys) and self.keys[position] == key else None

    def candidates(self, lo: int, hi: int, field_selector):
        return iter(range(lo, hi))

    def fields_at(self, position: int) -> dict[str, str]:
        obj = self.objects[position]
        return {label: field_value(obj, label) for label in self.resource.field_labels}

    def labels_at(self, position: int) -> dict[str, str]:
        return self.objects[position]["metadata"].get("labels") or {}

    def item_json(self, position: int) -> str:
        return self.items[position]

    def object_json(self, position: int) -> str:
        return dumps(self.objects[position])


def _prepare(resource: Resource, obj, where: str, rv: str) -> None:
    """Check an object as the apiserver would on create, and fill in what the server sets."""
    if not isinstance(obj, dict):
        raise ValueError(f"{where} must be an object")
    for field, want in (("kind", resource.kind), ("apiVersion", resource.api_version)):
        if obj.setdefault(field, want) != want:
            raise ValueError(f"{where}: {field} is {obj[field]!r}, expected {want!r}")
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        raise ValueError(f"{where}: metadata is required")
    name = meta.get("name")
    if not isinstance(name, str) or not NAME.fullmatch(name) or len(name) > 253:
        raise ValueError(f"{where}: metadata.name {name!r} is not a valid object name")
    namespace = meta.get("namespace")
    if resource.namespaced and (not isinstance(namespace, str) or not NAME.fullmatch(namespace)):
        raise ValueError(f"{where}: {resource.kind} {name} needs a metadata.namespace")
    if not resource.namespaced and namespace:
        raise ValueError(f"{where}: {resource.kind} is cluster-scoped; drop metadata.namespace")
    for field in ("labels", "annotations"):
        values = meta.get(field)
        if values is not None and (not isinstance(values, dict) or
                                   not all(isinstance(v, str) for v in values.values())):
            raise ValueError(f"{where}: metadata.{field} must map strings to strings")
    meta.setdefault("uid", str(uuid.uuid4()))
    meta["resourceVersion"] = rv
    meta.setdefault("creationTimestamp", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    if resource.plural in GENERATION_KINDS:
        meta.setdefault("generation", 1)


@dataclass(frozen=True)
class ListOptions:
    limit: int
    continue_token: str
    field_selector: FieldSelector | None
    label_selector: LabelSelector | None

    @classmethod
    def parse(cls, resource: Resource, query: dict[str, list[str]]) -> ListOptions:
        def one(name: str) -> str:
            values = query.get(name) or [""]
            return values[0]

        raw_limit = one("limit")
        try:
            limit = int(raw_limit) if raw_limit else 0
        except ValueError:
            raise bad_request(f'limit: Invalid value: "{raw_limit}": must be an integer') from None
        token = one("continue")
        rv, rv_match = one("resourceVersion"), one("resourceVersionMatch")
        if token and rv and rv != "0":
            raise bad_request("specifying resource version is not allowed when using continue")
        if rv_match and not rv:
            raise invalid('ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: '
                          "Forbidden: resourceVersionMatch is forbidden unless resourceVersion "
                          "is provided")
        fields = FieldSelector(one("fieldSelector"), resource.field_labels)
        labels = LabelSelector(one("labelSelector"))
        return cls(max(limit, 0), token, fields or None, labels or None)


def encode_continue(resource: str, rv: int, start: int) -> str:
    raw = json.dumps({"r": resource, "rv": rv, "start": start}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_continue(resource: str, token: str) -> tuple[int, int]:
    """(snapshot revision, start position) of a token this store issued for `resource`."""
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        rv, start = data["rv"], data["start"]
        if not (isinstance(rv, int) and isinstance(start, int) and rv > 0 and start >= 0):
            raise ValueError("rv and start must be non-negative integers")
        if data.get("r") != resource:
            raise ValueError(f"the token continues a list of {data.get('r')}, not {resource}")
    except (binascii.Error, ValueError, KeyError, TypeError, AttributeError,
            UnicodeDecodeError) as err:
        raise bad_request(f"invalid continue token: {err}") from None
    return rv, start


class ClusterStore:
    """Every object of one cluster, by kind (plural resource name)."""

    def __init__(self, revisions: Revisions):
        self.revisions = revisions
        self.lock = threading.Lock()
        empty = revisions.allocate()
        self.tables: dict[str, StoredTable | SyntheticPods] = {
            r.plural: StoredTable(r, [], empty) for r in BY_PLURAL.values()
            if r.plural not in OPTIONAL_KINDS}

    @property
    def installed(self) -> frozenset[str]:
        return frozenset(self.tables)

    def replace(self, objects: dict, synthetic_pods=None) -> None:
        """Replace the kinds named in `objects` (and pods by `synthetic_pods` if given); a custom
        kind given as None is uninstalled. Everything is validated before anything changes."""
        if not isinstance(objects, dict):
            raise ValueError("objects must map a resource name (pods, nodes, ...) to a list")
        unknown = set(objects) - set(BY_PLURAL)
        if unknown:
            raise ValueError(f"objects: unknown kinds {sorted(unknown)}; known: "
                             f"{sorted(BY_PLURAL)}")
        if synthetic_pods is not None and "pods" in objects:
            raise ValueError("give either objects.pods or synthetic_pods, not both")
        new: dict[str, StoredTable | SyntheticPods | None] = {}
        for plural, objs in objects.items():
            if objs is None:
                if plural not in OPTIONAL_KINDS:
                    raise ValueError(f"objects.{plural} must be a list (null only uninstalls a "
                                     f"custom resource: {sorted(OPTIONAL_KINDS)})")
                new[plural] = None
            else:
                new[plural] = StoredTable.build(BY_PLURAL[plural], objs, self.revisions)
        if synthetic_pods is not None:
            new["pods"] = SyntheticPods(synthetic_pods, self.revisions.allocate)
        with self.lock:
            for plural, table in new.items():
                if table is None:
                    self.tables.pop(plural, None)
                else:
                    self.tables[plural] = table

    def table(self, resource: Resource):
        return self.tables.get(resource.plural)

    # Reads ------------------------------------------------------------------------------

    def list(self, resource: Resource, namespace: str, opts: ListOptions) -> str:
        table = self.table(resource)
        if table is None:  # a custom resource uninstalled since the request was routed
            raise not_found_path()
        if opts.continue_token:
            snapshot_rv, start = decode_continue(resource.plural, opts.continue_token)
            if table.changed_rv > snapshot_rv:
                raise expired()
        else:
            snapshot_rv, start = self.revisions.current, 0
        lo, hi = table.ns_range(namespace) if namespace else (0, table.count())
        start = max(start, lo)
        fields, labels = opts.field_selector, opts.label_selector
        page: list[int] = []
        for position in table.candidates(start, hi, fields):
            if fields and not fields.matches(table.fields_at(position)):
                continue
            if labels and not labels.matches(table.labels_at(position)):
                continue
            page.append(position)
            if opts.limit and len(page) == opts.limit:
                break
        meta = {"resourceVersion": str(snapshot_rv)}
        if opts.limit and len(page) == opts.limit and page[-1] + 1 < hi:
            meta["continue"] = encode_continue(resource.plural, snapshot_rv, page[-1] + 1)
            if not fields and not labels:
                meta["remainingItemCount"] = hi - page[-1] - 1
        head = (f'{{"kind":"{resource.list_kind}","apiVersion":"{resource.api_version}",'
                f'"metadata":{dumps(meta)},"items":[')
        return head + ",".join(table.item_json(p) for p in page) + "]}\n"

    def _locate(self, table, resource: Resource, namespace: str, name: str) -> int:
        if table is None:
            raise not_found_path()
        position = table.find(namespace, name)
        if position is None:
            raise not_found(resource.plural, resource.group, name)
        return position

    def get(self, resource: Resource, namespace: str, name: str) -> str:
        table = self.table(resource)
        return table.object_json(self._locate(table, resource, namespace, name)) + "\n"

    # Writes -----------------------------------------------------------------------------

    def patch(self, resource: Resource, namespace: str, name: str, content_type: str,
              body: bytes) -> str:
        with self.lock:
            table = self.table(resource)
            position = self._locate(table, resource, namespace, name)
            if isinstance(table, SyntheticPods):
                raise KubeError(405, "synthetic pods are read-only in this test server",
                                details={})
            old = table.objects[position]
            new = patching.apply(old, content_type, body, custom=resource.custom)
            self._check_identity(resource, old, new)
            if new == old:
                return table.object_json(position) + "\n"  # a no-op patch writes nothing
            new["metadata"] = dict(new["metadata"])  # never write into `old`'s metadata
            self._bump(resource, old, new)
            rv = self.revisions.allocate()
            new["metadata"]["resourceVersion"] = str(rv)
            self.tables[resource.plural] = table.with_object(position, new, rv)
            return dumps(new) + "\n"

    @staticmethod
    def _check_identity(resource: Resource, old: dict, new: dict) -> None:
        meta = new.get("metadata")
        if not isinstance(meta, dict):
            raise bad_request("the patched object has no metadata")
        old_meta = old["metadata"]
        for field in ("name", "namespace"):
            if meta.get(field) != old_meta.get(field):
                raise bad_request(f"the {field} of the object ({meta.get(field)}) does not match "
                                  f"the {field} on the URL ({old_meta.get(field)})")
        for field, want in (("kind", resource.kind), ("apiVersion", resource.api_version)):
            if new.get(field) != want:
                raise bad_request(f"the {field} of the patched object ({new.get(field)}) does "
                                  f"not match the expected {field} ({want})")
        if meta.get("uid") != old_meta.get("uid"):
            raise conflict(resource.plural, resource.group, old_meta["name"],
                           f"Precondition failed: UID in precondition: {meta.get('uid')}, UID in "
                           f"object meta: {old_meta.get('uid')}")
        if meta.get("resourceVersion") != old_meta.get("resourceVersion"):
            raise conflict(resource.plural, resource.group, old_meta["name"],
                           "the object has been modified; please apply your changes to the "
                           "latest version and try again")

    @staticmethod
    def _bump(resource: Resource, old: dict, new: dict) -> None:
        """metadata.generation and the DaemonSet template generation, as the registry
        strategies' PrepareForUpdate set them."""
        if resource.plural not in GENERATION_KINDS:
            return
        meta = new["metadata"] = dict(new["metadata"])
        old_spec = {k: v for k, v in old.items() if k not in ("metadata", "status")}
        new_spec = {k: v for k, v in new.items() if k not in ("metadata", "status")}
        if old_spec != new_spec:
            meta["generation"] = int(old["metadata"].get("generation", 1)) + 1
        if resource.plural == "daemonsets" and \
                (old.get("spec") or {}).get("template") != (new.get("spec") or {}).get("template"):
            annotations = meta["annotations"] = dict(meta.get("annotations") or {})
            key = "deprecated.daemonset.template.generation"
            annotations[key] = str(int(annotations.get(key, "0")) + 1)
