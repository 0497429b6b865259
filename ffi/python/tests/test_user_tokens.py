"""The shared vectors' user_tokens section through the Python wheel, with
the codes section's keys."""

import pytest
import referral_sdk as r

from test_codes import policy_from_json, secret_for, shared_verifier


def request_from_json(value):
    return r.UserTokenRequest(subject=value["subject"], audience=value["audience"], ttl_secs=value["ttl_secs"])


def claims_from_json(value):
    return r.UserTokenClaims(key_id=value["key_id"], subject=value["subject"], audience=value["audience"],
                             issued_at=value["issued_at"], expires_at=value["expires_at"])


def token_policy(tokens, audience=None):
    p = tokens["policy"]
    return r.UserTokenPolicy(audience=audience or p["audience"], max_clock_skew_secs=p["max_clock_skew_secs"])


def test_mint_matches_byte_for_byte(vectors):
    codes, tokens = vectors["codes"], vectors["user_tokens"]
    shared = shared_verifier(codes)
    assert {case["key_id"] for case in tokens["mint"]["cases"]} >= {1, 2}
    for case in tokens["mint"]["cases"]:
        key = r.KeyEntry(key_id=case["key_id"], secret=secret_for(codes, case["key_id"]), status=r.KeyStatus.ACTIVE)
        minter = r.Verifier([key], policy_from_json(codes["policy"]))
        request = request_from_json(case["request"])
        token = minter.mint_user_token(request, case["now"])
        assert token == case["token"], case["name"]
        assert len(token) == case["length"]
        claims = shared.verify_user_token(token, token_policy(tokens, request.audience), case["now"])
        assert claims == claims_from_json(case["claims"]), case["name"]


def test_mint_refusals(vectors):
    shared = shared_verifier(vectors["codes"])
    reasons = set()
    for case in vectors["user_tokens"]["mint_errors"]["cases"]:
        with pytest.raises(r.ReferralError.UserToken) as info:
            shared.mint_user_token(request_from_json(case["request"]), case["now"])
        assert info.value.reason == case["error"], case["name"]
        assert info.value.detail
        reasons.add(info.value.reason)
    assert reasons == {"invalid_subject", "invalid_audience", "invalid_ttl"}


def test_verify_decides_like_rust(vectors):
    tokens = vectors["user_tokens"]
    shared = shared_verifier(vectors["codes"])
    policy = token_policy(tokens)
    reasons = set()
    for case in tokens["verify"]["cases"]:
        if "error" in case:
            with pytest.raises(r.ReferralError.UserToken) as info:
                shared.verify_user_token(case["token"], policy, case["now"])
            assert info.value.reason == case["error"], case["name"]
            reasons.add(info.value.reason)
        else:
            assert shared.verify_user_token(case["token"], policy, case["now"]) == claims_from_json(case["ok"]), case["name"]
    assert reasons >= {"malformed", "unsupported_version", "unknown_key", "retired_key", "bad_signature",
                       "expired", "issued_in_future", "wrong_audience"}


def test_token_minted_in_python_verifies_with_the_shared_keyring(vectors):
    tokens = vectors["user_tokens"]
    shared = shared_verifier(vectors["codes"])
    token = shared.mint_user_token(r.UserTokenRequest(subject="py-user-1", audience=tokens["policy"]["audience"], ttl_secs=60), 1_780_000_000)
    claims = shared.verify_user_token(token, token_policy(tokens), 1_780_000_030)
    assert claims.subject == "py-user-1"
    assert claims.key_id == shared.active_key_id()
