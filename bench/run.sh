#!/usr/bin/env bash
# The benchmark: ally-idp (release build, provisioned through its CLI only) and, unless
# --ally-only, node-oidc-provider (from npm, configured alike) on this machine, each under the
# same closed-loop load from bench/loadgen; prints each table and the ratios. Also, unless
# --ally-only, axum alone answering ally-idp's discovery and JWKS documents
# (bench/axum-ceiling): what no axum server can exceed on this machine.
#
#   bench/run.sh [--ally-only] [--postgres URL] [--duration SECS] [--connections N]
#
# Needs: cargo; node and npm for the comparison. Nothing here is a test: numbers vary with
# the machine and whatever else it is doing, so the README quotes medians of repeated runs.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
ally_only=0
db_url=""
duration=10
connections=32
while [ $# -gt 0 ]; do
  case "$1" in
    --ally-only) ally_only=1 ;;
    --postgres) db_url="$2"; shift ;;
    --duration) duration="$2"; shift ;;
    --connections) connections="$2"; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() {
  for _ in $(seq 1 150); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.2
  done
  echo "no answer from $1" >&2; exit 1
}

cargo build --release --manifest-path "$root/Cargo.toml" --bin ally-idp -p ally-idp -q
cargo build --release --manifest-path "$root/Cargo.toml" -p ally-loadgen -q
bin="$root/target/release/ally-idp"
loadgen="$root/target/release/ally-loadgen"
# The code layout (build.rs) only helps while its symbol list matches the binary: after a
# dependency or toolchain change the names differ and idle memory goes back up.
order="$root/bench/text-order/symbols.txt"
if command -v nm >/dev/null && [ -f "$order" ]; then
  listed=$(wc -l <"$order")
  found=$(nm --defined-only "$bin" | awk '{print $3}' | sort -u | comm -12 - <(sort -u "$order") | wc -l)
  if [ $((found * 10)) -lt $((listed * 9)) ]; then
    echo "warning: only $found of the $listed functions in bench/text-order/symbols.txt are in the binary; run bench/text-order/generate.sh" >&2
  fi
fi
password='correct horse battery staple'

# --- ally-idp --------------------------------------------------------------------------------
port="$(free_port)"
mkdir -p "$work/ally"
cd "$work/ally"
export ALLY_IDP_LOG="warn"
# Throttling of the guessable forms is per client IP, and the load comes from one address:
# lift it for the benchmark (it is measured by its own test).
export ALLY_IDP_THROTTLE__PER_MINUTE=100000000 ALLY_IDP_THROTTLE__BURST=100000000
if [ -n "$db_url" ]; then export DATABASE_URL="$db_url"; fi
"$bin" migrate >/dev/null
svc_secret="$("$bin" client add --client-id bench-service --name "Bench service" --grant-type client_credentials)"
web_secret="$("$bin" client add --client-id bench-web --name "Bench web" \
  --redirect-uri http://127.0.0.1:9/cb --grant-type authorization_code --grant-type refresh_token)"
printf '%s\n' "$password" | "$bin" user add --username bench --email bench@example.com --password-stdin >/dev/null
"$bin" serve --listen "127.0.0.1:$port" --issuer "http://127.0.0.1:$port" >serve.out 2>serve.err &
ally_pid=$!
pids+=("$ally_pid")
wait_for "http://127.0.0.1:$port/readyz"
sleep 2
echo "== ally-idp $(git -C "$root" rev-parse --short HEAD) on $([ -n "$db_url" ] && echo PostgreSQL || echo SQLite), $(nproc) cores, load generator on the same machine"
BENCH_SERVICE_SECRET="$svc_secret" BENCH_WEB_SECRET="$web_secret" BENCH_PASSWORD="$password" \
  "$loadgen" --target "127.0.0.1:$port" --server-pid "$ally_pid" --json \
  --duration "$duration" --connections "$connections" | tee "$work/ally.out" | grep -v '^{'
# The same two documents, for the ceiling below.
curl -fsS -o "$work/discovery.json" "http://127.0.0.1:$port/.well-known/openid-configuration"
curl -fsS -o "$work/jwks.json" "http://127.0.0.1:$port/jwks"
kill "$ally_pid"; wait "$ally_pid" 2>/dev/null || true

