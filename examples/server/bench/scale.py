#!/usr/bin/env python3
"""Request latency against the size of the program (issue 14).

For each size (ledger events) and database, seeds a fresh database with
`examples/seed.rs` (the store functions the service uses), starts the
release server on it, and times 20 of each request, interleaved: a signed
billing webhook (a payment on an existing referral), a signup with a
referral code, a referrer's stats and the admin funnel. Prints the median
and p90 in milliseconds and the server's peak resident memory (VmHWM).

    python3 examples/server/bench/scale.py [--sizes 1000,10000,100000,1000000]
        [--pg postgres://user@host:port/postgres] [--rounds 20]

Standard library only. Builds the release server and the seeder first.
"""

import argparse
import hashlib
import hmac
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
SERVER = os.path.join(ROOT, "target", "release", "referral-server")
SEED = os.path.join(ROOT, "target", "release", "examples", "seed")
PORT = 18190
ORIGIN = f"http://127.0.0.1:{PORT}"


def request(method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=120)
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    h = {"content-type": "application/json", **(headers or {})}
    started = time.perf_counter()
    conn.request(method, path, body=data, headers=h)
    resp = conn.getresponse()
    payload = resp.read()
    elapsed = (time.perf_counter() - started) * 1000
    conn.close()
    return resp.status, payload, elapsed, resp.getheader("set-cookie")


def peak_rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def fresh_pg_database(base_url, name):
    subprocess.run(["psql", base_url, "-qc", f"DROP DATABASE IF EXISTS {name}"], check=True,
                   env={**os.environ, "PGOPTIONS": "-c client_min_messages=warning"})
    subprocess.run(["psql", base_url, "-qc", f"CREATE DATABASE {name}"], check=True)
    return base_url.rsplit("/", 1)[0] + "/" + name


def run(label, database_url, size, rounds):
    data = tempfile.mkdtemp(prefix="scale-")
    env = {
        **os.environ,
        "DATA_DIR": data,
        "DATABASE_URL": database_url,
        "PORT": str(PORT),
        "PUBLIC_URL": ORIGIN,
        "RUST_LOG": "warn",
        "RATE_PER_MINUTE": "1000000",
        "RATE_AUTH_PER_MINUTE": "1000000",
        "RATE_API_PER_MINUTE": "1000000",
        "REFERRAL_ADMIN_EMAIL": "bench@acme.example",
        "REFERRAL_ADMIN_PASSWORD": "bench-password-long-enough",
    }
    seeded = json.loads(subprocess.run([SEED, database_url, str(size)], env=env, check=True,
                                       capture_output=True, text=True).stdout)
    if database_url.startswith("postgres"):
        # A live database is kept analysed by autovacuum; right after a bulk
        # load it is busy doing that, so settle it first.
        subprocess.run(["psql", database_url, "-qc", "VACUUM ANALYZE"], check=True)
    server = subprocess.Popen([SERVER], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                if request("GET", "/api/v1/nudge-config")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        key = subprocess.run([SERVER, "create-api-key", "--name", "bench"], env=env, check=True,
                             capture_output=True, text=True).stdout.strip()
        token = subprocess.run([SERVER, "mint-user-token", "--subject", "r-1", "--ttl-secs", "3600"],
                               env=env, check=True, capture_output=True, text=True).stdout.strip()
        secret = bytes.fromhex(json.load(open(os.path.join(data, "secrets.json")))["REFERRAL_WEBHOOK_SECRET_HEX"])
        status, body, _, _ = request("GET", "/api/v1/users/r-1/referral", headers={"authorization": f"Bearer {key}"})
        assert status == 200, body
        code = json.loads(body)["code"]
        status, body, _, cookie = request("POST", "/api/admin/session", {"email": "bench@acme.example", "password": "bench-password-long-enough"}, {"origin": ORIGIN})
        assert status == 200, body
        admin_cookie = cookie.split(";", 1)[0]
        referrers = seeded["referrers"]
        times = {"webhook": [], "signup": [], "stats": [], "funnel": []}
        # Three warm-up rounds (connections, caches), then the measured ones.
        for n in range(-3, rounds):
            # A payment on an existing referral of a referrer spread over the program.
            k = ((n + 3) * 7919) % referrers
            event = {"id": f"bench-{n}", "type": "payment", "account_id": f"f-{k}-{(n + 3) % 10}", "amount_minor": 2900, "currency": "usd"}
            raw = json.dumps(event).encode()
            t = str(int(time.time()))
            tag = hmac.new(secret, t.encode() + b"." + raw, hashlib.sha256).hexdigest()
            status, body, ms, _ = request("POST", "/api/v1/webhooks/billing", raw, {"referral-signature": f"t={t},v1={tag}"})
            assert status == 200, (status, body)
            if n >= 0:
                times["webhook"].append(ms)
            status, body, ms, _ = request("POST", "/api/v1/signups", {"user_id": f"bench-friend-{n + 3}", "email": f"bench-{n + 3}@bench.example", "code": code}, {"authorization": f"Bearer {key}"})
            assert status == 200 and json.loads(body)["reason"] == "attributed", (status, body)
            if n >= 0:
                times["signup"].append(ms)
            status, body, ms, _ = request("GET", "/api/v1/me/stats", headers={"authorization": f"Bearer {token}", "origin": ORIGIN})
            assert status == 200, (status, body)
            if n >= 0:
                times["stats"].append(ms)
            status, body, ms, _ = request("GET", "/api/admin/funnel", headers={"cookie": admin_cookie})
            assert status == 200, (status, body)
            if n >= 0:
                times["funnel"].append(ms)
        rss = peak_rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(data, ignore_errors=True)
    cells = []
    for name in ("webhook", "signup", "stats", "funnel"):
        v = sorted(times[name])
        cells.append(f"{statistics.median(v):.1f} / {v[int(len(v) * 0.9) - 1]:.1f}")
    print(f"| {label} | {seeded['ledger_events']:,} | {seeded['seconds']:.0f} s | " + " | ".join(cells) + f" | {rss:.0f} MB |", flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000,100000,1000000")
    parser.add_argument("--pg", default=os.environ.get("PG_URL"))
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "referral-server", "--bin", "referral-server", "--example", "seed"], cwd=ROOT, check=True)
    print("| database | ledger events | seeding | webhook ms (median / p90) | signup | stats | admin funnel | peak RSS |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for size in [int(s) for s in args.sizes.split(",")]:
        if not args.no_sqlite:
            tmp = tempfile.mkdtemp(prefix="scale-db-")
            try:
                run("SQLite", f"sqlite://{tmp}/scale.db?mode=rwc", size, args.rounds)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        if args.pg:
            run("PostgreSQL", fresh_pg_database(args.pg, f"scale_{size}"), size, args.rounds)


if __name__ == "__main__":
    sys.exit(main())
