// Interoperability check: openid-client (Node, a strict spec-checking relying party from
// another ecosystem) runs every flow against a running ally-idp that was provisioned only
// through the CLI. Any failed check throws or exits non-zero. Run by tests/interop/run.sh.
import * as client from 'openid-client'

let passed = 0
function check(ok, what) {
  if (!ok) {
    console.error('FAILED:', what)
    console.log(`interop: ${passed} passed, 1 failed`)
    process.exit(1)
  }
  passed += 1
  console.log('ok:', what)
}

const [issuer, clientId, clientSecret, username, password] = process.argv.slice(2)
const redirect_uri = 'http://localhost:5555/cb'
const config = await client.discovery(new URL(issuer), clientId, clientSecret, undefined, { execute: [client.allowInsecureRequests] })
check(config.serverMetadata().issuer === issuer, 'discovery')

// A tiny cookie-keeping browser.
const jar = new Map()
async function browse(url, init = {}) {
  const headers = { ...(init.headers || {}), cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') }
  const r = await fetch(url, { ...init, headers, redirect: 'manual' })
  for (const c of r.headers.getSetCookie()) { const [kv] = c.split(';'); const i = kv.indexOf('='); jar.set(kv.slice(0, i), kv.slice(i + 1)) }
  return r
}
const abs = (loc) => new URL(loc, issuer).href

const code_verifier = client.randomPKCECodeVerifier()
const code_challenge = await client.calculatePKCECodeChallenge(code_verifier)
const state = client.randomState(), nonce = client.randomNonce()
const authUrl = client.buildAuthorizationUrl(config, { redirect_uri, scope: 'openid profile email offline_access', code_challenge, code_challenge_method: 'S256', state, nonce, prompt: 'consent' })
let r = await browse(authUrl.href)
let loc = abs(r.headers.get('location'))
let page = await (await browse(loc)).text()
const hidden = (name) => page.match(new RegExp(`name="${name}" value="([^"]*)"`))[1]
r = await browse(abs('/login'), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ csrf: hidden('csrf'), req: hidden('req'), username, password }) })
loc = abs(r.headers.get('location'))
if (loc.includes('/consent')) {
  page = await (await browse(loc)).text()
  r = await browse(abs('/consent'), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ csrf: hidden('csrf'), req: hidden('req'), decision: 'allow' }) })
  loc = r.headers.get('location')
}
check(loc.startsWith(redirect_uri + '?'), 'authorization response to the registered redirect_uri')
const tokens = await client.authorizationCodeGrant(config, new URL(loc), { pkceCodeVerifier: code_verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true })
const claims = tokens.claims()
check(claims.sub && claims.sid && claims.amr?.includes('pwd') && claims.auth_time, 'ID token validated (sub, sid, amr, auth_time)')
const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub)
check(info.preferred_username === username && info.email, 'UserInfo')
const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token)
check(refreshed.refresh_token !== tokens.refresh_token && refreshed.claims()?.sub === claims.sub, 'refresh token rotated, refreshed ID token validated')
const intro = await client.tokenIntrospection(config, refreshed.access_token)
check(intro.active === true, 'introspection: active')
await client.tokenRevocation(config, refreshed.refresh_token)
const after = await client.tokenIntrospection(config, refreshed.access_token)
check(after.active === false, 'revocation kills the family')
let reused = true
try { await client.refreshTokenGrant(config, tokens.refresh_token) } catch (e) { reused = e.error !== 'invalid_grant' }
check(!reused, 'a rotated refresh token is refused with invalid_grant')
const cc = await client.clientCredentialsGrant(config)
check(cc.access_token && cc.expires_in > 0, 'client_credentials')
const end = client.buildEndSessionUrl(config, { id_token_hint: tokens.id_token, post_logout_redirect_uri: 'http://localhost:5555/', state: 'bye' })
r = await browse(end.href)
check(r.status === 303 && r.headers.get('location') === 'http://localhost:5555/?state=bye', 'RP-initiated logout redirects with state')
console.log(`interop: ${passed} passed, 0 failed`)
