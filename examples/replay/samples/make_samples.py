#!/usr/bin/env python3
"""Writes the four sample logs (one story, four formats) next to this file.

The story, with examples/nudge/config.toml (holdout: ana and cy):
- ben makes his first report during onboarding: first_report is deferred
  and asked the next day; he dismisses it ("not now"), so his third report
  falls inside the 14-day cooldown.
- dee is asked at her first report and shares; her second report is
  delivered twice (same message id: it must not count as her third); an
  error holds back her NPS 10, asked the next day (deferred); her friend
  signs up and pays.
- eve is asked when she connects an integration and opts out (the opt-out
  is delivered twice); her NPS 9 three weeks later is not asked.
- cy (holdout) shares from the invite page and a friend signs up; ana
  (holdout) just works.
"""
import json
import os

START = 1_780_000_000
D, H, M = 86_400, 3_600, 60

story = [
    # (user, time, event, properties, delivered twice)
    ("ben", 0, "signup", {"plan": "team", "role": "admin"}, False),
    ("dee", 10 * M, "signup", {"plan": "pro", "role": "admin"}, False),
    ("eve", 20 * M, "signup", {"plan": "free", "role": "member"}, False),
    ("cy", 25 * M, "signup", {"plan": "pro", "role": "member"}, False),
    ("ana", 28 * M, "signup", {"plan": "team", "role": "member"}, False),
    ("ben", 30 * M, "onboarding_step", {"step": 1}, False),
    ("ben", 40 * M, "report_generated", {"rows": 120}, False),
    ("dee", 70 * M, "onboarding_completed", {}, False),
    ("eve", 80 * M, "onboarding_completed", {}, False),
    ("cy", 85 * M, "onboarding_completed", {}, False),
    ("ana", 88 * M, "onboarding_completed", {}, False),
    ("ben", 2 * H, "onboarding_completed", {}, False),
    ("ben", D + H, "page_view", {"path": "/dashboard"}, False),
    ("ben", D + H + 40, "nudge_dismissed", {"moment": "first_report"}, False),
    ("dee", 2 * D, "report_generated", {"rows": 900}, False),
    ("dee", 2 * D + M, "nudge_shared", {"moment": "first_report", "channel": "email"}, False),
    ("cy", 2 * D + H, "report_generated", {"rows": 40}, False),
    ("eve", 3 * D, "integration_connected", {"provider": "salesforce"}, False),
    ("eve", 3 * D + 30, "nudge_opted_out", {"moment": "integration_connected"}, True),
    ("ana", 3 * D + H, "report_generated", {"rows": 75}, False),
    ("ben", 4 * D, "report_generated", {"rows": 310}, False),
    ("cy", 5 * D, "referral_link_shared", {"channel": "copy_link"}, False),
    ("dee", 6 * D, "report_generated", {"rows": 455}, True),
    ("ben", 6 * D + H, "report_generated", {"rows": 20}, False),
    ("cy", 8 * D, "referred_signup", {"friend": "f2"}, False),
    ("dee", 10 * D, "error", {"code": 500}, False),
    ("dee", 10 * D + 2 * H, "nps_submitted", {"score": 10}, False),
    ("dee", 11 * D + H, "page_view", {"path": "/reports"}, False),
    ("dee", 12 * D, "referred_signup", {"friend": "f1"}, False),
    ("dee", 14 * D + 2 * H, "report_generated", {"rows": 80}, False),
    ("eve", 20 * D, "nps_submitted", {"score": 9}, False),
    ("dee", 20 * D + H, "referral_converted", {"friend": "f1", "plan": "pro"}, False),
    ("eve", 25 * D, "payment_failed", {}, False),
]


def iso(t, fraction=".000Z"):
    import datetime

    dt = datetime.datetime.fromtimestamp(t, datetime.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + fraction


def lines(fmt):
    out = []
    if fmt == "segment":
        for user in ["ben", "dee"]:
            out.append({"type": "identify", "userId": user, "traits": {"email": f"{user}@example.com"},
                        "timestamp": iso(START), "messageId": f"id-{user}"})
    for i, (user, dt, event, props, twice) in enumerate(story):
        t = START + dt
        mid = f"{user}-{i:03d}"
        if fmt == "native":
            line = {"user": user, "event": event, "properties": props, "timestamp": t, "id": mid}
        elif fmt == "segment":
            line = {"type": "track", "event": event, "userId": user, "anonymousId": f"anon-{user}",
                    "properties": props, "context": {"library": {"name": "analytics.js"}},
                    "timestamp": iso(t), "messageId": mid}
        elif fmt == "amplitude":
            line = {"event_type": event, "user_id": user, "device_id": f"dev-{user}",
                    "event_time": iso(t, ".000000").replace("T", " "), "event_properties": props,
                    "user_properties": {"plan": props.get("plan")}}
            # Exports carry $insert_id; older lines only the uuid.
            line["$insert_id" if i % 3 else "uuid"] = mid
        else:
            # Seconds on some lines, milliseconds on others: both occur.
            time = t * 1000 + 123 if i % 2 else t
            line = {"event": event, "properties": {"distinct_id": user, "time": time,
                                                   "$insert_id": mid, "mp_lib": "web", **props}}
        out.append(line)
        if twice:
            out.append(line)
        if fmt == "segment" and event == "page_view":
            out.append({"type": "page", "userId": user, "name": "Dashboard", "timestamp": iso(t),
                        "messageId": f"page-{i}"})
    return out


here = os.path.dirname(os.path.abspath(__file__))
for fmt in ["native", "segment", "amplitude", "mixpanel"]:
    with open(os.path.join(here, f"{fmt}.jsonl"), "w") as f:
        for line in lines(fmt):
            f.write(json.dumps(line, separators=(",", ":"), ensure_ascii=False) + "\n")
