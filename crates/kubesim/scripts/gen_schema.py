#!/usr/bin/env python3
"""Generate crates/kubesim/data/schema.json from kubernetes-validate's _definitions.json.

Usage: gen_schema.py PATH/TO/_definitions.json > crates/kubesim/data/schema.json

Input: PyPI package `kubernetes-validate` (1.37.0), file
kubernetes_validate/kubernetes-json-schema/v1.37.0-local/_definitions.json.

Output (compact JSON): {"kinds": {"group/version/Kind": "type"},
"types": {"type": {"p": {field: spec}} | {"x": 1}}} where a field spec has
optional keys: t = referenced type, a = 1 for arrays, o = 1 for maps
(additionalProperties), l = list type (map|set|atomic), k = list map keys,
s = patch strategy, m = patch merge key, ma = 1 for atomic structs.
Only types reachable from a kind with a GVK are kept; descriptions are dropped.
"""
import json
import sys

defs = json.load(open(sys.argv[1]))["$defs"]


def ref_name(node):
    r = node.get("$ref")
    if r:
        return r.split("/")[-1]
    return None


def field_spec(node):
    spec = {}
    t = node.get("type")
    types = t if isinstance(t, list) else [t]
    r = ref_name(node)
    if r:
        spec["t"] = r
    if "array" in types:
        spec["a"] = 1
        items = node.get("items", {})
        ir = ref_name(items)
        if ir:
            spec["t"] = ir
    elif "object" in types and isinstance(node.get("additionalProperties"), dict):
        spec["o"] = 1
        ar = ref_name(node["additionalProperties"])
        if ar:
            spec["t"] = ar
    for key, short in (("x-kubernetes-list-type", "l"), ("x-kubernetes-list-map-keys", "k"),
                       ("x-kubernetes-patch-strategy", "s"), ("x-kubernetes-patch-merge-key", "m")):
        if key in node:
            spec[short] = node[key]
    if node.get("x-kubernetes-map-type") == "atomic":
        spec["ma"] = 1
    return spec


out_types = {}
kinds = {}
todo = []
for name, d in defs.items():
    for gvk in d.get("x-kubernetes-group-version-kind", []):
        if "properties" in d and "metadata" in d["properties"] and not d["properties"].get("items"):
            key = "%s/%s/%s" % (gvk["group"], gvk["version"], gvk["kind"])
            kinds[key] = name
            todo.append(name)
seen = set()
while todo:
    name = todo.pop()
    if name in seen or name not in defs:
        continue
    seen.add(name)
    d = defs[name]
    props = d.get("properties")
    if not props:
        out_types[name] = {"x": 1}
        continue
    p = {}
    for f, node in props.items():
        s = field_spec(node)
        p[f] = s
        if "t" in s:
            todo.append(s["t"])
    entry = {"p": p}
    if d.get("x-kubernetes-map-type") == "atomic":
        entry["ma"] = 1
    out_types[name] = entry
json.dump({"kinds": dict(sorted(kinds.items())), "types": dict(sorted(out_types.items()))},
          sys.stdout, separators=(",", ":"), sort_keys=False)
sys.stdout.write("\n")
