"""Validates a registry listing (`GET /v0.1/servers`) against the pinned `server.json` schema
(tests/fixtures/registry/server.schema.json) with the `jsonschema` package: every
`servers[].server`, formats checked. Prints "ok", or each error, and exits 1.

usage: validate_server_json.py SCHEMA LISTING_JSON
"""

import json
import sys

from jsonschema import Draft7Validator, FormatChecker

schema = json.load(open(sys.argv[1]))
listing = json.loads(sys.argv[2])
validator = Draft7Validator(schema, format_checker=FormatChecker())
errors = [
    f"servers[{i}].server: {error.message} at {list(error.path)}"
    for i, entry in enumerate(listing["servers"])
    for error in validator.iter_errors(entry["server"])
]
if not listing["servers"]:
    errors.append("the listing holds no server")
print("\n".join(errors) if errors else "ok")
sys.exit(1 if errors else 0)
