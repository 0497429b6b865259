"""Billing vectors through the Python wheel: Stripe events (from Stripe's
published fixtures) read as core reads them, Stripe-Signature headers made
by Stripe's own library checked as core checks them, and the first-year
value rule."""

import pytest
import referral_sdk as r

ACCOUNTS = {"account": r.BillingAccount.ACCOUNT, "customer": r.BillingAccount.CUSTOMER, "charge": r.BillingAccount.CHARGE}
SIMPLE_FACTS = {"refund": r.BillingFact.REFUND, "chargeback": r.BillingFact.CHARGEBACK, "cancellation": r.BillingFact.CANCELLATION}


def account(j):
    return ACCOUNTS[j["by"]](j["id"])


def money(j):
    return None if j is None else r.Money(amount_minor=j["amount_minor"], currency=j["currency"])


def fact(j):
    if j["kind"] == "payment":
        return r.BillingFact.PAYMENT(amount=money(j["amount"]), acv=money(j.get("acv")))
    return SIMPLE_FACTS[j["kind"]]()


def billing(j):
    if j is None:
        return None
    return r.BillingEvent(event_id=j["event_id"], account=account(j["account"]), fact=fact(j["fact"]), at=j["at"])


def test_stripe_events_map_as_in_rust(vectors):
    cases = vectors["billing"]["stripe_events"]
    assert len(cases) >= 12
    for case in cases:
        expected = case["expected"]
        if "error" in expected:
            with pytest.raises(r.ReferralError.InvalidInput) as info:
                r.stripe_map_event(case["body"], case["live_mode"], case["account_key"])
            assert info.value.reason == expected["error"], case["name"]
            continue
        got = r.stripe_map_event(case["body"], case["live_mode"], case["account_key"])
        want = r.StripeMapped(
            event_id=expected["event_id"],
            event_type=expected["event_type"],
            links=[r.StripeLink(stripe_id=i, account=account(a)) for i, a in expected["links"]],
            billing=billing(expected["billing"]),
            ignored=expected["ignored"],
        )
        assert got == want, case["name"]
        if got.billing is not None:
            # The ledger event for the referral is core's too.
            event = r.billing_ledger_event(got.billing, "ref_1")
            assert event is not None


def test_stripe_signatures_made_by_stripes_library_verify(vectors):
    cases = vectors["billing"]["stripe_signatures"]
    assert any("timestamp" in c["expected"] for c in cases)
    for case in cases:
        call = lambda: r.stripe_verify_signature(  # noqa: E731
            case["header"], case["body"].encode(), case["secrets"], case["now"], case["tolerance_secs"])
        if "timestamp" in case["expected"]:
            assert call() == case["expected"]["timestamp"], case["name"]
        else:
            with pytest.raises(r.ReferralError.InvalidInput) as info:
                call()
            assert info.value.reason == case["expected"]["error"], case["name"]


def test_first_year_values(vectors):
    intervals = {"day": r.BillingInterval.DAY, "week": r.BillingInterval.WEEK, "month": r.BillingInterval.MONTH, "year": r.BillingInterval.YEAR}
    for case in vectors["billing"]["first_year_value"]:
        got = r.billing_first_year_value(case["amount_minor"], intervals[case["interval"]], case["count"])
        assert got == case["expected"]
