// node-oidc-provider (the reference OpenID provider, by panva) configured like the ally-idp
// benchmark: one client_credentials client, one confidential code + refresh client, ES256
// JWT access tokens (RFC 9068, through resource indicators), introspection on.
// Usage: node server.mjs PORT SERVICE_SECRET WEB_SECRET
import crypto from 'node:crypto';
import Provider from 'oidc-provider';

const [port, serviceSecret, webSecret] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;
const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const jwk = { ...privateKey.export({ format: 'jwk' }), alg: 'ES256', use: 'sig', kid: 'bench-es256' };
const resource = 'urn:bench:api';

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'bench-service',
      client_secret: serviceSecret,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      id_token_signed_response_alg: 'ES256',
    },
    {
      client_id: 'bench-web',
      client_secret: webSecret,
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: ['http://127.0.0.1:9/cb'],
      id_token_signed_response_alg: 'ES256',
    },
  ],
  jwks: { keys: [jwk] },
  scopes: ['openid', 'profile', 'api'],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'api',
        audience: resource,
        accessTokenTTL: 300,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'ES256' } },
      }),
    },
  },
  findAccount: async (ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
});
provider.proxy = false;
provider.listen(Number(port), '127.0.0.1', () => {
  console.log(`node-oidc-provider listening on ${issuer}`);
});
