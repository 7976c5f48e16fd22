#!/usr/bin/env bash
# Builds the release binary (or takes $INTEROP_BIN), starts it on a free port in a scratch
# directory, provisions an application and a user through the documented CLI only, and runs
# two strict relying-party libraries' flows against it: openid-client (Node) and Authlib
# (Python). Needs node and npm, and python3 with venv (the registries are reached for the
# pinned openid-client and Authlib).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="$(mktemp -d)"
trap 'kill "${pid:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT

# INTEROP_BIN: a binary already built to run instead (CI passes the release binary it has
# just built; a debug one works too). Without it, the release binary is built and run.
if [ -n "${INTEROP_BIN:-}" ]; then
  # Made absolute: the run below happens in a scratch directory.
  bin="$(realpath "$INTEROP_BIN")"
else
  cargo build --release --manifest-path "$root/Cargo.toml" --bin ally-idp
  bin="$root/target/release/ally-idp"
fi
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
issuer="http://127.0.0.1:$port"

cd "$work"
"$bin" serve --listen "127.0.0.1:$port" --issuer "$issuer" >serve.out 2>serve.err &
pid=$!
python3 - "$issuer" <<'PY'
import sys, time, urllib.request
for _ in range(100):
    try:
        urllib.request.urlopen(sys.argv[1] + "/.well-known/openid-configuration", timeout=2)
        sys.exit(0)
    except Exception:
        time.sleep(0.2)
sys.exit("the provider did not start")
PY

secret="$("$bin" client add --client-id interop-rp --name "Interop RP" \
  --redirect-uri http://localhost:5555/cb --post-logout-redirect-uri http://localhost:5555/ \
  --grant-type authorization_code --grant-type refresh_token --grant-type client_credentials)"
printf '%s\n' 'correct horse battery staple' | "$bin" user add --username interop --email interop@example.com --password-stdin >/dev/null

npm install --prefix "$work/rp" --no-package-lock --no-audit --no-fund --silent openid-client@6.8.9 >/dev/null
cp "$here/openid-client.mjs" "$work/rp/"
node "$work/rp/openid-client.mjs" "$issuer" interop-rp "$secret" interop 'correct horse battery staple'

# A second ecosystem: Authlib (Python), with joserfc verifying every JWT (pinned, from PyPI).
python3 -m venv "$work/py"
"$work/py/bin/pip" install -q --disable-pip-version-check authlib==1.9.10 joserfc==1.8.0 requests==2.34.2
"$work/py/bin/python" -W ignore::DeprecationWarning "$here/authlib_rp.py" "$issuer" interop-rp "$secret" interop 'correct horse battery staple'