[ "$ally_only" = 1 ] && exit 0

# --- the ceiling: axum alone, answering the same bytes ------------------------------------------
cargo build --release --manifest-path "$root/Cargo.toml" -p axum-ceiling -q
cport="$(free_port)"
"$root/target/release/axum-ceiling" "127.0.0.1:$cport" "$work/discovery.json" "$work/jwks.json" &
ceiling_pid=$!
pids+=("$ceiling_pid")
wait_for "http://127.0.0.1:$cport/jwks"
echo
echo "== axum alone (bench/axum-ceiling): the same two documents, no other work per request"
"$loadgen" --target "127.0.0.1:$cport" --server-pid "$ceiling_pid" --json \
  --duration "$duration" --connections "$connections" \
  --scenario discovery,jwks | tee "$work/ceiling.out" | grep -v '^{'
kill "$ceiling_pid"; wait "$ceiling_pid" 2>/dev/null || true

# --- node-oidc-provider -----------------------------------------------------------------------
cp "$here/node-oidc-provider/package.json" "$here/node-oidc-provider/server.mjs" "$work/"
(cd "$work" && npm install --no-package-lock --no-audit --no-fund --silent >/dev/null)
nport="$(free_port)"
n_svc="$(openssl rand -hex 32)"
n_web="$(openssl rand -hex 32)"
NODE_ENV=production node "$work/server.mjs" "$nport" "$n_svc" "$n_web" >"$work/node.out" 2>"$work/node.err" &
node_pid=$!
pids+=("$node_pid")
wait_for "http://127.0.0.1:$nport/.well-known/openid-configuration"
sleep 2
echo
echo "== node-oidc-provider $(node -p "require('$work/node_modules/oidc-provider/package.json').version") on node $(node --version), same machine, same load"
BENCH_SERVICE_SECRET="$n_svc" BENCH_WEB_SECRET="$n_web" \
  "$loadgen" --target "127.0.0.1:$nport" --server-pid "$node_pid" --json \
  --duration "$duration" --connections "$connections" \
  --scenario discovery,jwks,client-credentials | tee "$work/node.out" | grep -v '^{'
kill "$node_pid"; wait "$node_pid" 2>/dev/null || true

echo
echo "== ratios (ally-idp / node-oidc-provider, same run)"
python3 - "$work/ally.out" "$work/node.out" "$work/ceiling.out" <<'PY'
import json, sys
def load(p):
    rows, extra = {}, {}
    for line in open(p):
        if line.startswith("{"):
            v = json.loads(line)
            if "scenario" in v: rows[v["scenario"]] = v
            else: extra.update(v)
    return rows, extra
a, ax = load(sys.argv[1]); n, nx = load(sys.argv[2]); c, _ = load(sys.argv[3])
print(f"{'scenario':<20} {'ally ops/s':>11} {'node ops/s':>11} {'ratio':>7} {'ally p99':>9} {'node p99':>9} {'axum alone':>11}")
for s in ["discovery", "jwks", "client_credentials"]:
    if s in a and s in n and n[s]["ops_per_sec"] > 0:
        alone = f"{c[s]['ops_per_sec']:>9.0f} {c[s]['ops_per_sec']/n[s]['ops_per_sec']:>5.1f}x" if s in c else ""
        print(f"{s:<20} {a[s]['ops_per_sec']:>11.0f} {n[s]['ops_per_sec']:>11.0f} {a[s]['ops_per_sec']/n[s]['ops_per_sec']:>6.1f}x {a[s]['p99_ms']:>8.2f}ms {n[s]['p99_ms']:>8.2f}ms {alone}")
for k, label in [("idle_rss_mib", "idle RSS"), ("peak_rss_mib_total", "peak RSS")]:
    if k in ax and k in nx:
        print(f"{label:<20} {ax[k]:>9.1f}Mi {nx[k]:>9.1f}Mi {ax[k]/nx[k]:>6.2f}x")
if "sign_in_share_of_raw" in ax:
    print(f"password sign-in: {ax['sign_in_share_of_raw']*100:.1f}% of raw Argon2id measured just before and after it ({ax['raw_around_sign_in']:.0f}/s)")
PY
