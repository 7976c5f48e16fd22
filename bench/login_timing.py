#!/usr/bin/env python3
"""Measures the sign-in form's response time for a wrong password on an existing user ID
versus an unknown user ID. They must be indistinguishable (no user enumeration by timing).

Usage: bench/login_timing.py [BASE_URL] [ROUNDS]    (default http://127.0.0.1:8080, 40)
Needs a running provider with a user `demo` (e.g. `ally-idp serve --demo`). Standard library
only. Prints the median and quartiles of each case in milliseconds.
"""
import http.client, re, statistics, sys, time, urllib.parse

base = urllib.parse.urlparse(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080")
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 40


def attempt(username):
    conn = http.client.HTTPConnection(base.hostname, base.port)
    conn.request("GET", "/login")
    r = conn.getresponse()
    html = r.read().decode()
    cookie = "; ".join(c.split(";")[0] for k, c in r.getheaders() if k.lower() == "set-cookie")
    csrf = re.search(r'name="csrf" value="([^"]+)"', html).group(1)
    body = urllib.parse.urlencode({"csrf": csrf, "username": username, "password": "not-the-password-1"})
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie}
    t0 = time.perf_counter()
    conn.request("POST", "/login", body, headers)
    r = conn.getresponse()
    r.read()
    elapsed = (time.perf_counter() - t0) * 1000
    conn.close()
    assert r.status == 422, r.status
    return elapsed


cases = {"existing user, wrong password": "demo", "unknown user": "nobody-here"}
samples = {name: [] for name in cases}
for _ in range(rounds):  # interleaved, so drift affects both equally
    for name, user in cases.items():
        samples[name].append(attempt(user))
for name, s in samples.items():
    q = statistics.quantiles(s, n=4)
    print(f"{name:32} median {statistics.median(s):6.2f} ms   p25 {q[0]:6.2f}   p75 {q[2]:6.2f}   (n={len(s)})")
