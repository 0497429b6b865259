"""The shared vectors' code and share sections, run through the Python wheel."""

import referral_sdk as r
import pytest

CHANNELS = {r.channel_name(c): c for c in r.Channel}


def referrer_from_json(value):
    if "numeric" in value:
        return r.ReferrerId.NUMERIC(id=value["numeric"])
    return r.ReferrerId.OPAQUE(bytes=bytes.fromhex(value["opaque"]))


def claims_from_json(value):
    return r.Claims(
        key_id=value["key_id"],
        program_id=value["program_id"],
        referrer=referrer_from_json(value["referrer"]),
        channel=CHANNELS[value["channel"]],
        campaign=value.get("campaign"),
        issued_at=value["issued_at"],
    )


STATUS = {"active": r.KeyStatus.ACTIVE, "verify_only": r.KeyStatus.VERIFY_ONLY, "retired": r.KeyStatus.RETIRED}


def policy_from_json(value):
    return r.VerifyPolicy(
        program_id=value["program_id"],
        max_age_secs=value["max_age_secs"],
        max_clock_skew_secs=value["max_clock_skew_secs"],
    )


def shared_verifier(codes):
    keys = [
        r.KeyEntry(key_id=k["key_id"], secret=bytes.fromhex(k["secret_hex"]), status=STATUS[k["status"]])
        for k in codes["keyring"]
    ]
    return r.Verifier(keys, policy_from_json(codes["policy"]))


def secret_for(codes, key_id):
    for k in codes["keyring"] + codes["unlisted_keys"]:
        if k["key_id"] == key_id:
            return bytes.fromhex(k["secret_hex"])
    raise KeyError(key_id)


def test_hmac_rfc4231(vectors):
    for case in vectors["hmac_rfc4231"]:
        mac = r.hmac_sha256(bytes.fromhex(case["key_hex"]), bytes.fromhex(case["data_hex"]))
        assert mac.hex() == case["hmac_sha256_hex"], case["case"]


def test_mint_matches_byte_for_byte(vectors):
    codes = vectors["codes"]
    for case in codes["mint"]["cases"]:
        key = r.KeyEntry(key_id=case["key_id"], secret=secret_for(codes, case["key_id"]), status=r.KeyStatus.ACTIVE)
        verifier = r.Verifier([key], policy_from_json(codes["policy"]))
        req = case["request"]
        request = r.MintRequest(
            program_id=req["program_id"],
            referrer=referrer_from_json(req["referrer"]),
            channel=CHANNELS[req["channel"]],
            campaign=req["campaign"],
        )
        code = verifier.mint(request, case["now"])
        assert code == case["code"], case["name"]
        assert r.peek_unverified(code) == claims_from_json(case["claims"])


def test_verify_and_peek_decide_like_rust(vectors):
    codes = vectors["codes"]
    verifier = shared_verifier(codes)
    for case in codes["verify"]["cases"]:
        if "error" in case:
            with pytest.raises(r.ReferralError.Code) as info:
                verifier.verify(case["code"], case["now"])
            assert info.value.reason == case["error"], case["name"]
        else:
            assert verifier.verify(case["code"], case["now"]) == claims_from_json(case["ok"]), case["name"]
    for case in codes["peek"]["cases"]:
        if "error" in case:
            with pytest.raises(r.ReferralError.Code) as info:
                r.peek_unverified(case["code"])
            assert info.value.reason == case["error"], case["name"]
        else:
            assert r.peek_unverified(case["code"]) == claims_from_json(case["ok"]), case["name"]


def test_codes_minted_in_python_verify_in_rust_vectors_keyring(vectors):
    """A code minted here with the active vector key verifies with the shared
    keyring (the Kotlin test verifies the file Python writes, see
    test_cross_language.py)."""
    codes = vectors["codes"]
    verifier = shared_verifier(codes)
    request = r.MintRequest(program_id=7, referrer=r.ReferrerId.OPAQUE(bytes=b"py-user-1"), channel=r.Channel.SMS, campaign=5)
    code = verifier.mint(request, 1_780_000_000)
    claims = verifier.verify(code, 1_780_000_100)
    assert claims.referrer == r.ReferrerId.OPAQUE(bytes=b"py-user-1")
    assert claims.key_id == verifier.active_key_id()


def test_share_cases(vectors):
    share = vectors["share"]
    message = r.ShareMessage(share["message"]["subject"], share["message"]["body"])
    v = share["vars"]
    variables = r.MessageVars(referrer_name=v["referrer_name"], product=v["product"], reward=v["reward"])
    for case in share["cases"]:
        o = case["link_options"]
        utm = r.Utm(source=o["utm"]["source"], campaign=o["utm"]["campaign"]) if o.get("utm") else None
        options = r.LinkOptions(base_url=o["base_url"], param=o["param"], utm=utm)
        channel = CHANNELS[case["channel"]]
        link = r.referral_url(options, case["code"], channel)
        assert link == case["link"], case["name"]
        action = message.action(channel, link, variables)
        expected = case["action"]
        if expected["kind"] == "copy":
            assert action == r.ShareAction.COPY(text=expected["text"])
        elif expected["kind"] == "open":
            assert action == r.ShareAction.OPEN(url=expected["url"])
        else:
            assert action == r.ShareAction.NATIVE_SHARE(title=expected["title"], text=expected["text"], url=expected["url"])
    for case in share["invalid_base_urls"]:
        with pytest.raises(r.ReferralError.Share) as info:
            r.referral_url(r.LinkOptions(base_url=case["base_url"], param="ref", utm=None), "C", r.Channel.LINK)
        assert info.value.reason == case["error"]
    for case in share["invalid_templates"]:
        with pytest.raises(r.ReferralError.Config) as info:
            r.ShareMessage("subject", case["template"])
        assert info.value.reason == case["error"]


def test_write_codes_for_kotlin_and_rust(vectors):
    """Mints codes the Kotlin test and `cargo xtask test-bindings` verify."""
    import json
    import pathlib

    codes = vectors["codes"]
    verifier = shared_verifier(codes)
    minted = []
    for i in range(5):
        referrer = f"py-user-{i}".encode()
        request = r.MintRequest(program_id=7, referrer=r.ReferrerId.OPAQUE(bytes=referrer), channel=list(r.Channel)[i], campaign=None)
        code = verifier.mint(request, 1_780_000_000)
        minted.append({"code": code, "now": 1_780_000_100, "referrer_hex": referrer.hex()})
    out = pathlib.Path(__file__).resolve().parents[3] / "target" / "cross"
    out.mkdir(parents=True, exist_ok=True)
    (out / "minted-by-python.json").write_text(json.dumps(minted))
    # And verify what Kotlin minted on an earlier run, when present.
    from_kotlin = out / "minted-by-kotlin.json"
    if from_kotlin.exists():
        for item in json.loads(from_kotlin.read_text()):
            claims = verifier.verify(item["code"], item["now"])
            assert claims.referrer == r.ReferrerId.OPAQUE(bytes=bytes.fromhex(item["referrer_hex"]))
