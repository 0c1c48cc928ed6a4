#!/usr/bin/env python3
"""Generate crates/kubesim/data/proto.json: protobuf field numbers of the Kubernetes API types.

Usage: gen_proto.py ROOT > crates/kubesim/data/proto.json

ROOT holds the `generated.proto` files of k8s.io/api (every `*/v1/` package and
`autoscaling/v2`) and of k8s.io/apimachinery (`pkg/api/resource`, `pkg/apis/meta/v1`,
`pkg/runtime`, `pkg/util/intstr`), in any directory layout (they are found recursively).

Output: {"messages": {"pkg.Message": {"N": [jsonName, type, card]}}} with card "o"
(single), "r" (repeated) or "m" (map; type is the value type). Scalar types keep their
protobuf names (string, bool, int32, int64, bytes, double); message types are fully
qualified without the leading dot. The field names of go-to-protobuf are the JSON names.
"""
import json
import os
import re
import sys

root = sys.argv[1]
messages = {}
field_re = re.compile(r"^\s*(optional|repeated)\s+([\w.]+)\s+(\w+)\s*=\s*(\d+)")
map_re = re.compile(r"^\s*map\s*<\s*(\w+)\s*,\s*([\w.]+)\s*>\s+(\w+)\s*=\s*(\d+)")
scalars = {"string", "bool", "int32", "int64", "bytes", "double", "float", "uint32", "uint64"}

for dirpath, _, files in os.walk(root):
    for f in files:
        if f != "generated.proto":
            continue
        text = open(os.path.join(dirpath, f)).read()
        pkg = re.search(r"^package\s+([\w.]+);", text, re.M).group(1)
        current = None
        for line in text.splitlines():
            m = re.match(r"^message\s+(\w+)\s*{", line)
            if m:
                current = pkg + "." + m.group(1)
                messages[current] = {}
                continue
            if line.startswith("}"):
                current = None
                continue
            if current is None:
                continue

            def qualify(t):
                if t in scalars:
                    return t
                if t.startswith("."):
                    return t[1:]
                return pkg + "." + t

            m = map_re.match(line)
            if m:
                messages[current][m.group(4)] = [m.group(3), qualify(m.group(2)), "m"]
                continue
            m = field_re.match(line)
            if m:
                card = "r" if m.group(1) == "repeated" else "o"
                messages[current][m.group(4)] = [m.group(3), qualify(m.group(2)), card]

json.dump({"messages": dict(sorted(messages.items()))}, sys.stdout, separators=(",", ":"))
sys.stdout.write("\n")
