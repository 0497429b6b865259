"""Calls per second from Python: the binding's verify beside what a Python
developer would write by hand with the standard library's `hmac`.

Run: `cargo xtask bindings && python ffi/python/bench/bench_calls.py`
(inside a venv with the wheel installed; `cargo xtask bench-bindings` does it).
"""

import base64
import hashlib
import hmac
import json
import statistics
import time

import referral_sdk as r

SECRET = b"\x5a" * 32
NOW = 1_780_000_000
N = 100_000


def per_call_us(fn, n=N, repeats=5):
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        samples.append((time.perf_counter() - start) / n * 1e6)
    return statistics.median(samples)


def hand_written():
    """A plausible hand-rolled token: base64url(json claims) + '.' + base64url(tag)."""
    claims = json.dumps({"kid": 1, "prg": 7, "sub": 1_000_000, "chn": "email", "iat": NOW}, separators=(",", ":")).encode()
    body = base64.urlsafe_b64encode(claims).rstrip(b"=")
    tag = base64.urlsafe_b64encode(hmac.new(SECRET, body, hashlib.sha256).digest()[:8]).rstrip(b"=")
    token = (body + b"." + tag).decode()

    def verify():
        body_text, tag_text = token.split(".")
        body = body_text.encode()
        expected = hmac.new(SECRET, body, hashlib.sha256).digest()[:8]
        given = base64.urlsafe_b64decode(tag_text + "=" * (-len(tag_text) % 4))
        if not hmac.compare_digest(expected, given):
            raise ValueError("bad signature")
        claims = json.loads(base64.urlsafe_b64decode(body_text + "=" * (-len(body_text) % 4)))
        if claims["prg"] != 7 or claims["iat"] + 86400 * 365 <= NOW + 60:
            raise ValueError("policy")
        return claims

    return verify


def main():
    verifier = r.Verifier(
        [r.KeyEntry(key_id=1, secret=SECRET, status=r.KeyStatus.ACTIVE)],
        r.VerifyPolicy(program_id=7, max_age_secs=365 * 86400, max_clock_skew_secs=300),
    )
    request = r.MintRequest(program_id=7, referrer=r.ReferrerId.NUMERIC(id=1_000_000), channel=r.Channel.EMAIL, campaign=None)
    code = verifier.mint(request, NOW)
    import pathlib

    config = (pathlib.Path(__file__).resolve().parents[3] / "examples" / "nudge" / "config.toml").read_text()
    engine = r.NudgeEngine.from_toml(config)
    user = engine.new_user("bench-user")
    user.evaluate("signup", {}, NOW)
    user.evaluate("onboarding_completed", {}, NOW + 60)
    props = {"score": r.PropertyValue.INT(value=10)}
    clock = [NOW + 2 * 86400]

    def nudge_evaluate():
        clock[0] += 1
        return user.evaluate("nps_submitted", props, clock[0])

    rows = [
        ("binding verify (uniffi)", per_call_us(lambda: verifier.verify(code, NOW + 60))),
        ("binding peek_unverified (uniffi)", per_call_us(lambda: r.peek_unverified(code))),
        ("binding channel_name (near-bare call)", per_call_us(lambda: r.channel_name(r.Channel.EMAIL))),
        ("hand-written hmac verify (stdlib)", per_call_us(hand_written())),
        ("binding nudge evaluate (event + 1 property; quiet: cooldown)", per_call_us(nudge_evaluate)),
    ]
    print("| operation | µs per call | calls per second |")
    print("|---|---|---|")
    for name, us in rows:
        print(f"| {name} | {us:.2f} | {1e6 / us:,.0f} |")


if __name__ == "__main__":
    main()
