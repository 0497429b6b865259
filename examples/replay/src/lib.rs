//! Replay: run every user of a product analytics log through the nudge
//! engine and report what it would have done.
//!
//! Input is JSON Lines, one event per line:
//! `{"user": "u1", "event": "report_generated", "properties": {"rows": 10}, "timestamp": 1780000000}`
//! where `timestamp` is Unix seconds or an RFC 3339 string
//! (`"2026-05-28T09:30:00Z"`, offsets allowed).
//!
//! Memory: a log whose events are in time order per user (the usual export
//! order, globally sorted or grouped by user) is streamed, keeping only each
//! user's nudge state. If an event is older than an earlier event of the same
//! user, the log is not in order: replay starts over, loads the events
//! (compactly) into memory and sorts them by user and time, and says so in
//! the report.

pub mod generate;
pub mod timestamp;

use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;

use referral_core::nudge::{evaluate, Decision, Event, NudgeConfig, NudgeState, PropValue};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
struct Line {
    user: String,
    event: String,
    #[serde(
        default,
        deserialize_with = "referral_core::nudge::event::properties_as_map::deserialize"
    )]
    properties: Vec<(String, PropValue)>,
    timestamp: timestamp::Timestamp,
}

/// One user's progress through the log.
struct UserRun {
    state: NudgeState,
    first_at: u64,
    last_at: u64,
    first_ask_at: Option<u64>,
    onboarding_done: bool,
    last_friction: Option<u64>,
}

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Report {
    pub lines: u64,
    pub events: u64,
    pub users: u64,
    /// `streamed` or `sorted in memory` (the log was not in order per user).
    pub mode: String,
    pub malformed_lines: u64,
    /// The first malformed lines: (line number, problem).
    pub malformed_examples: Vec<(u64, String)>,
    pub asks: u64,
    pub asks_by_moment: BTreeMap<String, u64>,
    pub asks_by_variant: BTreeMap<String, u64>,
    pub quiet_by_reason: BTreeMap<String, u64>,
    pub users_asked: u64,
    /// Days from a user's first event to their first ask.
    pub days_to_first_ask_median: Option<f64>,
    pub days_to_first_ask_p90: Option<f64>,
    /// Independent checks of the engine's promises: both must be zero.
    pub asks_during_onboarding: u64,
    pub asks_within_friction_window: u64,
}

const MALFORMED_EXAMPLES: usize = 20;

struct Replay<'a> {
    config: &'a NudgeConfig,
    users: HashMap<String, UserRun>,
    report: Report,
    days_to_first_ask: Vec<u64>,
}

/// What happened on one line when streaming.
enum Fed {
    Ok,
    OutOfOrder,
}

