"""Calls `whoami` on a per-user OAuth server through the gateway with the Python `mcp` SDK, as
a user would: when the gateway asks the user to sign in (2025-11-25: the -32042 URL
elicitation error; 2026-07-28: an InputRequiredResult with a URL elicitation, which the SDK
hands to its elicitation callback and then retries), this script plays the browser through
oidc-provider's development login and consent pages. Prints one JSON object with what it saw.

usage: signing_in_client.py URL API_KEY MODE LOGIN
  MODE: "legacy" (initialize handshake, 2025-11-25) or "2026-07-28".
"""

import asyncio
import json
import re
import sys
from urllib.parse import urljoin

import httpx2 as httpx
from mcp import Client, types
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError


async def play_browser(url: str, login: str) -> str:
    """Opens the sign-in link, signs in and consents; returns the page it ends on."""
    async with httpx.AsyncClient(follow_redirects=False, timeout=20) as browser:
        form = None
        for _ in range(20):
            if form is None:
                response = await browser.get(url)
            else:
                response = await browser.post(url, data=form)
                form = None
            if response.is_redirect:
                url = urljoin(url, response.headers["location"])
                continue
            page = response.text
            action = re.search(r'<form[^>]*action="([^"]+)"', page)
            if action and 'name="login"' in page:
                url, form = urljoin(url, action.group(1).replace("&amp;", "&")), {
                    "prompt": "login", "login": login, "password": "any"}
            elif action and 'value="consent"' in page:
                url, form = urljoin(url, action.group(1).replace("&amp;", "&")), {"prompt": "consent"}
            else:
                return page
    raise RuntimeError("the sign-in did not end")


def mcp_error(exc: BaseException) -> MCPError | None:
    """The MCP error in `exc`, which the SDK may wrap in exception groups."""
    if isinstance(exc, MCPError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            if (found := mcp_error(inner)) is not None:
                return found
    return None


async def main(url: str, key: str, mode: str, login: str) -> None:
    out = {"elicitations": [], "pages": []}

    async def elicit(context, params):
        # Only URL elicitations are expected: the gateway's sign-in.
        out["elicitations"].append({"mode": params.mode, "message": params.message})
        out["pages"].append(await play_browser(params.url, login))
        return types.ElicitResult(action="accept")

    def client(http):
        return Client(streamable_http_client(url, http_client=http), mode=mode, elicitation_callback=elicit)

    http = create_mcp_http_client(headers={"Authorization": f"Bearer {key}"})
    async with http:
        try:
            async with client(http) as c:
                result = await c.call_tool("whoami", {})
                out["protocol_version"] = c.protocol_version
        except BaseException as raised:
            # 2025-11-25: the handshake itself needs the user's token; the error carries the
            # link as a URL elicitation. Sign in, then connect again.
            error = mcp_error(raised)
            if error is None:
                raise
            out["error_code"] = error.code
            elicitation = (error.error.data or {})["elicitations"][0]
            out["elicitations"].append({"mode": elicitation["mode"], "message": elicitation["message"]})
            out["pages"].append(await play_browser(elicitation["url"], login))
            async with client(http) as c:
                result = await c.call_tool("whoami", {})
                out["protocol_version"] = c.protocol_version
        out["seen"] = result.structured_content or json.loads(result.content[0].text)
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
