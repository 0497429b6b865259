//! A realistic synthetic analytics log: signups, onboarding steps (40 % make
//! a first report during them), page
//! views, reports, integrations (some failing), errors, seats, NPS answers,
//! payment failures and cancellations; with `outcomes`, what users did
//! with the asks and the referrals that followed. Deterministic for a seed.
//! Written in any of the formats replay reads.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::Write;

use referral_core::nudge::{
    evaluate, record, Decision, Event, NudgeConfig, NudgeState, Outcome, PropValue,
};

use crate::formats::Format;
use crate::responses::{self, Logged};

const DAY: u64 = 86_400;
const START: u64 = 1_780_000_000;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    /// True with probability `per_mille` / 1000.
    fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }
}

#[derive(Clone, Copy, Default)]
pub struct Options<'a> {
    /// Stop after this many events (the last user may be cut short).
    pub events: u64,
    pub seed: u64,
    /// Write timestamps as RFC 3339 text instead of Unix seconds (native
    /// format only; Segment's are always ISO 8601).
    pub iso_timestamps: bool,
    /// Insert a malformed line every N lines (0: never).
    pub malformed_every: u64,
    /// The line format (`None`: replay's native format).
    pub format: Option<Format>,
    /// Write every Nth event twice, with the same message id (0: never;
    /// native lines get an `id` only then).
    pub duplicate_every: u64,
    /// Run each user through the nudge engine with this config and write
    /// what they did: answers to its asks (`nudge_opted_out` 7 %,
    /// `nudge_dismissed` 55 %, `nudge_shared` 13 % of asks), shares from an
    /// invite page (3 % of users, asked or not), referred signups (40 % of
    /// shares) and paid conversions (35 % of signups).
    pub outcomes: Option<&'a NudgeConfig>,
}

/// What `generate` wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub lines: u64,
    pub events: u64,
    /// Asks the engine made while generating outcomes (replaying the log
    /// with its answers makes the same asks).
    pub asks: u64,
}

