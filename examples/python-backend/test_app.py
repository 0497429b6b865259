"""Drives the Flask example through its HTTP API with Flask's test client."""

import sys
import pathlib

sys.path.insert(0, str(pathlib.Path(__file__).parent))

from app import create_app  # noqa: E402

SECRET = bytes(range(32))


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


def test_mint_then_signup_attributes_the_referrer():
    clock = Clock(1_780_000_000)
    client = create_app(SECRET, clock).test_client()
    links = client.get("/api/referral-code?user=1042&name=Anna").get_json()
    assert set(links) == {"link", "email", "linkedin", "x", "whatsapp", "sms", "native_share", "qr"}
    assert links["email"]["action"]["url"].startswith("mailto:?subject=Anna%20invited")
    code = links["whatsapp"]["code"]
    assert f"ref={code}" in links["whatsapp"]["link"]

    clock.now += 3600
    result = client.post("/api/signup", json={"email": "friend@other.example", "ref": code}).get_json()
    assert result == {"attributed": True, "referrer": 1042, "channel": "whatsapp", "issued_at": 1_780_000_000}


def test_signup_refuses_tampered_expired_and_foreign_codes():
    clock = Clock(1_780_000_000)
    client = create_app(SECRET, clock).test_client()
    code = client.get("/api/referral-code?user=7").get_json()["link"]["code"]
    tampered = code[:-1] + ("A" if code[-1] != "A" else "B")
    assert client.post("/api/signup", json={"email": "a@b.example", "ref": tampered}).get_json()["reason"] == "bad_signature"
    other = create_app(bytes(32), clock).test_client().get("/api/referral-code?user=7").get_json()["link"]["code"]
    assert client.post("/api/signup", json={"email": "a@b.example", "ref": other}).get_json()["reason"] == "bad_signature"
    clock.now += 91 * 86400
    assert client.post("/api/signup", json={"email": "a@b.example", "ref": code}).get_json()["reason"] == "expired"
    assert client.post("/api/signup", json={"email": "a@b.example"}).get_json() == {"attributed": False, "reason": "no_referral"}


def test_bad_input_is_a_4xx_with_a_reason():
    client = create_app(SECRET).test_client()
    response = client.get("/api/referral-code?user=abc")
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_user"
    response = client.post("/api/signup", data="not json", content_type="application/json")
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_body"
