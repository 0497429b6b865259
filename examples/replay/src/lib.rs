//! Replay: run every user of a product analytics log through the nudge
//! engine and report what it would have done.
//!
//! Input is JSON Lines, one event per line, in replay's own format
//! (`{"user": "u1", "event": "report_generated", "properties": {"rows": 10}, "timestamp": 1780000000}`,
//! `timestamp` in Unix seconds or RFC 3339) or as Segment `track` events,
//! Amplitude export lines or Mixpanel export lines, detected per line (see
//! [`formats`]). Lines with a message id seen before for the same user are
//! duplicates and skipped (a ring of [`RECENT_IDS`] hashed ids per user).
//!
//! After each ask, the response model (see [`responses`]) says what the
//! user did, and core's `record` is told; referral outcomes in the log are
//! recorded too and, when there are any, the report measures lift against
//! the experiment's holdout with core's `lift`.
//!
//! Memory: a log whose events are in time order per user (the usual export
//! order, globally sorted or grouped by user) is streamed, keeping only each
//! user's nudge state. If an event is older than an earlier event of the same
//! user, the log is not in order: replay starts over, loads the events
//! (compactly) into memory and sorts them by user and time, and says so in
//! the report.

pub mod formats;
pub mod generate;
pub mod responses;
pub mod timestamp;

use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;

use referral_core::lift::{lift, LiftOptions, LiftReport, LiftTallies, UserOutcome};
use referral_core::nudge::{
    evaluate, fnv1a64, in_holdout, record, Decision, Event, NudgeConfig, NudgeState, Outcome,
};
use serde::Serialize;

use formats::{Format, Line};
use responses::{Logged, Rates};

/// How many recent message ids replay keeps per user to catch duplicates.
pub const RECENT_IDS: usize = 16;

/// One user's progress through the log.
struct UserRun {
    state: NudgeState,
    first_at: u64,
    last_at: u64,
    first_ask_at: Option<u64>,
    onboarding_done: bool,
    last_friction: Option<u64>,
    /// Hashes of the user's most recent message ids (a ring of
    /// [`RECENT_IDS`], allocated at the first id).
    recent_ids: Vec<u64>,
    ids_seen: u32,
    asks: u32,
    shared: bool,
    referred_signups: u32,
    referred_paid: u32,
}

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Report {
    pub lines: u64,
    pub events: u64,
    pub users: u64,
    /// `streamed` or `sorted in memory` (the log was not in order per user).
    pub mode: String,
    /// Event lines by format (`native`, `segment`, `amplitude`, `mixpanel`).
    pub formats: BTreeMap<String, u64>,
    /// Valid lines that are not events (Segment `identify`, `page`, …).
    pub skipped_lines: BTreeMap<String, u64>,
    /// Lines whose message id the same user had already sent.
    pub duplicates: u64,
    pub malformed_lines: u64,
    /// The first malformed lines: (line number, problem).
    pub malformed_examples: Vec<(u64, String)>,
    /// `from the log`, `simulated: …` or `none`.
    pub response_model: String,
    pub asks: u64,
    /// Asks of a moment that had been held back (`Why.deferred`).
    pub deferred_asks: u64,
    /// Deferred asks by the rule that held them back.
    pub deferred_by_rule: BTreeMap<String, u64>,
    pub asks_by_moment: BTreeMap<String, u64>,
    pub asks_by_variant: BTreeMap<String, u64>,
    pub quiet_by_reason: BTreeMap<String, u64>,
    pub users_asked: u64,
    /// Answers to asks in the log (`nudge_dismissed`, `nudge_opted_out`,
    /// `nudge_shared`), applied or not.
    pub answers_in_log: u64,
    /// Answers recorded (from the log or simulated).
    pub dismissals: u64,
    pub opt_outs: u64,
    pub shares: u64,
    /// `referral_link_shared` events (shares outside an ask).
    pub other_shares: u64,
    pub referred_signups: u64,
    pub referred_paid: u64,
    /// Days from a user's first event to their first ask.
    pub days_to_first_ask_median: Option<f64>,
    pub days_to_first_ask_p90: Option<f64>,
    /// Independent checks of the engine's promises: both must be zero.
    pub asks_during_onboarding: u64,
    pub asks_within_friction_window: u64,
    /// Treatment against holdout, when the log has referral outcomes.
    pub lift: Option<LiftReport>,
}

