"""Drives an MCP server through the gateway with the Python `mcp` SDK and prints one JSON
object with what it saw. Used by tests/tests/relay_peers.rs.

usage: mcp_client.py URL API_KEY MODE TOOL_ARGS_JSON [ROOT_URI]
  MODE: "legacy" (initialize handshake), "auto" (server/discover, falling back) or a modern
  version such as "2026-07-28".
  ROOT_URI: declare the roots capability and answer roots/list with this one root; the calls
  then start after a second, once the server had time to ask.
"""

import asyncio
import json
import sys

from mcp import types
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client


async def main(url: str, key: str, mode: str, calls: list, root: str | None) -> None:
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {key}"})
    out = {"calls": [], "roots_asked": 0}

    async def list_roots(context):
        out["roots_asked"] += 1
        return types.ListRootsResult(roots=[types.Root(uri=root, name="gateway test root")])

    extra = {"list_roots_callback": list_roots} if root else {}
    async with http:
        async with Client(streamable_http_client(url, http_client=http), mode=mode, **extra) as client:
            out["protocol_version"] = client.protocol_version
            if root:
                await asyncio.sleep(1)
            tools = await client.list_tools()
            out["tools"] = sorted(t.name for t in tools.tools)
            for name, arguments in calls:
                progress = []

                async def on_progress(value, total, message, progress=progress):
                    progress.append(value)

                result = await client.call_tool(name, arguments, progress_callback=on_progress)
                texts = [c.text for c in result.content if getattr(c, "type", None) == "text"]
                out["calls"].append({"tool": name, "error": bool(result.is_error), "text": texts, "progress": progress})
    print(json.dumps(out))


if __name__ == "__main__":
    root = sys.argv[5] if len(sys.argv) > 5 else None
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4]), root))
