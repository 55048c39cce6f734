"""The three PATCH bodies kube-apiserver accepts for JSON (apply-patch+yaml is not served):

- `application/json-patch+json`, RFC 6902: add, remove, replace, move, copy, test on RFC 6901
  pointers.
- `application/merge-patch+json`, RFC 7386: maps merged recursively, `null` deletes a key, any
  other value (lists included) replaces.
- `application/strategic-merge-patch+json` (built-in types only; a custom resource answers 415 as
  the real server does): a merge patch in which lists of objects that the Kubernetes types
  declare `patchStrategy:"merge"` are merged element by element on their `patchMergeKey`
  (containers and env by `name`, volumeMounts by `mountPath`, ...), with the directives
  `$patch: replace|delete` (map and list element), `$retainKeys`, `$setElementOrder/<list>` and
  `$deleteFromPrimitiveList/<list>` (k8s.io/apimachinery/pkg/util/strategicpatch). This is the
  subset `kubectl set env`, `kubectl patch` and `kubectl edit` send for workload objects.
"""

from __future__ import annotations

import copy
import json

from .status import bad_request, invalid, unsupported_media_type

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"

#: patchMergeKey of the list fields with patchStrategy "merge" in the core and apps types.
MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name",
    "env": "name", "volumes": "name", "volumeMounts": "mountPath", "volumeDevices": "devicePath",
    "imagePullSecrets": "name", "conditions": "type", "ownerReferences": "uid",
    "hostAliases": "ip", "topologySpreadConstraints": "topologyKey",
    "resourceClaims": "name", "readinessGates": "conditionType",
}
#: Lists of scalars merged as sets (patchStrategy "merge" without a key).
MERGED_PRIMITIVE_LISTS = frozenset({"finalizers"})


def apply(obj: dict, content_type: str, raw: bytes, custom: bool) -> dict:
    """The object `obj` (never modified) with the patch `raw` applied."""
    media = content_type.split(";", 1)[0].strip().lower()
    accepted = [JSON_PATCH, MERGE_PATCH, APPLY_PATCH] + ([] if custom else [STRATEGIC_PATCH])
    if media not in accepted or media == APPLY_PATCH:
        raise unsupported_media_type(accepted)
    try:
        patch = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as err:
        raise bad_request(f"error decoding patch: {err}") from None
    if media == JSON_PATCH:
        if not isinstance(patch, list):
            raise bad_request("json: cannot unmarshal object into Go value of type "
                              "jsonpatch.Patch")
        return json_patch(obj, patch)
    if not isinstance(patch, dict):
        raise bad_request("json: cannot unmarshal non-object into Go value of type "
                          "map[string]interface {}")
    if media == MERGE_PATCH:
        return merge_patch(obj, patch)
    return strategic_merge(obj, patch)


# RFC 7386 ------------------------------------------------------------------------------------

def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# RFC 6902 ------------------------------------------------------------------------------------

def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise invalid(f"JSON pointer {path!r} must start with '/'")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _index(container: list, token: str, allow_end: bool) -> int:
    if token == "-" and allow_end:
        return len(container)
    if not token.isdigit() or (len(token) > 1 and token.startswith("0")):
        raise invalid(f"invalid array index {token!r}")
    index = int(token)
    if index > len(container) or (index == len(container) and not allow_end):
        raise invalid(f"array index {index} out of bounds")
    return index


def _parent(doc, tokens: list[str], path: str):
    node = doc
    for token in tokens[:-1]:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(node, token, False)]
        else:
            raise invalid(f"doc is missing path: {path!r}")
    return node


def _get(doc, path: str):
    tokens = _pointer(path)
    if not tokens:
        return doc
    parent, last = _parent(doc, tokens, path), tokens[-1]
    if isinstance(parent, dict) and last in parent:
        return parent[last]
    if isinstance(parent, list):
        return parent[_index(parent, last, False)]
    raise invalid(f"doc is missing key: {path!r}")


def _remove(doc, path: str):
    tokens = _pointer(path)
    if not tokens:
        raise invalid("cannot remove the whole document")
    parent, last = _parent(doc, tokens, path), tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise invalid(f"remove operation does not apply: doc is missing path: {path!r}")
        return parent.pop(last)
    if isinstance(parent, list):
        return parent.pop(_index(parent, last, False))
    raise invalid(f"remove operation does not apply: doc is missing path: {path!r}")


def _add(doc, path: str, value, replace: bool):
    tokens = _pointer(path)
    if not tokens:
        return value
    parent, last = _parent(doc, tokens, path), tokens[-1]
    if isinstance(parent, dict):
        if replace and last not in parent:
            raise invalid(f"replace operation does not apply: doc is missing key: {path!r}")
        parent[last] = value
    elif isinstance(parent, list):
        if replace:
            parent[_index(parent, last, False)] = value
        else:
            parent.insert(_index(parent, last, True), value)
    else:
        raise invalid(f"add operation does not apply: doc is missing path: {path!r}")
    return doc


