"""Interoperability check from a second ecosystem: Authlib (Python) as the relying party, with
joserfc verifying every JWT against the published JWKS. It runs the flows against a running
ally-idp provisioned only through the CLI and checks what the specifications require of the
responses, beyond what a lenient client would accept. Any failed check exits non-zero.

    python3 authlib_rp.py ISSUER CLIENT_ID CLIENT_SECRET USERNAME PASSWORD

Run by tests/interop/run.sh.
"""

import re
import secrets
import sys
import time
from urllib.parse import parse_qs, urljoin, urlparse

import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.integrations.base_client.errors import OAuthError
from authlib.oidc.core import CodeIDToken, IDToken
from joserfc import jwt
from joserfc.jwk import KeySet

issuer, client_id, client_secret, username, password = sys.argv[1:6]
redirect_uri = "http://localhost:5555/cb"
passed = 0


def check(ok, what):
    global passed
    if not ok:
        print("FAILED:", what, file=sys.stderr)
        print(f"authlib: {passed} passed, 1 failed")
        sys.exit(1)
    passed += 1
    print("ok:", what)


# OIDC Discovery 1.0 §4.3: the issuer in the document is exactly the one asked for, and the
# members §3 marks REQUIRED are there.
meta = requests.get(issuer + "/.well-known/openid-configuration", timeout=10).json()
required = [
    "issuer",
    "authorization_endpoint",
    "token_endpoint",
    "jwks_uri",
    "response_types_supported",
    "subject_types_supported",
    "id_token_signing_alg_values_supported",
]
check(
    meta["issuer"] == issuer
    and all(k in meta for k in required)
    and "RS256" in meta["id_token_signing_alg_values_supported"],
    "discovery: issuer and the required members (RS256 among the ID token algorithms)",
)
keys = KeySet.import_key_set(requests.get(meta["jwks_uri"], timeout=10).json())
check(all(k.kid for k in keys.keys), "JWKS: every key has a kid")


def verify(token):
    """Signature against the JWKS (the alg must be one the provider advertises)."""
    algs = meta["id_token_signing_alg_values_supported"]
    return jwt.decode(token, keys, algorithms=algs)


# A tiny browser: a cookie jar, no automatic redirects.
browser = requests.Session()


def hidden(page, name):
    return re.search(rf'name="{name}" value="([^"]*)"', page).group(1)


def sign_in(auth_url):
    r = browser.get(auth_url, allow_redirects=False, timeout=10)
    login = urljoin(issuer, r.headers["location"])
    page = browser.get(login, timeout=10).text
    form = {"csrf": hidden(page, "csrf"), "req": hidden(page, "req"), "username": username, "password": password}
    r = browser.post(urljoin(issuer, "/login"), data=form, allow_redirects=False, timeout=10)
    loc = urljoin(issuer, r.headers["location"])
    if "/consent" in loc:
        page = browser.get(loc, timeout=10).text
        form = {"csrf": hidden(page, "csrf"), "req": hidden(page, "req"), "decision": "allow"}
        r = browser.post(urljoin(issuer, "/consent"), data=form, allow_redirects=False, timeout=10)
        loc = r.headers["location"]
    return loc


rp = OAuth2Session(
    client_id,
    client_secret,
    scope="openid profile email offline_access",
    redirect_uri=redirect_uri,
    code_challenge_method="S256",
)
verifier = secrets.token_urlsafe(48)
nonce = secrets.token_urlsafe(16)
auth_url, state = rp.create_authorization_url(
    meta["authorization_endpoint"], nonce=nonce, code_verifier=verifier, prompt="consent"
)
loc = sign_in(auth_url)
check(loc.startswith(redirect_uri + "?"), "authorization response goes to the registered redirect_uri")
params = {k: v[0] for k, v in parse_qs(urlparse(loc).query).items()}
check(params.get("state") == state and "code" in params, "authorization response carries the state and a code")
# RFC 9207 §2: when advertised, `iss` is in every authorization response and is the issuer.
if meta.get("authorization_response_iss_parameter_supported"):
    check(params.get("iss") == issuer, "RFC 9207: iss in the authorization response")

token = rp.fetch_token(meta["token_endpoint"], authorization_response=loc, code_verifier=verifier, state=state)
check(token["token_type"].lower() == "bearer" and token["expires_in"] > 0, "token response (RFC 6749 §5.1)")

