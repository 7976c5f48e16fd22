#!/usr/bin/env bash
# Regenerates symbols.txt, the order in which release builds lay out the binary's code
# (see build.rs). Runs the release binary under callgrind: the functions it executes from
# start-up to its first readiness probe come first, then those that only the benchmark load
# (bench/loadgen, every scenario briefly) executes. Everything else follows in the linker's
# own order. With `--postgres URL` (an empty database), a start-up on PostgreSQL is recorded as
# well and its functions join the first group. Needs valgrind (Debian package `valgrind`);
# takes a few minutes.
#
#   bench/text-order/generate.sh [--postgres URL]
#
# Why: the kernel maps 64 KiB of a program's code around every page it touches, so start-up
# code scattered over 16 MiB of text kept about 13 MiB of it resident for the life of the
# process. Laid out together, start-up and request code share a few MiB of pages.
set -euo pipefail
pg_url=""
if [ "${1:-}" = "--postgres" ]; then pg_url="$2"; fi
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="$(mktemp -d)"
pid=""
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT

cargo build --release --manifest-path "$root/Cargo.toml" --bin ally-idp -p ally-idp -q
cargo build --release --manifest-path "$root/Cargo.toml" -p ally-loadgen -q
bin="$root/target/release/ally-idp"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
password='correct horse battery staple'

# Starts the server under callgrind (profile written to $1) and waits until it is ready
# and has settled; sets $pid.
serve_recorded() {
  valgrind --tool=callgrind --demangle=no --callgrind-out-file="$1" \
    "$bin" serve --listen "127.0.0.1:$port" --issuer "http://127.0.0.1:$port" >serve.out 2>serve.err &
  pid=$!
  for _ in $(seq 1 300); do
    curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz" 2>/dev/null && break
    sleep 0.5
  done
  sleep 3
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""; }

cd "$work"
export ALLY_IDP_LOG=warn ALLY_IDP_THROTTLE__PER_MINUTE=100000000 ALLY_IDP_THROTTLE__BURST=100000000
"$bin" migrate >/dev/null
svc="$("$bin" client add --client-id bench-service --name "Bench service" --grant-type client_credentials)"
web="$("$bin" client add --client-id bench-web --name "Bench web" \
  --redirect-uri http://127.0.0.1:9/cb --grant-type authorization_code --grant-type refresh_token)"
printf '%s\n' "$password" | "$bin" user add --username bench --email bench@example.com --password-stdin >/dev/null
serve_recorded "$work/cg.out"
callgrind_control --dump=startup "$pid" >/dev/null
sleep 2
BENCH_SERVICE_SECRET="$svc" BENCH_WEB_SECRET="$web" BENCH_PASSWORD="$password" \
  "$root/target/release/ally-loadgen" --target "127.0.0.1:$port" --duration 3 --connections 2 \
  --scenario discovery,jwks,client-credentials,refresh-token,authorization-code,password-sign-in,userinfo,introspection >/dev/null
stop

if [ -n "$pg_url" ]; then
  mkdir -p "$work/pg" && cd "$work/pg"
  export DATABASE_URL="$pg_url"
  "$bin" migrate >/dev/null
  serve_recorded "$work/pg.out"
  stop
  unset DATABASE_URL
  cd "$work"
fi

nm --defined-only "$bin" >"$work/nm.txt"
python3 - "$work" "$here/symbols.txt" <<'PY'
import glob, re, sys
work, out = sys.argv[1], sys.argv[2]
defined = set()
for line in open(f"{work}/nm.txt"):
    p = line.split()
    if len(p) == 3 and p[1] in "tTwW":
        defined.add(p[2])

def executed(path):
    names = []
    for line in open(path, errors="replace"):
        m = re.match(r"^c?fn=\(\d+\) (.+)$", line.rstrip("\n"))
        if m and m.group(1) in defined:
            names.append(m.group(1))
    return names

dumps = sorted(glob.glob(f"{work}/cg.out*"), key=lambda p: (p.count("."), p))
sqlite = set(n for p in dumps if p.endswith(".1") for n in executed(p))
postgres = set(n for p in glob.glob(f"{work}/pg.out*") for n in executed(p))
load = set(n for p in dumps if not p.endswith(".1") for n in executed(p))
# What start-up runs on either database first (the part both run, then each one's own, so
# neither touches the other's pages), then what only requests run.
first = sorted(sqlite & postgres) if postgres else []
first += sorted(sqlite - postgres) + sorted(postgres - sqlite)
then = sorted(load - sqlite - postgres)
with open(out, "w") as f:
    f.write("\n".join(first + then) + "\n")
print(f"{len(first)} start-up functions, then {len(then)} more under load -> {out}")
PY