/// The response model asked for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Responses {
    /// Record nothing: every ask goes unanswered and outcome events are
    /// only counted (replay's behaviour before response models).
    Off,
    /// Answers from the log when it has any; else from `rates`, if given.
    Auto { rates: Option<Rates> },
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReplayOptions {
    /// `None`: detected per line.
    pub format: Option<Format>,
    pub responses: Responses,
    /// For lift's verdict: the smallest relative lift worth detecting.
    pub min_relative_lift: f64,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        ReplayOptions {
            format: None,
            responses: Responses::Auto { rates: None },
            min_relative_lift: LiftOptions::default().min_relative_lift,
        }
    }
}

/// The model one pass applies.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Model {
    Off,
    Log,
    Rates(Rates),
}

impl Model {
    fn describe(&self) -> String {
        match self {
            Model::Off => "none (asks unanswered, outcome events not recorded)".to_owned(),
            Model::Log => "from the log's outcome events".to_owned(),
            Model::Rates(r) => format!(
                "simulated: dismiss {}, opt-out {}, share {} (seed {})",
                r.dismiss, r.opt_out, r.share, r.seed
            ),
        }
    }
}

const MALFORMED_EXAMPLES: usize = 20;

struct Replay<'a> {
    config: &'a NudgeConfig,
    model: Model,
    users: HashMap<String, UserRun>,
    report: Report,
    days_to_first_ask: Vec<u64>,
    /// Events by format (as `Format::ALL`).
    by_format: [u64; 4],
}

/// What happened on one line when streaming.
enum Fed {
    Ok,
    OutOfOrder,
    /// The log has answers but the pass simulates them: start over.
    AnswersFound,
}