impl<'a> Replay<'a> {
    fn new(config: &'a NudgeConfig) -> Replay<'a> {
        Replay {
            config,
            users: HashMap::new(),
            report: Report::default(),
            days_to_first_ask: Vec::new(),
        }
    }

    fn malformed(&mut self, line_no: u64, problem: String) {
        self.report.malformed_lines += 1;
        if self.report.malformed_examples.len() < MALFORMED_EXAMPLES {
            self.report.malformed_examples.push((line_no, problem));
        }
    }

    fn feed(&mut self, user: &str, event: &Event, at: u64, check_order: bool) -> Fed {
        let config = self.config;
        let run = match self.users.get_mut(user) {
            Some(run) => run,
            None => self
                .users
                .entry(user.to_owned())
                .or_insert_with(|| UserRun {
                    state: NudgeState::new(user),
                    first_at: at,
                    last_at: at,
                    first_ask_at: None,
                    onboarding_done: false,
                    last_friction: None,
                }),
        };
        if check_order && at < run.last_at {
            return Fed::OutOfOrder;
        }
        run.last_at = at;
        self.report.events += 1;
        // The independent checks track onboarding and friction themselves.
        if config.eligibility.onboarding_completed_event.as_deref() == Some(event.name.as_str()) {
            run.onboarding_done = true;
        }
        if config.suppression.friction_events.contains(&event.name) {
            run.last_friction = Some(at);
        }
        match evaluate(config, &mut run.state, event, at) {
            Decision::Ask(ask) => {
                self.report.asks += 1;
                *self
                    .report
                    .asks_by_moment
                    .entry(ask.moment.clone())
                    .or_default() += 1;
                *self
                    .report
                    .asks_by_variant
                    .entry(format!("{}/{}", ask.moment, ask.variant))
                    .or_default() += 1;
                if config.eligibility.onboarding_completed_event.is_some() && !run.onboarding_done {
                    self.report.asks_during_onboarding += 1;
                }
                if run.last_friction.is_some_and(|f| {
                    at - f < config.suppression.friction_window.secs()
                        && !ask.why.bypassed.iter().any(|b| b == "recent_friction")
                }) {
                    self.report.asks_within_friction_window += 1;
                }
                if run.first_ask_at.is_none() {
                    run.first_ask_at = Some(at);
                    self.days_to_first_ask.push(at - run.first_at);
                }
            }
            Decision::Quiet { reason } => {
                *self
                    .report
                    .quiet_by_reason
                    .entry(reason.code().to_owned())
                    .or_default() += 1;
            }
        }
        Fed::Ok
    }

    fn finish(mut self, mode: &str) -> Report {
        self.report.mode = mode.to_owned();
        self.report.users = self.users.len() as u64;
        self.report.users_asked = self.days_to_first_ask.len() as u64;
        self.days_to_first_ask.sort_unstable();
        let pick = |q: usize| {
            let n = self.days_to_first_ask.len();
            (n > 0).then(|| {
                let secs = self.days_to_first_ask[((n - 1) * q / 100).min(n - 1)];
                (secs as f64 / 86_400.0 * 10.0).round() / 10.0
            })
        };
        self.report.days_to_first_ask_median = pick(50);
        self.report.days_to_first_ask_p90 = pick(90);
        self.report
    }
}

fn parse_line(text: &str) -> Result<(String, Event, u64), String> {
    let line: Line = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let event = Event {
        name: line.event,
        properties: line.properties,
        locale: None,
    };
    Ok((line.user, event, line.timestamp.0))
}

/// Replays a log read from `open()` (called twice if the log turns out not to
/// be in order per user).
pub fn replay<R: BufRead>(
    config: &NudgeConfig,
    mut open: impl FnMut() -> std::io::Result<R>,
) -> std::io::Result<Report> {
    let mut run = Replay::new(config);
    let mut out_of_order = false;
    let mut buffer = String::new();
    let mut reader = open()?;
    let mut line_no = 0u64;
    loop {
        buffer.clear();
        if reader.read_line(&mut buffer)? == 0 {
            break;
        }
        line_no += 1;
        let text = buffer.trim_end_matches(['\n', '\r']);
        if text.trim().is_empty() {
            continue;
        }
        match parse_line(text) {
            Ok((user, event, at)) => {
                if let Fed::OutOfOrder = run.feed(&user, &event, at, true) {
                    out_of_order = true;
                    break;
                }
            }
            Err(problem) => run.malformed(line_no, problem),
        }
    }
    if !out_of_order {
        run.report.lines = line_no;
        return Ok(run.finish("streamed"));
    }

    // Not in order per user: load compactly, sort by (user, time, line).
    let mut run = Replay::new(config);
    let mut events: Vec<(String, u64, u64, Event)> = Vec::new();
    let mut reader = open()?;
    let mut line_no = 0u64;
    loop {
        buffer.clear();
        if reader.read_line(&mut buffer)? == 0 {
            break;
        }
        line_no += 1;
        let text = buffer.trim_end_matches(['\n', '\r']);
        if text.trim().is_empty() {
            continue;
        }
        match parse_line(text) {
            Ok((user, event, at)) => events.push((user, at, line_no, event)),
            Err(problem) => run.malformed(line_no, problem),
        }
    }
    events.sort_by(|a, b| (&a.0, a.1, a.2).cmp(&(&b.0, b.1, b.2)));
    for (user, at, _, event) in &events {
        run.feed(user, event, *at, false);
    }
    run.report.lines = line_no;
    Ok(run.finish("sorted in memory"))
}

impl Report {
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let mut line = |s: String| {
            out.push_str(&s);
            out.push('\n');
        };
        line(format!(
            "Replayed {} events from {} lines ({}), {} users.",
            self.events, self.lines, self.mode, self.users
        ));
        line(format!("Malformed lines: {}", self.malformed_lines));
        for (n, problem) in &self.malformed_examples {
            line(format!("  line {n}: {problem}"));
        }
        let pct = |n: u64, d: u64| {
            if d == 0 {
                0.0
            } else {
                n as f64 * 100.0 / d as f64
            }
        };
        line(format!(
            "\nAsks: {} to {} users ({:.1}% of users asked at least once)",
            self.asks,
            self.users_asked,
            pct(self.users_asked, self.users)
        ));
        line("  by moment:".to_owned());
        for (moment, n) in &self.asks_by_moment {
            line(format!("    {moment:<32} {n:>9}"));
        }
        line("  by moment/variant:".to_owned());
        for (variant, n) in &self.asks_by_variant {
            line(format!("    {variant:<32} {n:>9}"));
        }
        line("\nQuiet decisions by reason:".to_owned());
        for (reason, n) in &self.quiet_by_reason {
            line(format!("    {reason:<32} {n:>9}"));
        }
        let days = |d: Option<f64>| d.map_or("-".to_owned(), |d| format!("{d:.1}"));
        line(format!(
            "\nDays from first event to first ask: median {}, p90 {}",
            days(self.days_to_first_ask_median),
            days(self.days_to_first_ask_p90)
        ));
        line(format!(
            "Asks during onboarding: {} (must be 0); asks within the friction window: {} (must be 0)",
            self.asks_during_onboarding, self.asks_within_friction_window
        ));
        out
    }
}
