"""Parses a Prometheus text exposition (stdin) with the Prometheus project's own Python parser
and prints every sample as one JSON line: {"family", "type", "name", "labels", "value"}.
Exits non-zero if the text does not parse, or a family lacks its HELP or TYPE."""

import json
import sys

from prometheus_client.parser import text_string_to_metric_families

text = sys.stdin.read()
declared = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}
helped = {line.split()[2] for line in text.splitlines() if line.startswith("# HELP ")}
missing = declared ^ helped
if missing:
    sys.exit(f"families without both HELP and TYPE: {sorted(missing)}")
families = 0
for family in text_string_to_metric_families(text):
    families += 1
    if family.type == "unknown":
        sys.exit(f"family {family.name} has no type")
    for sample in family.samples:
        print(json.dumps({"family": family.name, "type": family.type, "name": sample.name,
                          "labels": sample.labels, "value": sample.value}))
if families == 0:
    sys.exit("no metric families")