impl<'a> Replay<'a> {
    fn new(config: &'a NudgeConfig, model: Model) -> Replay<'a> {
        Replay {
            config,
            model,
            users: HashMap::new(),
            report: Report::default(),
            days_to_first_ask: Vec::new(),
            by_format: [0; 4],
        }
    }

    fn malformed(&mut self, line_no: u64, problem: String) {
        self.report.malformed_lines += 1;
        if self.report.malformed_examples.len() < MALFORMED_EXAMPLES {
            self.report.malformed_examples.push((line_no, problem));
        }
    }

    fn line(&mut self, line_no: u64, parsed: Result<Line, String>) -> Option<formats::Parsed> {
        match parsed {
            Ok(Line::Event(parsed)) => Some(parsed),
            Ok(Line::Skipped(why)) => {
                *self.report.skipped_lines.entry(why).or_default() += 1;
                None
            }
            Err(problem) => {
                self.malformed(line_no, problem);
                None
            }
        }
    }

    /// Feeds one event. Duplicates: a line whose message id is among the
    /// user's [`RECENT_IDS`] most recent ids (kept as 64-bit hashes: 128
    /// bytes a user, only for logs with ids) is skipped. At-least-once
    /// delivery repeats a message soon after the first or, retried later,
    /// with the same timestamp, which puts it next to the first once the
    /// user's events are in time order.
    fn feed(
        &mut self,
        user: &str,
        event: &Event,
        at: u64,
        id: Option<&str>,
        format: Format,
        check_order: bool,
    ) -> Fed {
        let config = self.config;
        let logged = responses::logged(&event.name);
        if matches!(self.model, Model::Rates(_)) && matches!(logged, Some(Logged::Answer(_))) {
            return Fed::AnswersFound;
        }
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
                    recent_ids: Vec::new(),
                    ids_seen: 0,
                    asks: 0,
                    shared: false,
                    referred_signups: 0,
                    referred_paid: 0,
                }),
        };
        if let Some(id) = id {
            let hash = fnv1a64(&[id]);
            if run.recent_ids.contains(&hash) {
                self.report.duplicates += 1;
                return Fed::Ok;
            }
            if check_order && at < run.last_at {
                return Fed::OutOfOrder;
            }
            if run.recent_ids.len() < RECENT_IDS {
                run.recent_ids.push(hash);
            } else {
                run.recent_ids[run.ids_seen as usize % RECENT_IDS] = hash;
            }
            run.ids_seen = run.ids_seen.wrapping_add(1);
        } else if check_order && at < run.last_at {
            return Fed::OutOfOrder;
        }
        run.last_at = at;
        self.report.events += 1;
        self.by_format[format as usize] += 1;
        // The independent checks track onboarding and friction themselves.
        if config.eligibility.onboarding_completed_event.as_deref() == Some(event.name.as_str()) {
            run.onboarding_done = true;
        }
        if config.suppression.friction_events.contains(&event.name) {
            run.last_friction = Some(at);
        }
        // Outcomes are recorded before the event is evaluated: a deferred
        // ask this event would release must see the answer.
        if let Some(logged) = logged {
            match logged {
                Logged::Answer(outcome) => {
                    self.report.answers_in_log += 1;
                    if self.model == Model::Log {
                        count_answer(&mut self.report, run, outcome);
                    }
                }
                Logged::Shared => {
                    self.report.other_shares += 1;
                    run.shared = true;
                }
                Logged::ReferredSignup => {
                    self.report.referred_signups += 1;
                    run.referred_signups = run.referred_signups.saturating_add(1);
                }
                Logged::ReferredPaid => {
                    self.report.referred_paid += 1;
                    run.referred_paid = run.referred_paid.saturating_add(1);
                }
            }
            if self.model != Model::Off {
                responses::apply_logged(&mut run.state, logged, at, self.model == Model::Log);
            }
        }
        match evaluate(config, &mut run.state, event, at) {
            Decision::Ask(ask) => {
                self.report.asks += 1;
                if let Some(deferral) = &ask.why.deferred {
                    self.report.deferred_asks += 1;
                    *self
                        .report
                        .deferred_by_rule
                        .entry(deferral.held_by.clone())
                        .or_default() += 1;
                }
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
                if self.model != Model::Off {
                    record(&mut run.state, Outcome::Shown, at);
                }
                if let Model::Rates(rates) = self.model {
                    if let Some(outcome) = rates.answer(user, run.asks) {
                        record(&mut run.state, outcome, at);
                        count_answer(&mut self.report, run, outcome);
                    }
                }
                run.asks = run.asks.saturating_add(1);
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

    fn finish(mut self, mode: &str, options: &ReplayOptions) -> Report {
        self.report.mode = mode.to_owned();
        self.report.response_model = if self.model == Model::Log && self.report.answers_in_log == 0
        {
            "none: the log has no answers (give rates: --dismiss, --opt-out, --share)".to_owned()
        } else {
            self.model.describe()
        };
        self.report.users = self.users.len() as u64;
        for (format, n) in Format::ALL.into_iter().zip(self.by_format) {
            if n > 0 {
                self.report.formats.insert(format.as_str().to_owned(), n);
            }
        }
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
        if self.report.referred_signups + self.report.referred_paid > 0 {
            let mut tallies = LiftTallies::default();
            for (user, run) in &self.users {
                tallies.add(&UserOutcome {
                    holdout: in_holdout(self.config, user),
                    asked: run.first_ask_at.is_some(),
                    shared: run.shared,
                    referred_signups: run.referred_signups,
                    referred_paid: run.referred_paid,
                });
            }
            let lift_options = LiftOptions {
                holdout_basis_points: self
                    .config
                    .experiment
                    .as_ref()
                    .map_or(0, |e| e.holdout_basis_points),
                min_relative_lift: options.min_relative_lift,
            };
            self.report.lift = Some(lift(&tallies, &lift_options));
        }
        self.report
    }
}

fn count_answer(report: &mut Report, run: &mut UserRun, outcome: Outcome) {
    match outcome {
        Outcome::Dismissed => report.dismissals += 1,
        Outcome::OptedOut => report.opt_outs += 1,
        Outcome::Shared => {
            report.shares += 1;
            run.shared = true;
        }
        Outcome::Shown | Outcome::Referred => {}
    }
}

/// How a pass ended.
enum Pass {
    Done(Box<Report>),
    OutOfOrder,
    AnswersFound,
}

fn read_lines<R: BufRead>(
    mut reader: R,
    mut each: impl FnMut(u64, &str) -> bool,
) -> std::io::Result<u64> {
    let mut buffer = String::new();
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
        if !each(line_no, text) {
            break;
        }
    }
    Ok(line_no)
}

