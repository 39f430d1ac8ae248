// A real OAuth 2.0 / OpenID Connect authorization server for the upstream-OAuth tests:
// oidc-provider (certified), configured from the environment and started on 127.0.0.1.
//
//   PORT                 where to listen (the issuer is http://127.0.0.1:PORT)
//   CLIENTS              JSON array of pre-registered clients (oidc-provider client metadata)
//   ACCESS_TOKEN_TTL     lifetime of access tokens, seconds (default 300)
//   SCOPES               space-separated scopes resource servers grant (default "mcp:tools")
//   OIDC_PROVIDER        the path of oidc-provider's package (tests/peers.sh installs it)
//   REGISTRATION         "off": no dynamic client registration (default on)
//   CIMD                 "on": accept Client ID Metadata Documents (fetched over https; give
//                        NODE_EXTRA_CA_CERTS for a test CA)
//
// Enabled: client credentials, resource indicators (RFC 8707) issuing JWT access tokens whose
// audience is the resource (opaque ones without a resource indicator), introspection and
// revocation, dynamic client registration, refresh-token rotation, and the
// development login and consent pages (tests play the browser through them).
// Prints "ready <issuer>" on standard output once it listens.
import crypto from 'node:crypto';
import { pathToFileURL } from 'node:url';

const { default: Provider } = await import(pathToFileURL(process.env.OIDC_PROVIDER).href);

const port = Number(process.env.PORT);
const issuer = `http://127.0.0.1:${port}`;
const ttl = Number(process.env.ACCESS_TOKEN_TTL ?? 300);
const scopes = (process.env.SCOPES ?? 'mcp:tools').split(' ');
const clients = JSON.parse(process.env.CLIENTS ?? '[]');

const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
// A new key and key id at every start: tokens of an earlier run stop verifying.
const signing = { ...privateKey.export({ format: 'jwk' }), kid: crypto.randomUUID(), use: 'sig', alg: 'RS256' };

const provider = new Provider(issuer, {
  clients,
  // The gateway under test is on loopback, which oidc-provider's SSRF protection refuses for
  // the documents it fetches (Client ID Metadata Documents): here they go out without it.
  fetch: (url, options) => {
    delete options.dispatcher;
    return globalThis.fetch(url, options);
  },
  jwks: { keys: [signing] },
  scopes: ['openid', 'offline_access', ...scopes],
  ttl: { AccessToken: ttl, ClientCredentials: ttl },
  rotateRefreshToken: true,
  features: {
    clientCredentials: { enabled: true },
    // RFC 7662 introspection (at /token/introspection) and RFC 7009 revocation (at
    // /token/revocation) for confidential clients; tokens issued without a resource indicator
    // are opaque, so only introspection tells what they are.
    introspection: { enabled: true },
    revocation: { enabled: true },
    registration: { enabled: process.env.REGISTRATION !== 'off' },
    clientIdMetadataDocument: { enabled: process.env.CIMD === 'on', ack: 'draft-02' },
    devInteractions: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => undefined,
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx, resource) => ({
        scope: scopes.join(' '),
        audience: resource,
        accessTokenTTL: ttl,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'RS256' } },
      }),
    },
  },
});
provider.proxy = false;
provider.on('server_error', (_ctx, error) => console.error('server_error', error));
provider.on('grant.error', (_ctx, error) => console.error('grant.error', error.message, error.error_description ?? ''));
provider.listen(port, '127.0.0.1', () => console.log(`ready ${issuer}`));
