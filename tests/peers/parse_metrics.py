"""Parses a Prometheus text exposition (stdin) with the Prometheus project's own Python parser
and prints its samples as JSON lines: {"name", "labels", "value", "type"}. A malformed
exposition makes the parser raise, and the script exit non-zero."""

import json
import sys

from prometheus_client.parser import text_string_to_metric_families

for family in text_string_to_metric_families(sys.stdin.read()):
    for sample in family.samples:
        print(json.dumps({
            "name": sample.name,
            "labels": sample.labels,
            "value": sample.value,
            "type": family.type,
        }))
