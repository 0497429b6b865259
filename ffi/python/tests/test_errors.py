"""Every public error variant is reachable from Python and keeps its reason."""

import referral_sdk as r
import pytest

POLICY = r.VerifyPolicy(program_id=7, max_age_secs=3600, max_clock_skew_secs=60)


def verifier():
    return r.Verifier([r.KeyEntry(key_id=1, secret=b"k" * 32, status=r.KeyStatus.ACTIVE)], POLICY)


def test_keyring_errors():
    with pytest.raises(r.ReferralError.Keyring) as info:
        r.Verifier([r.KeyEntry(key_id=1, secret=b"short", status=r.KeyStatus.ACTIVE)], POLICY)
    assert info.value.reason == "secret_too_short"
    with pytest.raises(r.ReferralError.Keyring) as info:
        r.Verifier([r.KeyEntry(key_id=1, secret=b"k" * 32, status=r.KeyStatus.RETIRED)], POLICY)
    assert info.value.reason == "active_key_count"


def test_mint_errors():
    request = r.MintRequest(program_id=7, referrer=r.ReferrerId.OPAQUE(bytes=b"x" * 33), channel=r.Channel.LINK, campaign=None)
    with pytest.raises(r.ReferralError.Mint) as info:
        verifier().mint(request, 1_780_000_000)
    assert info.value.reason == "opaque_referrer_length"
    request = r.MintRequest(program_id=7, referrer=r.ReferrerId.NUMERIC(id=1), channel=r.Channel.LINK, campaign=None)
    with pytest.raises(r.ReferralError.Mint) as info:
        verifier().mint(request, 5)
    assert info.value.reason == "before_epoch"


def test_code_errors_are_exceptions_with_reason_and_message():
    with pytest.raises(r.ReferralError) as info:
        verifier().verify("not a code", 1_780_000_000)
    assert isinstance(info.value, r.ReferralError.Code)
    assert info.value.reason == "malformed"
    assert "malformed" in info.value.detail


def test_user_token_errors():
    with pytest.raises(r.ReferralError.UserToken) as info:
        verifier().verify_user_token("not a token", r.UserTokenPolicy(audience="https://a.example", max_clock_skew_secs=60), 1_780_000_000)
    assert info.value.reason == "malformed"
    assert "malformed" in info.value.detail
    with pytest.raises(r.ReferralError.UserToken) as info:
        verifier().mint_user_token(r.UserTokenRequest(subject="u", audience="https://a.example", ttl_secs=0), 1_780_000_000)
    assert info.value.reason == "invalid_ttl"


def test_share_and_config_errors():
    with pytest.raises(r.ReferralError.Share):
        r.referral_url(r.LinkOptions(base_url="javascript:alert(1)", param="ref", utm=None), "C", r.Channel.LINK)
    with pytest.raises(r.ReferralError.Config) as info:
        r.ShareMessage("Hi {name}", "{link}")
    assert info.value.reason == "unknown_placeholder"


def test_channel_names_round_trip():
    for channel in r.Channel:
        assert r.channel_from_name(r.channel_name(channel)) == channel
    assert r.channel_from_name("myspace") is None
