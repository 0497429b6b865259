"""The nudge merge vectors through the Python wheel: two stored copies of one
person's state merge, in either order, to what Rust wrote into the shared
file, or fail with its reason."""

import json

import pytest
import referral_sdk as r


def stored(state):
    return json.dumps(state).encode()


def test_nudge_merge_cases(vectors):
    nudge = vectors["nudge"]
    engine = r.NudgeEngine.from_json(json.dumps(nudge["config"]))
    cases = nudge["merge"]["cases"]
    assert len(cases) >= 15
    for case in cases:
        for first, second, order in ((case["a"], case["b"], "(a, b)"), (case["b"], case["a"], "(b, a)")):
            user = engine.restore_user(stored(first))
            if "error" in case:
                before = user.to_bytes()
                with pytest.raises(r.ReferralError.InvalidInput) as info:
                    user.merge(stored(second))
                assert info.value.reason == case["error"], (case["name"], order)
                # A refused merge leaves the state as it was.
                assert user.to_bytes() == before, (case["name"], order)
            else:
                user.merge(stored(second))
                assert json.loads(user.to_bytes()) == case["merged"], (case["name"], order)


def test_nudge_merge_refuses_unreadable_copies():
    engine = r.NudgeEngine.from_toml("[[moments]]\nname='a'\nevent='e'\nmessage='x'\n")
    user = engine.new_user("u")
    for bad, reason in ((b"not json", "invalid_state"), (b"\xff", "invalid_state"),
                        (b'{"v": 99, "user_id": "u"}', "future_state_version")):
        with pytest.raises(r.ReferralError.InvalidInput) as info:
            user.merge(bad)
        assert info.value.reason == reason, bad
