"""Nudge, attribution, rewards and funnel vectors through the Python wheel:
every decision must match what Rust wrote into the shared file."""

import json

import pytest
import referral_sdk as r

from test_codes import CHANNELS, referrer_from_json, shared_verifier


def prop_value(value):
    if isinstance(value, bool):
        return r.PropertyValue.BOOL(value=value)
    if isinstance(value, int):
        return r.PropertyValue.INT(value=value)
    if isinstance(value, float):
        return r.PropertyValue.FLOAT(value=value)
    return r.PropertyValue.TEXT(value=value)


OUTCOMES = {
    "shown": r.NudgeOutcome.SHOWN,
    "dismissed": r.NudgeOutcome.DISMISSED,
    "opted_out": r.NudgeOutcome.OPTED_OUT,
    "shared": r.NudgeOutcome.SHARED,
    "referred": r.NudgeOutcome.REFERRED,
}


def expected_decision(d):
    if d["decision"] == "ask":
        return r.NudgeDecision.ASK(
            moment=d["moment"], variant=d["variant"], message=d["message"], event=d["why"]["event"],
            occurrence=d["why"]["occurrence"], bypassed=d["why"].get("bypassed", []),
            locale=d.get("locale"),
            deferred=r.NudgeDeferral(**d["why"]["deferred"]) if "deferred" in d["why"] else None,
        )
    reason = d["reason"]
    return r.NudgeDecision.QUIET(
        reason=reason["code"], rule=reason.get("rule"), friction_event=reason.get("event"),
        seconds_ago=reason.get("seconds_ago"), until=reason.get("until"),
    )


def test_nudge_cases(vectors):
    nudge = vectors["nudge"]
    plain = r.NudgeEngine.from_json(json.dumps(nudge["config"]))
    with_experiment = r.NudgeEngine.from_toml(nudge["config_toml"])
    translated = 0
    for case in nudge["cases"]:
        engine = with_experiment if case["experiment"] else plain
        if "config" in case:  # a case's own config (translations per variant)
            engine = r.NudgeEngine.from_json(json.dumps(case["config"]))
        user = engine.new_user(case["user_id"])
        for step in case["steps"]:
            if "event" in step:
                props = {k: prop_value(v) for k, v in step["event"].get("properties", {}).items()}
                locale = step["event"].get("locale")
                decision = user.evaluate(step["event"]["name"], props, step["at"], locale)
                translated += "locale" in step["decision"]
                assert decision == expected_decision(step["decision"]), (case["name"], step)
            else:
                user.record(OUTCOMES[step["record"]], step["at"])
        assert json.loads(user.to_bytes()) == case["final_state"], case["name"]
        # The stored bytes restore the same user.
        restored = engine.restore_user(user.to_bytes())
        assert restored.to_bytes() == user.to_bytes()
    assert translated >= 8
    deferred = [
        step for case in nudge["cases"] for step in case["steps"]
        if "deferred" in step.get("decision", {}).get("why", {})
    ]
    assert len(deferred) >= 2
    for case in nudge["invalid_configs"]:
        with pytest.raises(r.ReferralError.Config) as info:
            r.NudgeEngine.from_toml(case["toml"])
        assert case["expected_field"] in info.value.detail
    # The same configs as JSON, and JSON-only shape errors: the same field.
    json_cases = nudge["invalid_configs"] + nudge["invalid_json_configs"]
    assert len(json_cases) >= 20
    for case in json_cases:
        with pytest.raises(r.ReferralError.Config) as info:
            r.NudgeEngine.from_json(json.dumps(case["json"]))
        assert f"`{case['expected_field']}`" in info.value.detail, (case["name"], info.value.detail)


METHODS = {"link": r.CaptureMethod.LINK, "typed_code": r.CaptureMethod.TYPED_CODE,
           "deep_link": r.CaptureMethod.DEEP_LINK, "install_referrer": r.CaptureMethod.INSTALL_REFERRER}
TOUCH = {"last_touch": r.Touch.LAST_TOUCH, "first_touch": r.Touch.FIRST_TOUCH}


def flag(f):
    kind = f["flag"]
    if kind == "same_company_domain":
        return r.FraudFlag.SAME_COMPANY_DOMAIN(domain=f["domain"])
    if kind == "disposable_email":
        return r.FraudFlag.DISPOSABLE_EMAIL(domain=f["domain"])
    if kind == "duplicate_person":
        return r.FraudFlag.DUPLICATE_PERSON(normalized_email=f["normalized_email"], existing_account=f["existing_account"])
    if kind == "referral_ring":
        return r.FraudFlag.REFERRAL_RING(other_account=f["other_account"])
    if kind == "velocity":
        return r.FraudFlag.VELOCITY(rewards_this_month=f["rewards_this_month"], limit=f["limit"])
    return r.FraudFlag.SHARED_NETWORK_PREFIX()


