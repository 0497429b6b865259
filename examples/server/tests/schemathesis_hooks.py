"""Schemathesis hooks for tests/schemathesis.sh: sign the billing webhooks
the way a billing system (generic: `Referral-Signature`) and Stripe
(`Stripe-Signature`) do, with the secrets the script gave the server, so
generated events reach the ledger instead of stopping at 401."""

import hashlib
import hmac
import json
import os
import time

import schemathesis

SECRETS = {
    "/api/v1/webhooks/billing": ("Referral-Signature", bytes.fromhex(os.environ["REFERRAL_WEBHOOK_SECRET_HEX"])),
    "/api/v1/webhooks/stripe": ("Stripe-Signature", os.environ["STRIPE_WEBHOOK_SECRETS"].encode()),
}


@schemathesis.hook
def before_call(context, case, kwargs):
    signer = SECRETS.get(case.operation.path)
    if signer is None or not isinstance(case.body, (dict, list, str, int, float, bool)):
        return
    header, secret = signer
    # The exact bytes sent are the bytes signed.
    body = json.dumps(case.body).encode()
    case.body = body
    t = str(int(time.time()))
    tag = hmac.new(secret, t.encode() + b"." + body, hashlib.sha256).hexdigest()
    if case.headers is None:
        case.headers = {}
    case.headers[header] = f"t={t},v1={tag}"
