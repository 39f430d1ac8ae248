"""An MCP upstream that checks bearer tokens, for the upstream-OAuth tests: fastmcp's
JWTVerifier accepts only JWTs signed by the authorization server's keys, issued by it, for this
server's own URL as audience. Its `whoami` tool answers with the token's client and claims, so
a test sees exactly which token the gateway sent (and can look for it where it must not be).

With `prm`, it is also a protected resource (RFC 9728): its 401 names its metadata, which names
the authorization server and the scopes, so a client can discover everything from the URL.
REQUIRED_SCOPES (space-separated, default "mcp:tools") are the scopes every token must carry;
a token without them gets 403 insufficient_scope naming them.

Usage: jwt_upstream.py PORT ISSUER AUDIENCE [prm]   (prints "ready" once it listens)
"""

import sys

from fastmcp import FastMCP
from fastmcp.server.auth import RemoteAuthProvider
from fastmcp.server.auth.providers.jwt import JWTVerifier
from fastmcp.server.dependencies import get_access_token

import os

port, issuer, audience = int(sys.argv[1]), sys.argv[2], sys.argv[3]
required = os.environ.get("REQUIRED_SCOPES", "mcp:tools").split()
# Keys are re-read every second, so a restarted authorization server's new key (and the
# end of its old one) is seen at once.
protected = sys.argv[4:] == ["prm"]
# A protected resource checks scopes after the token (403 insufficient_scope, naming them);
# otherwise the verifier refuses a token without them (401).
verifier = JWTVerifier(
    jwks_uri=f"{issuer}/jwks",
    issuer=issuer,
    audience=audience,
    required_scopes=None if protected else required,
    jwks_refresh_interval=1.0,
)
auth = verifier
if protected:
    auth = RemoteAuthProvider(
        token_verifier=verifier,
        authorization_servers=[issuer],
        base_url=f"http://127.0.0.1:{port}",
        scopes_supported=required,
        required_scopes=required,
        challenge_scopes=required,
    )
mcp = FastMCP("jwt-upstream", auth=auth)


@mcp.tool
def whoami() -> dict:
    """The client, claims and text of the token this call carried."""
    token = get_access_token()
    return {
        "client_id": token.client_id,
        "scopes": token.scopes,
        "claims": token.claims,
        "token": token.token,
    }


print("ready", flush=True)
mcp.run(transport="http", host="127.0.0.1", port=port, path="/mcp", show_banner=False)