def test_attribution_cases(vectors):
    verifier = shared_verifier(vectors["codes"])
    typed = vectors["attribution"]["typed_code"]
    assert verifier.typed_code(typed["program_id"], typed["referrer"]) == typed["code"]
    for case in vectors["attribution"]["cases"]:
        p = case["policy"]
        policy = r.AttributionPolicy(window_secs=p["window_secs"], touch=TOUCH[p["touch"]],
                                     allow_same_company_domain=p["allow_same_company_domain"],
                                     max_rewards_per_month=p["max_rewards_per_month"])
        captures = [r.CapturedReferral(code=c["code"], captured_at=c["captured_at"], method=METHODS[c["method"]]) for c in case["captures"]]
        s = case["signup"]
        signup = r.Signup(account_id=s["account_id"], email=s["email"], company_domain=s.get("company_domain"),
                          at=s["at"], network_prefix_hash=s.get("network_prefix_hash"))
        referrers = [r.ReferrerInfo(referrer=referrer_from_json(x["referrer"]), account_id=x["account_id"], email_domain=x["email_domain"],
                                    network_prefix_hash=x.get("network_prefix_hash"), referred_by_account=x.get("referred_by_account"),
                                    rewards_this_month=x.get("rewards_this_month", 0)) for x in case["referrers"]]
        outcome = verifier.attribute(policy, captures, signup, referrers, case["known"].get("account_with_same_normalized_email"))
        e = case["expected"]
        aside = [r.SetAside(code=x["code"], reason=x["reason"]) for x in e["set_aside"]]
        if e["outcome"] == "attributed":
            assert outcome == r.AttributionOutcome.ATTRIBUTED(
                referrer=referrer_from_json(e["referrer"]), referrer_account=e["referrer_account"], code=e["code"],
                program_id=e["program_id"], channel=CHANNELS[e["channel"]] if e["channel"] else None, campaign=e["campaign"],
                method=METHODS[e["method"]], touch=TOUCH[e["touch"]], captured_at=e["captured_at"], competing=e["competing"],
                flags=[flag(f) for f in e["flags"]], review=e["review"], set_aside=aside,
            ), case["name"]
        else:
            assert outcome == r.AttributionOutcome.NOT_ATTRIBUTED(reason=e["reason"]["code"], set_aside=aside), case["name"]


def test_fraud_cases(vectors):
    for case in vectors["fraud"]["normalize_email"]:
        if "normalized" in case:
            assert r.normalize_email(case["email"]) == case["normalized"]
        else:
            with pytest.raises(r.ReferralError.InvalidInput) as info:
                r.normalize_email(case["email"])
            assert info.value.reason == case["error"]
    for case in vectors["fraud"]["disposable_domains"]:
        assert r.is_disposable_domain(case["domain"]) == case["disposable"]


def money(m):
    return None if m is None else r.Money(amount_minor=m["amount_minor"], currency=m["currency"])


def rule(x):
    t = x["type"]
    if t == "account_credit":
        return r.RewardRule.ACCOUNT_CREDIT(amount=money(x["amount"]))
    if t == "free_months":
        return r.RewardRule.FREE_MONTHS(months=x["months"])
    if t == "feature_unlock":
        return r.RewardRule.FEATURE_UNLOCK(feature=x["feature"])
    if t == "tier_upgrade":
        return r.RewardRule.TIER_UPGRADE(tier=x["tier"], months=x["months"])
    if t == "fixed":
        return r.RewardRule.FIXED(amount=money(x["amount"]))
    if t == "percent_of_acv":
        return r.RewardRule.PERCENT_OF_ACV(basis_points=x["basis_points"], min=money(x.get("min")), max=money(x.get("max")))
    return r.RewardRule.REVENUE_SHARE(basis_points=x["basis_points"], months=x.get("months"))


def program_from_json(p):
    cap = p.get("cap")
    return r.Program(
        id=p["id"], kind=getattr(r.ProgramKind, p["kind"].upper()), qualifying_event=getattr(r.QualifyingEvent, p["qualifying_event"].upper()),
        referrer_reward=rule(p["referrer_reward"]), friend_reward=rule(p["friend_reward"]) if p.get("friend_reward") else None,
        tiers=[r.Tier(from_count=t["from_count"], reward=rule(t["reward"])) for t in p["tiers"]],
        cap=r.Cap(period=getattr(r.Period, cap["period"].upper()), max_rewards=cap.get("max_rewards"), max_amount=money(cap.get("max_amount"))) if cap else None,
        hold_days=p["hold_days"], clawback_days=p["clawback_days"], currency=p.get("currency"),
    )


