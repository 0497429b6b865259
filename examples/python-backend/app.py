"""A small Flask backend using the referral SDK's Python wheel.

- `GET  /api/referral-code?user=<id>`  mints the signed-in user's code and
  share links (the secret never leaves this process);
- `POST /api/signup {"email", "ref"}`   verifies the captured code, with no
  database lookup, and says who referred the new user or why not.

Run: `pip install flask <the wheel from cargo xtask bindings>` then
`REFERRAL_SECRET_HEX=<64 hex chars> flask --app examples/python-backend/app.py run`.
"""

import os
import time

from flask import Flask, jsonify, request

import referral_sdk as r

PROGRAM_ID = 7
BASE_URL = os.environ.get("REFERRAL_BASE_URL", "https://app.example.com/join")


def create_app(secret: bytes, clock=time.time) -> Flask:
    app = Flask(__name__)
    verifier = r.Verifier(
        [r.KeyEntry(key_id=1, secret=secret, status=r.KeyStatus.ACTIVE)],
        r.VerifyPolicy(program_id=PROGRAM_ID, max_age_secs=90 * 86400, max_clock_skew_secs=300),
    )
    message = r.ShareMessage(
        "{referrer_name} invited you to {product}",
        "I use {product} every day. {reward} Join with my link: {link}",
    )
    link_options = r.LinkOptions(base_url=BASE_URL, param="ref", utm=r.Utm(source="referral", campaign="customers"))

    def error(status, reason, detail):
        return jsonify({"error": reason, "detail": detail}), status

    @app.get("/api/referral-code")
    def referral_code():
        user = request.args.get("user", "")
        if not user.isdigit():
            return error(400, "invalid_user", "user must be a numeric id")
        now = int(clock())
        links = {}
        for channel in r.Channel:
            code = verifier.mint(
                r.MintRequest(program_id=PROGRAM_ID, referrer=r.ReferrerId.NUMERIC(id=int(user)), channel=channel, campaign=None),
                now,
            )
            link = r.referral_url(link_options, code, channel)
            action = message.action(channel, link, r.MessageVars(referrer_name=request.args.get("name", ""), product="Acme", reward="We both get a month free."))
            links[r.channel_name(channel)] = {"code": code, "link": link, "action": _action_json(action)}
        return jsonify(links)

    @app.post("/api/signup")
    def signup():
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("email"), str):
            return error(400, "invalid_body", "expected JSON with an email")
        code = body.get("ref")
        if not code:
            return jsonify({"attributed": False, "reason": "no_referral"})
        try:
            claims = verifier.verify(code, int(clock()))
        except r.ReferralError.Code as e:
            return jsonify({"attributed": False, "reason": e.reason})
        return jsonify({
            "attributed": True,
            "referrer": claims.referrer.id if isinstance(claims.referrer, r.ReferrerId.NUMERIC) else claims.referrer.bytes.hex(),
            "channel": r.channel_name(claims.channel),
            "issued_at": claims.issued_at,
        })

    return app


def _action_json(action):
    if isinstance(action, r.ShareAction.COPY):
        return {"kind": "copy", "text": action.text}
    if isinstance(action, r.ShareAction.OPEN):
        return {"kind": "open", "url": action.url}
    return {"kind": "native_share", "title": action.title, "text": action.text, "url": action.url}


def _secret_from_env() -> bytes:
    value = os.environ.get("REFERRAL_SECRET_HEX")
    if not value:
        raise SystemExit("set REFERRAL_SECRET_HEX to 64 hex characters (32 bytes) from your secret store")
    return bytes.fromhex(value)


if os.environ.get("REFERRAL_SECRET_HEX"):
    app = create_app(_secret_from_env())