pub(crate) fn iso(secs: u64) -> String {
    let days = (secs / DAY) as i64;
    let rem = secs % DAY;
    // civil_from_days (Howard Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

struct Writer<'o, 'a, W: Write> {
    out: &'o mut W,
    options: &'o Options<'a>,
    line: String,
    summary: Summary,
}

impl<W: Write> Writer<'_, '_, W> {
    /// Writes one event; false once the event budget is spent.
    fn emit(&mut self, user: &str, event: &Event, at: u64) -> std::io::Result<bool> {
        let options = self.options;
        if self.summary.events >= options.events {
            return Ok(false);
        }
        self.summary.events += 1;
        let id = format!("{user}-{}", self.summary.events);
        let line = &mut self.line;
        line.clear();
        let properties = |line: &mut String, open: bool| {
            for (i, (key, value)) in event.properties.iter().enumerate() {
                if i > 0 || !open {
                    line.push(',');
                }
                line.push('"');
                line.push_str(key);
                line.push_str("\":");
                line.push_str(&serde_json::to_string(value).unwrap_or_default());
            }
        };
        match options.format.unwrap_or(Format::Native) {
            Format::Native => {
                line.push_str("{\"user\":\"");
                line.push_str(user);
                line.push_str("\",\"event\":\"");
                line.push_str(&event.name);
                line.push_str("\",\"properties\":{");
                properties(line, true);
                line.push_str("},\"timestamp\":");
                if options.iso_timestamps {
                    line.push('"');
                    line.push_str(&iso(at));
                    line.push('"');
                } else {
                    line.push_str(&at.to_string());
                }
                if options.duplicate_every > 0 {
                    line.push_str(",\"id\":\"");
                    line.push_str(&id);
                    line.push('"');
                }
            }
            Format::Segment => {
                line.push_str("{\"type\":\"track\",\"event\":\"");
                line.push_str(&event.name);
                line.push_str("\",\"userId\":\"");
                line.push_str(user);
                line.push_str("\",\"properties\":{");
                properties(line, true);
                line.push_str("},\"timestamp\":\"");
                line.push_str(&iso(at).replace('Z', ".000Z"));
                line.push_str("\",\"messageId\":\"");
                line.push_str(&id);
                line.push('"');
            }
            Format::Amplitude => {
                line.push_str("{\"event_type\":\"");
                line.push_str(&event.name);
                line.push_str("\",\"user_id\":\"");
                line.push_str(user);
                line.push_str("\",\"event_time\":\"");
                line.push_str(&iso(at).replace('T', " ").replace('Z', ".000000"));
                line.push_str("\",\"event_properties\":{");
                properties(line, true);
                line.push_str("},\"$insert_id\":\"");
                line.push_str(&id);
                line.push('"');
            }
            Format::Mixpanel => {
                line.push_str("{\"event\":\"");
                line.push_str(&event.name);
                line.push_str("\",\"properties\":{\"distinct_id\":\"");
                line.push_str(user);
                line.push_str("\",\"time\":");
                // Milliseconds, as Mixpanel's newer exports write them.
                line.push_str(&(at * 1000).to_string());
                line.push_str(",\"$insert_id\":\"");
                line.push_str(&id);
                line.push('"');
                properties(line, false);
                line.push('}');
            }
        }
        line.push_str("}\n");
        self.out.write_all(line.as_bytes())?;
        self.summary.lines += 1;
        self.malformed()?;
        if options.duplicate_every > 0
            && self.summary.events.is_multiple_of(options.duplicate_every)
        {
            self.out.write_all(self.line.as_bytes())?;
            self.summary.lines += 1;
            self.malformed()?;
        }
        Ok(true)
    }

    fn malformed(&mut self) -> std::io::Result<()> {
        let every = self.options.malformed_every;
        if every > 0 && self.summary.lines.is_multiple_of(every) {
            self.out.write_all(b"{\"user\":\"broken\",\"event\":\n")?;
            self.summary.lines += 1;
        }
        Ok(())
    }
}

fn event(name: &str, props: &[(&str, PropValue)]) -> Event {
    Event {
        name: name.to_owned(),
        properties: props
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
        locale: None,
    }
}

/// Writes the log.
pub fn generate(out: &mut impl Write, options: &Options) -> std::io::Result<Summary> {
    let mut rng = Rng(options.seed);
    let mut writer = Writer {
        out,
        options,
        line: String::with_capacity(200),
        summary: Summary::default(),
    };
    let mut user = 0u64;
    let mut timeline: Vec<(u64, Event)> = Vec::new();
    while writer.summary.events < options.events {
        user += 1;
        timeline.clear();
        let mut t = START + rng.below(30 * DAY);
        let mut emit = |name: &str, at: u64, props: &[(&str, PropValue)]| {
            timeline.push((at, event(name, props)));
        };
        let plan = ["free", "pro", "team"][rng.below(3) as usize];
        let role = ["admin", "member"][rng.below(2) as usize];
        emit("signup", t, &[("plan", plan.into()), ("role", role.into())]);
        for step in 1..=3 {
            t += 300 + rng.below(3600);
            emit("onboarding_step", t, &[("step", step.into())]);
            // Many make their first report while still onboarding.
            if step == 2 && rng.chance(400) {
                t += 60 + rng.below(600);
                let rows = rng.below(500) as i64;
                emit("report_generated", t, &[("rows", rows.into())]);
            }
        }
        if rng.chance(850) {
            t += 600 + rng.below(DAY);
            emit("onboarding_completed", t, &[]);
        }
        let active_days = 20 + rng.below(60);
        let mut integrated = false;
        let mut nps_day = 25 + rng.below(20);
        let mut cancelled = false;
        for day in 0..active_days {
            if cancelled || !rng.chance(600) {
                continue;
            }
            let mut at = t + day * DAY + rng.below(8 * 3600);
            for _ in 0..1 + rng.below(4) {
                at += 30 + rng.below(1800);
                emit("page_view", at, &[("path", "/dashboard".into())]);
            }
            if rng.chance(450) {
                at += 60 + rng.below(600);
                let rows = rng.below(5000) as i64;
                emit("report_generated", at, &[("rows", rows.into())]);
            }
            if rng.chance(60) {
                at += 10 + rng.below(300);
                emit("error", at, &[("code", 500.into())]);
            }
            if !integrated && rng.chance(250) {
                at += 60 + rng.below(600);
                if rng.chance(200) {
                    emit(
                        "integration_failed",
                        at,
                        &[("provider", "salesforce".into())],
                    );
                } else {
                    integrated = true;
                    emit(
                        "integration_connected",
                        at,
                        &[("provider", "salesforce".into())],
                    );
                }
            }
            if rng.chance(40) {
                at += 60 + rng.below(600);
                emit("seat_added", at, &[("seats", 2.into())]);
            }
            if rng.chance(10) {
                at += 60;
                emit("payment_failed", at, &[]);
            }
            if day >= nps_day {
                nps_day = u64::MAX;
                at += 60 + rng.below(600);
                // Skewed towards promoters, as B2B NPS answers tend to be.
                let score = [10, 10, 9, 9, 9, 8, 8, 7, 6, 5, 3, 0][rng.below(12) as usize];
                emit("nps_submitted", at, &[("score", score.into())]);
            }
            if rng.chance(4) {
                at += 60;
                cancelled = true;
                emit("cancel_started", at, &[("reason", "budget".into())]);
            }
        }
        let user_id = format!("u{user}");
        match options.outcomes {
            None => {
                for (at, event) in &timeline {
                    if !writer.emit(&user_id, event, *at)? {
                        break;
                    }
                }
            }
            Some(config) => with_outcomes(&mut writer, config, &user_id, user, &timeline)?,
        }
    }
    Ok(writer.summary)
}

/// Writes one user's timeline through the engine, with what they did.
fn with_outcomes<W: Write>(
    writer: &mut Writer<'_, '_, W>,
    config: &NudgeConfig,
    user_id: &str,
    user: u64,
    timeline: &[(u64, Event)],
) -> std::io::Result<()> {
    // Its own stream, so the product events are the same with or without
    // outcomes.
    let mut rng = Rng(writer.options.seed ^ user.wrapping_mul(0xd6e8_feb8_6659_fd93) ^ 0x5eed);
    let mut state = NudgeState::new(user_id);
    // Outcomes to come: (time, order of scheduling, event).
    let mut queue: BinaryHeap<Reverse<(u64, u64, String)>> = BinaryHeap::new();
    let mut scheduled = 0u64;
    let mut schedule = |queue: &mut BinaryHeap<_>, at: u64, name: &str| {
        scheduled += 1;
        queue.push(Reverse((at, scheduled, name.to_owned())));
    };
    if rng.chance(30) && !timeline.is_empty() {
        let (at, _) = &timeline[rng.below(timeline.len() as u64) as usize];
        schedule(&mut queue, at + 600, responses::LINK_SHARED);
    }
    let mut next = 0;
    loop {
        let base_first = match (timeline.get(next), queue.peek()) {
            (Some((at, _)), Some(Reverse((queued, _, _)))) => at <= queued,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => return Ok(()),
        };
        let (at, event) = if base_first {
            next += 1;
            (timeline[next - 1].0, timeline[next - 1].1.clone())
        } else {
            let Reverse((at, _, name)) = queue.pop().expect("peeked");
            (at, event(&name, &[]))
        };
        if !writer.emit(user_id, &event, at)? {
            return Ok(());
        }
        if let Some(logged) = responses::logged(&event.name) {
            responses::apply_logged(&mut state, logged, at, true);
            match logged {
                Logged::Answer(Outcome::Shared) | Logged::Shared if rng.chance(400) => {
                    schedule(
                        &mut queue,
                        at + DAY + rng.below(4 * DAY),
                        responses::REFERRED_SIGNUP,
                    );
                }
                Logged::ReferredSignup if rng.chance(350) => {
                    schedule(
                        &mut queue,
                        at + 7 * DAY + rng.below(14 * DAY),
                        responses::REFERRAL_CONVERTED,
                    );
                }
                _ => {}
            }
        }
        if let Decision::Ask(_) = evaluate(config, &mut state, &event, at) {
            writer.summary.asks += 1;
            record(&mut state, Outcome::Shown, at);
            let answer = rng.below(1000);
            let name = if answer < 70 {
                responses::OPTED_OUT
            } else if answer < 620 {
                responses::DISMISSED
            } else if answer < 750 {
                responses::SHARED
            } else {
                continue;
            };
            schedule(&mut queue, at + 5 + rng.below(55), name);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn iso_matches_unix_seconds() {
        assert_eq!(super::iso(1_780_000_000), "2026-05-28T20:26:40Z");
        assert_eq!(
            crate::timestamp::parse_rfc3339(&super::iso(1_795_000_123)),
            Ok(1_795_000_123)
        );
    }
}