def ledger_event(e):
    t = e["type"]
    if t == "attributed":
        return r.LedgerEvent.ATTRIBUTED(event_id=e["event_id"], referral_id=e["referral_id"], referrer_account=e["referrer_account"],
                                        friend_account=e["friend_account"], review=e["review"], at=e["at"])
    if t == "qualified":
        return r.LedgerEvent.QUALIFIED(event_id=e["event_id"], referral_id=e["referral_id"], event=getattr(r.QualifyingEvent, e["event"].upper()),
                                       at=e["at"], acv=money(e.get("acv")))
    if t == "payment":
        return r.LedgerEvent.PAYMENT(event_id=e["event_id"], referral_id=e["referral_id"], at=e["at"], amount=money(e["amount"]), acv=money(e.get("acv")))
    if t == "approved":
        return r.LedgerEvent.APPROVED(event_id=e["event_id"], referral_id=e["referral_id"], at=e["at"])
    if t == "reversal":
        return r.LedgerEvent.REVERSAL(event_id=e["event_id"], referral_id=e["referral_id"], at=e["at"], reason=getattr(r.ReversalReason, e["reason"].upper()))
    if t == "adjustment":
        return r.LedgerEvent.ADJUSTMENT(event_id=e["event_id"], referral_id=e["referral_id"], side=getattr(r.Side, e["side"].upper()),
                                        amount=money(e["amount"]), reason=e["reason"], at=e["at"])
    return r.LedgerEvent.PAID(event_id=e["event_id"], entry_id=e["entry_id"], at=e["at"])


def test_reward_steps(vectors):
    rewards = vectors["rewards"]
    assert rewards["program"]["currency"]
    assert "currency_mismatch" in {step.get("error") for step in rewards["steps"]}
    ledger = r.RewardsLedger(program_from_json(rewards["program"]))
    for step in rewards["steps"]:
        event = ledger_event(step["event"])
        if "applied" in step:
            applied = ledger.apply(event)
            assert applied.outcome == step["applied"]["outcome"], step
            expected_entries = step["applied"].get("entries") or ([step["applied"]["entry"]] if "entry" in step["applied"] else [])
            assert applied.entries == expected_entries
        else:
            with pytest.raises(r.ReferralError.Ledger) as info:
                ledger.apply(event)
            assert info.value.reason == step["error"]
    statuses = {e.id: e.status for e in ledger.entries(rewards["at"])}
    for s in rewards["statuses"]:
        assert statuses[s["entry"]] == getattr(r.EntryStatus, s["status"].upper())
    balances = {b.beneficiary: b for b in ledger.balances(rewards["at"])}
    for b in rewards["balances"]:
        got = balances[b["beneficiary"]]
        assert [(l.status, l.currency, l.amount_minor) for l in got.money] == [
            (getattr(r.EntryStatus, l["status"].upper()), l["currency"], l["amount_minor"]) for l in b["balance"]["money"]]
    check_rewards_this_month(rewards, ledger)
    # Stored bytes restore the same ledger.
    restored = r.RewardsLedger.restore(program_from_json(rewards["program"]), ledger.to_bytes())
    assert restored.balances(rewards["at"]) == ledger.balances(rewards["at"])
    assert restored.entries(rewards["at"]) == ledger.entries(rewards["at"])
    check_rewards_this_month(rewards, restored)


def check_rewards_this_month(rewards, ledger):
    earned = rewards["rewards_this_month_when_earned"]
    for now, expected in ((rewards["at"], rewards["rewards_this_month"]), (earned["at"], earned["expected"])):
        assert len(expected) == len(rewards["balances"])
        got = {x["account"]: ledger.rewards_this_month(x["account"], now) for x in expected}
        assert got == {x["account"]: x["rewards_this_month"] for x in expected}, now
    assert any(x["rewards_this_month"] for x in earned["expected"]), "every count is zero"