# OIDC Core §3.1.3.7: iss, aud, azp, exp, iat, nonce, at_hash (§3.1.3.8), auth_time.
id_tok = verify(token["id_token"])
claims = CodeIDToken(
    id_tok.claims,
    id_tok.header,
    options={"iss": {"essential": True, "value": issuer}, "auth_time": {"essential": True}},
    params={"nonce": nonce, "client_id": client_id, "access_token": token["access_token"]},
)
claims.validate(now=int(time.time()), leeway=5)
check(id_tok.header.get("kid") and claims["sub"], "ID token: signature, iss, aud, exp, iat, nonce, at_hash, auth_time")

# RFC 9068 §2.1 and §4: an access token that is a JWT says so in `typ` and carries these claims.
at = verify(token["access_token"])
at_claims = at.claims
check(
    at.header.get("typ", "").lower() in ("at+jwt", "application/at+jwt")
    and at_claims.get("iss") == issuer
    and at_claims.get("sub") == claims["sub"]
    and at_claims.get("client_id") == client_id
    and all(k in at_claims for k in ("aud", "exp", "iat", "jti")),
    "access token: RFC 9068 JWT (typ, iss, sub, aud, client_id, exp, iat, jti)",
)

info = requests.get(
    meta["userinfo_endpoint"], headers={"Authorization": f"Bearer {token['access_token']}"}, timeout=10
)
check(
    info.status_code == 200 and info.json().get("sub") == claims["sub"] and info.json().get("preferred_username") == username,
    "UserInfo: the same sub (OIDC Core §5.3.2)",
)
bad = requests.get(meta["userinfo_endpoint"], headers={"Authorization": "Bearer nope"}, timeout=10)
check(
    bad.status_code == 401 and "invalid_token" in bad.headers.get("www-authenticate", ""),
    "UserInfo with a bad token: 401 and WWW-Authenticate error=invalid_token (RFC 6750 §3)",
)

# OIDC Core §12.2: a refreshed ID token has the same iss, sub and aud, and a later iat.
refreshed = rp.refresh_token(meta["token_endpoint"], refresh_token=token["refresh_token"])
check(refreshed["refresh_token"] != token["refresh_token"], "refresh token rotated")
rid = verify(refreshed["id_token"])
rclaims = IDToken(
    rid.claims,
    rid.header,
    options={"iss": {"essential": True, "value": issuer}},
    params={"client_id": client_id},
)
rclaims.validate(now=int(time.time()), leeway=5)
check(rclaims["sub"] == claims["sub"] and rclaims["iat"] >= claims["iat"], "refreshed ID token: same iss, sub, aud")

auth = (client_id, client_secret)
intro = requests.post(meta["introspection_endpoint"], data={"token": refreshed["access_token"]}, auth=auth, timeout=10).json()
check(intro.get("active") is True and intro.get("client_id") == client_id and intro.get("sub") == claims["sub"], "introspection: active, with client_id and sub (RFC 7662 §2.2)")
r = requests.post(meta["revocation_endpoint"], data={"token": refreshed["refresh_token"], "token_type_hint": "refresh_token"}, auth=auth, timeout=10)
check(r.status_code == 200, "revocation answers 200 (RFC 7009 §2.2)")
intro = requests.post(meta["introspection_endpoint"], data={"token": refreshed["access_token"]}, auth=auth, timeout=10).json()
check(intro == {"active": False}, "introspection after revocation: only active=false (RFC 7662 §2.2)")
try:
    rp.refresh_token(meta["token_endpoint"], refresh_token=token["refresh_token"])
    reused = "accepted"
except OAuthError as e:
    reused = e.error
check(reused == "invalid_grant", "a rotated refresh token is refused with invalid_grant")

r = requests.post(meta["token_endpoint"], data={"grant_type": "client_credentials"}, auth=(client_id, "wrong"), timeout=10)
check(
    r.status_code == 401
    and r.json().get("error") == "invalid_client"
    and r.headers.get("www-authenticate", "").lower().startswith("basic")
    and "no-store" in r.headers.get("cache-control", ""),
    "bad client secret: 401 invalid_client with WWW-Authenticate: Basic (RFC 6749 §5.2)",
)
service = OAuth2Session(client_id, client_secret)
cc = service.fetch_token(meta["token_endpoint"], grant_type="client_credentials")
check(cc.get("access_token") and "refresh_token" not in cc and "id_token" not in cc, "client_credentials: an access token only (RFC 6749 §4.4.3)")

end = requests.Request(
    "GET",
    meta["end_session_endpoint"],
    params={"id_token_hint": token["id_token"], "post_logout_redirect_uri": "http://localhost:5555/", "state": "bye"},
).prepare().url
r = browser.get(end, allow_redirects=False, timeout=10)
check(r.status_code in (302, 303) and r.headers["location"] == "http://localhost:5555/?state=bye", "RP-initiated logout redirects with state")
print(f"authlib: {passed} passed, 0 failed")