def json_patch(obj: dict, ops: list) -> dict:
    doc = copy.deepcopy(obj)
    for i, op in enumerate(ops):
        if not isinstance(op, dict) or not isinstance(op.get("path"), str):
            raise bad_request(f"patch operation {i} needs an object with a string \"path\"")
        kind, path = op.get("op"), op["path"]
        if kind in ("add", "replace", "test") and "value" not in op:
            raise bad_request(f"patch operation {i} ({kind}) needs a value")
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(op["value"]), replace=False)
        elif kind == "replace":
            doc = _add(doc, path, copy.deepcopy(op["value"]), replace=True)
        elif kind == "remove":
            _remove(doc, path)
        elif kind in ("move", "copy"):
            source = op.get("from")
            if not isinstance(source, str):
                raise bad_request(f"patch operation {i} ({kind}) needs a string \"from\"")
            value = _remove(doc, source) if kind == "move" else copy.deepcopy(_get(doc, source))
            doc = _add(doc, path, value, replace=False)
        elif kind == "test":
            if _get(doc, path) != op["value"]:
                raise invalid(f"testing value {path} failed: test failed")
        else:
            raise bad_request(f"unexpected kind of operation {kind!r} in patch operation {i}")
    if not isinstance(doc, dict):
        raise bad_request("the patched document is not an object")
    return doc


# Strategic merge patch -----------------------------------------------------------------------

def strategic_merge(original: dict, patch: dict) -> dict:
    merged = _merge_map(original, patch)
    if merged is None:
        raise bad_request("a strategic merge patch cannot delete the whole object")
    return merged


def _strip(value):
    """A patch value placed where nothing was: directives resolved against an empty original."""
    if isinstance(value, dict):
        return _merge_map({}, value)
    if isinstance(value, list):
        return [_strip(v) for v in value if not (isinstance(v, dict) and v.get("$patch"))]
    return value


def _merge_map(original: dict, patch: dict) -> dict | None:
    directive = patch.get("$patch")
    if directive == "delete":
        return None
    if directive == "replace":
        return {k: _strip(v) for k, v in patch.items() if k != "$patch"}
    if directive is not None:
        raise bad_request(f"unknown patch type: {directive!r} in map: {patch!r}")
    result = dict(original)
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        current = result.get(key)
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict) and isinstance(current, dict):
            merged = _merge_map(current, value)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list) and isinstance(current, list):
            result[key] = _merge_list(key, current, value)
        else:
            result[key] = _strip(value)
    for key, value in patch.items():
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            if not isinstance(value, list):
                raise bad_request(f"{key} must be a list")
            if isinstance(result.get(field), list):
                result[field] = [v for v in result[field] if v not in value]
        elif key.startswith("$setElementOrder/"):
            field = key.split("/", 1)[1]
            if not isinstance(value, list):
                raise bad_request(f"{key} must be a list")
            if isinstance(result.get(field), list):
                result[field] = _reorder(field, result[field], value)
    retain = patch.get("$retainKeys")
    if retain is not None:
        if not isinstance(retain, list):
            raise bad_request("$retainKeys must be a list")
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _merge_key(field: str, items: list) -> str | None:
    if field == "ports":  # containerPort for container ports, port for service ports
        sample = next((i for i in items if isinstance(i, dict)), {})
        return "containerPort" if "containerPort" in sample else "port"
    return MERGE_KEYS.get(field)


def _merge_list(field: str, current: list, patch: list) -> list:
    if field in MERGED_PRIMITIVE_LISTS:
        return current + [v for v in patch if v not in current]
    key = _merge_key(field, patch or current)
    if key is None or not all(isinstance(i, dict) for i in patch):
        return [_strip(v) for v in patch]
    if any(i.get("$patch") == "replace" for i in patch):
        return [_strip(i) for i in patch if i.get("$patch") != "replace"]
    result = list(current)
    for item in patch:
        if key not in item:
            raise bad_request(f"map: {item!r} does not contain declared merge key: {key}")
        position = next((n for n, c in enumerate(result)
                         if isinstance(c, dict) and c.get(key) == item[key]), None)
        if item.get("$patch") == "delete":
            if position is not None:
                result.pop(position)
            continue
        if position is None:
            result.append(_strip(item))
        else:
            merged = _merge_map(result[position], item)
            if merged is None:
                result.pop(position)
            else:
                result[position] = merged
    return result


def _reorder(field: str, items: list, order: list) -> list:
    """Honour `$setElementOrder`: listed elements first, in the listed order, then the rest."""
    key = _merge_key(field, order)
    if key is None:
        ranks = {json.dumps(v, sort_keys=True): n for n, v in enumerate(order)}
        ident = lambda v: json.dumps(v, sort_keys=True)  # noqa: E731
    else:
        ranks = {o.get(key): n for n, o in enumerate(order) if isinstance(o, dict)}
        ident = lambda v: v.get(key) if isinstance(v, dict) else None  # noqa: E731
    listed = sorted((v for v in items if ident(v) in ranks), key=lambda v: ranks[ident(v)])
    return listed + [v for v in items if ident(v) not in ranks]

