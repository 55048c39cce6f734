"""`fieldSelector` and `labelSelector` as kube-apiserver parses them (k8s.io/apimachinery/pkg/
fields and pkg/labels): field selectors `a=b`, `a==b`, `a!=b` joined by commas (AND), limited to
the field labels the type supports ("field label not supported: X" otherwise); label selectors
with equality (`=`, `==`, `!=`), existence (`k`, `!k`) and set (`in`, `notin`) requirements.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .status import bad_request

LABEL_KEY = re.compile(r"([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
                       r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?")
LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?")


@dataclass(frozen=True)
class FieldRequirement:
    label: str
    equal: bool
    value: str

    def matches(self, fields: dict[str, str]) -> bool:
        return (fields.get(self.label, "") == self.value) == self.equal


class FieldSelector:
    def __init__(self, text: str, supported: tuple[str, ...]):
        self.requirements: list[FieldRequirement] = []
        for term in (t.strip() for t in text.split(",")):
            if not term:
                continue
            m = re.fullmatch(r"([^=!]+?)\s*(==|=|!=)\s*(.*)", term)
            if m is None:
                raise bad_request(f"invalid selector: '{text}'; can't understand '{term}'")
            label, op, value = m.groups()
            if label not in supported:
                raise bad_request(f"field label not supported: {label}")
            self.requirements.append(FieldRequirement(label, op != "!=", value))

    def matches(self, fields: dict[str, str]) -> bool:
        return all(r.matches(fields) for r in self.requirements)

    def exact(self, label: str) -> str | None:
        """The value `label` must equal (RequiresExactMatch), if the selector pins it."""
        for r in self.requirements:
            if r.label == label and r.equal:
                return r.value
        return None

    def __bool__(self) -> bool:
        return bool(self.requirements)


@dataclass(frozen=True)
class LabelRequirement:
    key: str
    op: str  # in, notin, exists, !exists (= and == are `in`, != is `notin`)
    values: frozenset[str]

    def matches(self, labels: dict[str, str]) -> bool:
        present = self.key in labels
        if self.op == "exists":
            return present
        if self.op == "!exists":
            return not present
        if self.op == "in":
            return present and labels[self.key] in self.values
        return not present or labels[self.key] not in self.values


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside `( ... )`."""
    terms, depth, current = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            terms.append("".join(current))
            current = []
        else:
            current.append(ch)
    terms.append("".join(current))
    return [t.strip() for t in terms]


def _check_key(key: str, text: str) -> str:
    if not LABEL_KEY.fullmatch(key) or len(key.rsplit("/", 1)[-1]) > 63:
        raise bad_request(f"unable to parse requirement: <nil>: Invalid value: \"{key}\": "
                          f"name part must consist of alphanumeric characters, '-', '_' or '.' "
                          f"(in selector {text!r})")
    return key


def _check_value(value: str, text: str) -> str:
    if not LABEL_VALUE.fullmatch(value) or len(value) > 63:
        raise bad_request(f"unable to parse requirement: values[0]: Invalid value: \"{value}\": "
                          f"a valid label must be an empty string or consist of alphanumeric "
                          f"characters, '-', '_' or '.' (in selector {text!r})")
    return value


class LabelSelector:
    def __init__(self, text: str):
        self.requirements: list[LabelRequirement] = []
        if not text.strip():
            return
        for term in _split_top_level(text):
            self.requirements.append(self._parse(term, text))

    @staticmethod
    def _parse(term: str, text: str) -> LabelRequirement:
        if not term:
            raise bad_request(f"found '', expected: identifier (in selector {text!r})")
        m = re.fullmatch(r"(\S+)\s+(in|notin)\s*\((.*)\)", term)
        if m:
            key, op, values = m.groups()
            vals = frozenset(_check_value(v.strip(), text) for v in values.split(","))
            return LabelRequirement(_check_key(key, text), op, vals)
        m = re.fullmatch(r"([^=!\s]+)\s*(==|=|!=)\s*(\S*)", term)
        if m:
            key, op, value = m.groups()
            return LabelRequirement(_check_key(key, text), "notin" if op == "!=" else "in",
                                    frozenset({_check_value(value, text)}))
        if term.startswith("!"):
            return LabelRequirement(_check_key(term[1:].strip(), text), "!exists", frozenset())
        if re.fullmatch(r"\S+", term) and not any(c in term for c in "<>()"):
            return LabelRequirement(_check_key(term, text), "exists", frozenset())
        raise bad_request(f"unable to parse requirement: {term!r} (in selector {text!r}); this "
                          "server supports =, ==, !=, in, notin, exists and !exists")

    def matches(self, labels: dict[str, str]) -> bool:
        return all(r.matches(labels) for r in self.requirements)

    def __bool__(self) -> bool:
        return bool(self.requirements)


def field_value(obj: dict, label: str) -> str:
    """The string a field label has on a stored object, as the types' GetAttrs render it."""
    node = obj
    for part in label.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, bool):
        return "true" if node else "false"
    if label == "spec.hostNetwork" and node is None:
        return "false"
    return "" if node is None else str(node)

