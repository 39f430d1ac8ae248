"""Connects to an MCP server behind the gateway with the Python `mcp` SDK's OAuth client and
no API key, as Claude Desktop or Cursor would: the SDK discovers the protected resource and
the gateway's authorization server, registers (RFC 7591, or a Client ID Metadata Document URL
when one is given), and sends the user's browser to the authorization endpoint. This script
plays that browser: it pastes a user API key into the gateway's sign-in page (or, where the
workspace has an identity provider, logs in there with that text as the login name) and allows
the client on the consent page, then hands the code back to the SDK. It calls `add`, waits for
the access token to expire, and calls again (the SDK refreshes). Prints one JSON object.

usage: oauth_client.py URL MODE USER_API_KEY_OR_LOGIN WAIT_SECONDS [CLIENT_METADATA_URL]
  MODE: "legacy" (initialize handshake, 2025-11-25) or "2026-07-28".
"""

import asyncio
import json
import re
import sys
from html import unescape
from urllib.parse import parse_qs, urljoin, urlparse

import httpx2 as httpx
from mcp import Client
from mcp.client.auth import OAuthClientProvider, TokenStorage
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

REDIRECT_URI = "http://127.0.0.1:53682/callback"


class Memory(TokenStorage):
    """Tokens and client registration, kept in memory (and reported)."""

    def __init__(self):
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None
        self.access_tokens: list[str] = []

    async def get_tokens(self):
        return self.tokens

    async def set_tokens(self, tokens):
        self.tokens = tokens
        self.access_tokens.append(tokens.access_token)

    async def get_client_info(self):
        return self.client

    async def set_client_info(self, client_info):
        self.client = client_info


class Browser:
    """A user's browser: keeps each site's cookies (including `__Host-` ones on loopback http,
    as browsers do for localhost), signs in and allows the client. The gateway's own pages
    and cookies are recorded."""

    def __init__(self, key: str, gateway: str):
        self.key = key
        self.gateway = urlparse(gateway).netloc
        self.cookies: dict[str, dict[str, str]] = {}
        self.pages: list[dict] = []
        self.landing: str | None = None

    def _remember(self, url: str, response):
        site = urlparse(url).netloc
        for header in response.headers.get_list("set-cookie"):
            name, _, rest = header.partition("=")
            self.cookies.setdefault(site, {})[name.strip()] = rest.split(";", 1)[0]
            if site == self.gateway:
                self.pages.append({"set_cookie": header})

    def _cookie_header(self, url: str) -> dict[str, str]:
        jar = self.cookies.get(urlparse(url).netloc, {})
        return {"cookie": "; ".join(f"{k}={v}" for k, v in jar.items())} if jar else {}

    async def open(self, url: str):
        async with httpx.AsyncClient(follow_redirects=False, timeout=20) as http:
            form = None
            for _ in range(20):
                headers = self._cookie_header(url)
                if form is None:
                    response = await http.get(url, headers=headers)
                else:
                    response = await http.post(url, data=form, headers=headers)
                    form = None
                self._remember(url, response)
                if response.is_redirect:
                    url = urljoin(url, response.headers["location"])
                    if url.startswith(REDIRECT_URI):
                        # Back at the client (nothing listens there: the SDK gets the code).
                        self.landing = url
                        return
                    continue
                page = response.text
                action = re.search(r'<form[^>]*action="([^"]+)"', page)
                request = re.search(r'name="request" value="([^"]+)"', page)
                if request:
                    # One of the gateway's own pages.
                    title = re.search(r"<title>([^<]*)</title>", page)
                    self.pages.append({
                        "status": response.status_code,
                        "title": unescape(title.group(1)) if title else None,
                        "csp": response.headers.get("content-security-policy"),
                        "frame": response.headers.get("x-frame-options"),
                        "text": re.sub(r"<[^>]+>", " ", page)[:2000],
                    })
                if not action:
                    raise RuntimeError(f"the sign-in showed a page without a form: {page[:500]}")
                url = urljoin(url, unescape(action.group(1)))
                if request and 'name="api_key"' in page:
                    form = {"request": unescape(request.group(1)), "api_key": self.key}
                elif request:
                    form = {"request": unescape(request.group(1)), "decision": "allow"}
                elif 'name="login"' in page:
                    # The workspace's identity provider (oidc-provider's development login):
                    # the user's login name stands where a key would.
                    form = {"prompt": "login", "login": self.key, "password": "any"}
                elif 'value="consent"' in page:
                    form = {"prompt": "consent"}
                else:
                    raise RuntimeError(f"the sign-in showed an unknown form: {page[:500]}")
        raise RuntimeError("the sign-in did not end")


async def main(url: str, mode: str, key: str, wait: str, metadata_url: str | None = None) -> None:
    storage = Memory()
    browser = Browser(key, url)
    out = {"pages": browser.pages}

    async def redirect_handler(authorization_url: str) -> None:
        out.setdefault("authorization_urls", []).append(authorization_url)
        await browser.open(authorization_url)

    async def callback_handler() -> AuthorizationCodeResult:
        query = parse_qs(urlparse(browser.landing).query)
        out.setdefault("landings", []).append({k: v[0] for k, v in query.items() if k != "code"})
        return AuthorizationCodeResult(
            code=query["code"][0], state=query.get("state", [None])[0], iss=query.get("iss", [None])[0])

    auth = OAuthClientProvider(
        server_url=url,
        client_metadata=OAuthClientMetadata(
            client_name="mcpgw e2e agent",
            redirect_uris=[REDIRECT_URI],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=storage,
        redirect_handler=redirect_handler,
        callback_handler=callback_handler,
        client_metadata_url=metadata_url,
    )
    async with create_mcp_http_client(auth=auth) as http:
        async with Client(streamable_http_client(url, http_client=http), mode=mode) as client:
            out["protocol_version"] = client.protocol_version
            out["tools"] = sorted(t.name for t in (await client.list_tools()).tools)
            out["first"] = (await client.call_tool("add", {"a": 2, "b": 3})).content[0].text
        await asyncio.sleep(float(wait))
        async with Client(streamable_http_client(url, http_client=http), mode=mode) as client:
            out["second"] = (await client.call_tool("add", {"a": 4, "b": 5})).content[0].text
    out["client_id"] = storage.client.client_id if storage.client else None
    out["access_tokens"] = storage.access_tokens
    out["refresh_token"] = storage.tokens.refresh_token if storage.tokens else None
    out["scope"] = storage.tokens.scope if storage.tokens else None
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:]))