/// Replays a log read from `open()` with the default options: format
/// detected per line, answers from the log if it has any.
pub fn replay<R: BufRead>(
    config: &NudgeConfig,
    open: impl FnMut() -> std::io::Result<R>,
) -> std::io::Result<Report> {
    replay_with(config, &ReplayOptions::default(), open)
}

/// Replays a log read from `open()`, which is called again when a pass has
/// to start over: the log is not in order per user (then sorted in memory)
/// or has answers while rates were given (then answered from the log).
pub fn replay_with<R: BufRead>(
    config: &NudgeConfig,
    options: &ReplayOptions,
    mut open: impl FnMut() -> std::io::Result<R>,
) -> std::io::Result<Report> {
    let mut model = match options.responses {
        Responses::Off => Model::Off,
        Responses::Auto { rates: None } => Model::Log,
        Responses::Auto { rates: Some(rates) } => Model::Rates(rates),
    };
    let mut sorted = false;
    loop {
        let pass = if sorted {
            sorted_pass(config, options, model, open()?)?
        } else {
            streamed_pass(config, options, model, open()?)?
        };
        match pass {
            Pass::Done(report) => return Ok(*report),
            Pass::OutOfOrder => sorted = true,
            Pass::AnswersFound => model = Model::Log,
        }
    }
}

fn streamed_pass<R: BufRead>(
    config: &NudgeConfig,
    options: &ReplayOptions,
    model: Model,
    reader: R,
) -> std::io::Result<Pass> {
    let mut run = Replay::new(config, model);
    let mut stop = None;
    let lines = read_lines(reader, |line_no, text| {
        let Some(p) = run.line(line_no, formats::parse_line(text, options.format)) else {
            return true;
        };
        match run.feed(&p.user, &p.event, p.at, p.id.as_deref(), p.format, true) {
            Fed::Ok => true,
            Fed::OutOfOrder => {
                stop = Some(Pass::OutOfOrder);
                false
            }
            Fed::AnswersFound => {
                stop = Some(Pass::AnswersFound);
                false
            }
        }
    })?;
    if let Some(stop) = stop {
        return Ok(stop);
    }
    run.report.lines = lines;
    Ok(Pass::Done(Box::new(run.finish("streamed", options))))
}