def test_single_ledger_format_restores(vectors):
    """Bytes stored before ledgers were kept per referrer (one JSON ledger
    for the program) restore, and the ledger carries on from them."""
    rewards = vectors["rewards"]
    program = program_from_json(rewards["program"])
    old_bytes = json.dumps(rewards["single_ledger"]).encode()
    ledger = r.RewardsLedger.restore(program, old_bytes)
    at = rewards["at"]
    statuses = {e.id: e.status for e in ledger.entries(at)}
    assert statuses == {s["entry"]: getattr(r.EntryStatus, s["status"].upper()) for s in rewards["statuses"]}
    balances = {b.beneficiary: b for b in ledger.balances(at)}
    assert set(balances) == {b["beneficiary"] for b in rewards["balances"]}
    for b in rewards["balances"]:
        got = balances[b["beneficiary"]]
        assert [(l.status, l.currency, l.amount_minor) for l in got.money] == [
            (getattr(r.EntryStatus, l["status"].upper()), l["currency"], l["amount_minor"]) for l in b["balance"]["money"]]
        assert [(m.currency, m.amount_minor) for m in got.clawback_due] == [
            (m["currency"], m["amount_minor"]) for m in b["balance"]["clawback_due"]]
    check_rewards_this_month(rewards, ledger)
    # Events already applied stay duplicates; a refused one is refused again.
    for step in rewards["steps"]:
        event = ledger_event(step["event"])
        if "applied" in step:
            assert ledger.apply(event).outcome == "duplicate", step
        else:
            with pytest.raises(r.ReferralError.Ledger) as info:
                ledger.apply(event)
            assert info.value.reason == step["error"]
    # Saved again, it is in the new format and restores to the same ledger.
    again = r.RewardsLedger.restore(program, ledger.to_bytes())
    assert again.entries(at) == ledger.entries(at)
    assert json.loads(ledger.to_bytes()) != rewards["single_ledger"]
    for bad in (b"not json", b"{}", b"[]"):
        with pytest.raises(r.ReferralError.InvalidInput) as info:
            r.RewardsLedger.restore(program, bad)
        assert info.value.reason == "invalid_ledger"


def test_funnel(vectors):
    f = vectors["funnel"]
    stage = lambda s: getattr(r.Stage, s.upper())  # noqa: E731
    events = [r.FunnelEvent(stage=stage(e["stage"]), at=e["at"], referrer=e["referrer"], channel=e.get("channel"),
                            moment=e.get("moment"), program=e.get("program")) for e in f["events"]]
    customers = [r.Customer(account=c["account"], since=c["since"], active=c["active"]) for c in f["customers"]]
    report = r.funnel(events, customers)
    expected = f["expected"]
    assert {l.stage: l.count for l in report.total if l.count} == {stage(k): v for k, v in expected["total"]["counts"].items()}
    assert {l.stage: l.conversion_bp for l in report.total if l.conversion_bp is not None} == {
        stage(k): v for k, v in expected["total"]["conversion_bp"].items()}
    assert report.referral_rate_bp == expected["referral_rate_bp"]
    assert report.time_to_first_referral_median_secs == expected["time_to_first_referral_median_secs"]
    assert set(report.by_channel) == set(expected["by_channel"])


def test_widget_event_stages(vectors):
    cases = vectors["funnel"]["widget_stages"]
    assert {"impression", "share", "copy", "dismiss", "opt_out"} <= {c["event"] for c in cases}
    for case in cases:
        expected = getattr(r.Stage, case["stage"].upper()) if case["stage"] is not None else None
        assert r.funnel_stage_of_widget_event(case["event"]) == expected, case


def test_ledger_and_config_errors_are_reachable():
    with pytest.raises(r.ReferralError.Config) as info:
        r.RewardsLedger(r.Program(id=1, kind=r.ProgramKind.CUSTOMER, qualifying_event=r.QualifyingEvent.SIGNUP,
                                  referrer_reward=r.RewardRule.FIXED(amount=r.Money(amount_minor=100, currency="USD")),
                                  friend_reward=None, tiers=[], cap=None, hold_days=0, clawback_days=0))
    assert info.value.reason == "invalid_program"
    with pytest.raises(r.ReferralError.Config) as info:
        r.RewardsLedger(r.Program(id=1, kind=r.ProgramKind.CUSTOMER, qualifying_event=r.QualifyingEvent.SIGNUP,
                                  referrer_reward=r.RewardRule.FREE_MONTHS(months=1), friend_reward=None, tiers=[],
                                  cap=None, hold_days=0, clawback_days=0, currency="usd"))
    assert info.value.reason == "invalid_program"
    assert "currency" in info.value.detail
    with pytest.raises(r.ReferralError.InvalidInput) as info:
        r.NudgeEngine.from_toml("[[moments]]\nname='a'\nevent='e'\nmessage='x'\n").restore_user(b"not json")
    assert info.value.reason == "invalid_state"