/// Not in order per user: load compactly, sort by (user, time, line).
fn sorted_pass<R: BufRead>(
    config: &NudgeConfig,
    options: &ReplayOptions,
    model: Model,
    reader: R,
) -> std::io::Result<Pass> {
    let mut run = Replay::new(config, model);
    let mut events: Vec<(u64, formats::Parsed)> = Vec::new();
    let lines = read_lines(reader, |line_no, text| {
        if let Some(p) = run.line(line_no, formats::parse_line(text, options.format)) {
            events.push((line_no, p));
        }
        true
    })?;
    if matches!(model, Model::Rates(_))
        && events
            .iter()
            .any(|(_, p)| matches!(responses::logged(&p.event.name), Some(Logged::Answer(_))))
    {
        run.model = Model::Log;
    }
    events.sort_by(|(la, a), (lb, b)| (&a.user, a.at, la).cmp(&(&b.user, b.at, lb)));
    for (_, p) in &events {
        run.feed(&p.user, &p.event, p.at, p.id.as_deref(), p.format, false);
    }
    run.report.lines = lines;
    Ok(Pass::Done(Box::new(
        run.finish("sorted in memory", options),
    )))
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
        let counts = |map: &BTreeMap<String, u64>| {
            map.iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        line(format!(
            "Formats: {}; duplicates skipped: {}{}",
            counts(&self.formats),
            self.duplicates,
            if self.skipped_lines.is_empty() {
                String::new()
            } else {
                format!("; not events: {}", counts(&self.skipped_lines))
            }
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
        line(format!("\nResponse model: {}", self.response_model));
        line(format!(
            "  answers recorded: {} dismissals, {} opt-outs, {} shares ({} answers in the log); \
             other shares {}; referred signups {}, paid {}",
            self.dismissals,
            self.opt_outs,
            self.shares,
            self.answers_in_log,
            self.other_shares,
            self.referred_signups,
            self.referred_paid
        ));
        line(format!(
            "\nAsks: {} to {} users ({:.1}% of users asked at least once)",
            self.asks,
            self.users_asked,
            pct(self.users_asked, self.users)
        ));
        line(format!(
            "  deferred (asked after being held back): {}{}",
            self.deferred_asks,
            if self.deferred_by_rule.is_empty() {
                String::new()
            } else {
                format!(" (held by {})", counts(&self.deferred_by_rule))
            }
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
        if let Some(lift) = &self.lift {
            lift_text(lift, &mut line);
        }
        out
    }
}

fn lift_text(lift: &LiftReport, line: &mut impl FnMut(String)) {
    let rate = |i: &Option<referral_core::lift::Interval>, scale: f64, digits: usize| {
        i.map_or("-".to_owned(), |i| {
            format!(
                "{:.d$} ({:.d$} to {:.d$})",
                i.estimate * scale,
                i.low * scale,
                i.high * scale,
                d = digits
            )
        })
    };
    line("\nLift against the holdout (95 % intervals):".to_owned());
    line(format!(
        "    {:<10} {:>7} {:>7} {:>7} {:>10}  {:<24} {:<24} {}",
        "group",
        "users",
        "asked",
        "shared",
        "referrers",
        "referred someone, %",
        "signups per 100 users",
        "paid per 100 users"
    ));
    for (name, group) in [("treatment", &lift.treatment), ("holdout", &lift.holdout)] {
        line(format!(
            "    {:<10} {:>7} {:>7} {:>7} {:>10}  {:<24} {:<24} {}",
            name,
            group.tally.users,
            group.tally.asked,
            group.tally.shared,
            group.tally.referrers,
            rate(&group.referrer_rate, 100.0, 1),
            rate(&group.signups_per_user, 100.0, 1),
            rate(&group.paid_per_user, 100.0, 1),
        ));
    }
    let comparison = |name: &str, c: &Option<referral_core::lift::Comparison>, unit: &str| {
        c.map(|c| {
            let relative = c.relative.map_or(String::new(), |r| {
                format!(
                    "; relative {} ({:+.0} % to {:+.0} %)",
                    r.estimate
                        .map_or("-".to_owned(), |e| format!("{:+.0} %", e * 100.0)),
                    r.low * 100.0,
                    r.high * 100.0
                )
            });
            format!(
                "  {name}: {:+.1}{unit} ({:+.1} to {:+.1}){relative}",
                c.absolute.estimate * 100.0,
                c.absolute.low * 100.0,
                c.absolute.high * 100.0
            )
        })
    };
    for text in [
        comparison("referred someone", &lift.referrer_rate, " points"),
        comparison("signups per 100 users", &lift.signups_per_user, ""),
        comparison("paid per 100 users", &lift.paid_per_user, ""),
    ]
    .into_iter()
    .flatten()
    {
        line(text);
    }
    line(format!(
        "  verdict: {}: {}",
        lift.verdict.code(),
        lift.summary
    ));
}
