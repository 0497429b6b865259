//! The per-user nudge state the host stores (localStorage, SharedPreferences,
//! a database row). Versioned and bounded.
//!
//! Size bound: the state holds fixed fields, at most one [`Pending`] ask
//! (names cut to [`MAX_NAME_LEN`]), at most [`FRICTION_RING`]
//! friction marks (each an event name of at most [`MAX_NAME_LEN`] bytes), at
//! most `max_asks_per_30_days` (≤ 16) ask times, and one occurrence counter
//! per distinct moment event in the config. So its size depends on the
//! config, never on how many events the user produced; a typical state is
//! 200–400 bytes of JSON (see the `state_stays_bounded` test).

use core::fmt;

use serde::{Deserialize, Serialize};

/// Friction marks kept (most recent last).
pub const FRICTION_RING: usize = 4;
/// Event names and profile strings are cut to this many bytes in state.
pub const MAX_NAME_LEN: usize = 64;
pub const STATE_VERSION: u32 = 2;
/// Most success moments a config may hold, so most event counters a state
/// can need; a stored state with more is refused (it bounds reading one).
pub const MAX_EVENT_COUNTS: usize = 256;

/// What the host knows about the user. Events can fill it in too (see
/// `Eligibility`); values the host sets win until an event changes them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Profile {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signed_up_at: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub onboarding_completed_at: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active_customer: Option<bool>,
    /// `{referrer_name}` in messages.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub display_name: String,
    /// `{link}` in messages, when the host has the user's link at hand.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub share_link: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrictionMark {
    pub event: String,
    pub at: u64,
}

/// A success moment that matched while a passing rule held it back, kept
/// to be asked at a later event (the moment's `defer_within`). At most one
/// per user. Fields are declared in the order merges compare them.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Pending {
    /// When it was held back.
    pub at: u64,
    /// The last time it may still be asked.
    pub until: u64,
    pub moment: String,
    /// The event that matched, and its occurrence.
    pub event: String,
    pub occurrence: u32,
    /// The quiet reason's code that held it back (`onboarding`).
    pub held_by: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NudgeState {
    /// Format version; older versions are migrated by [`NudgeState::from_stored`].
    pub v: u32,
    pub user_id: String,
    #[serde(default)]
    pub profile: Profile,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<u64>,
    /// Occurrences of each moment event seen so far (for "the 3rd report").
    #[serde(default, skip_serializing_if = "EventCounts::is_empty")]
    pub counts: EventCounts,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub friction: Vec<FrictionMark>,
    /// Times of recent asks, oldest first, for the rolling 30-day cap.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub asks: Vec<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_shown: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_dismissed: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opted_out_at: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_shared: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_referred: Option<u64>,
    #[serde(default)]
    pub total_asks: u32,
    #[serde(default)]
    pub total_shares: u32,
    #[serde(default)]
    pub total_referred: u32,
    /// A deferred ask waiting for its rule to clear. Always newer than
    /// every ask in `asks` (an ask clears it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<Pending>,
}

/// Occurrences per event name, kept sorted by name: a short list (one
/// entry per distinct moment event in the config). Serialises as a JSON
/// object with sorted keys, as a sorted map would; a plain sorted `Vec`
/// instead of a `BTreeMap` keeps the browser module smaller.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventCounts(Vec<(String, u32)>);

impl EventCounts {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, event: &str) -> Option<u32> {
        self.slot(event).ok().map(|i| self.0[i].1)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Sets `event`'s count (insert or replace). Insertion keeps the list
    /// sorted (O(n)); readers use [`EventCounts::insert_stored`].
    pub fn insert(&mut self, event: String, count: u32) {
        match self.slot(&event) {
            Ok(i) => self.0[i].1 = count,
            Err(i) => self.0.insert(i, (event, count)),
        }
    }

    /// `insert` for a reader of a stored state: refuses to grow past
    /// [`MAX_EVENT_COUNTS`], which also bounds the cost of reading one.
    pub fn insert_stored(&mut self, event: String, count: u32) -> Result<(), &'static str> {
        self.insert(event, count);
        if self.0.len() > MAX_EVENT_COUNTS {
            return Err("more event counts than a config can have moments");
        }
        Ok(())
    }

    /// `(event, count)` in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, u32)> {
        self.0.iter().map(|(event, count)| (event.as_str(), *count))
    }

    pub(crate) fn get_mut(&mut self, event: &str) -> Option<&mut u32> {
        let i = self.slot(event).ok()?;
        self.0.get_mut(i).map(|(_, count)| count)
    }

    fn slot(&self, event: &str) -> Result<usize, usize> {
        self.0
            .binary_search_by(|(name, _)| name.as_str().cmp(event))
    }
}

impl Serialize for EventCounts {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

impl<'de> Deserialize<'de> for EventCounts {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = EventCounts;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of event counts")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<EventCounts, A::Error> {
                let mut counts = EventCounts::default();
                while let Some((event, count)) = map.next_entry::<String, u32>()? {
                    counts
                        .insert_stored(event, count)
                        .map_err(serde::de::Error::custom)?;
                }
                Ok(counts)
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error("stored nudge state version {0} is newer than this SDK understands")]
    FutureVersion(u32),
    #[error("stored nudge state is not valid: {0}")]
    Invalid(String),
}

impl StateError {
    pub fn reason(&self) -> &'static str {
        match self {
            StateError::FutureVersion(_) => "future_state_version",
            StateError::Invalid(_) => "invalid_state",
        }
    }
}

/// Version 1 stored one `last_friction` instead of a ring, and `asked_at`
/// instead of `last_shown`. Kept to show (and test) the migration path.
#[cfg(feature = "json")]
#[derive(Deserialize)]
struct StateV1 {
    user_id: String,
    #[serde(default)]
    last_friction: Option<FrictionMark>,
    #[serde(default)]
    asked_at: Vec<u64>,
    #[serde(default)]
    dismissed_at: Option<u64>,
    #[serde(default)]
    opted_out: bool,
}

#[cfg(feature = "json")]
#[derive(Deserialize)]
struct VersionOnly {
    #[serde(default = "one")]
    v: u32,
}

#[cfg(feature = "json")]
fn one() -> u32 {
    1
}

pub(crate) fn cut(text: &str) -> String {
    if text.len() <= MAX_NAME_LEN {
        return text.to_owned();
    }
    let mut end = MAX_NAME_LEN;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or_default().to_owned()
}

/// Inserts `x` into the ascending, duplicate-free `v` (by `less`), unless
/// it is there already. Lists here hold at most a few dozen items; a
/// hand-made insertion keeps `sort` (kilobytes of code) out of the browser
/// module.
fn insert_ordered<T: PartialEq>(v: &mut Vec<T>, x: T, less: impl Fn(&T, &T) -> bool) {
    let mut i = v.len();
    while let Some(prev) = i.checked_sub(1).and_then(|p| v.get(p)) {
        if !less(&x, prev) {
            break;
        }
        i -= 1;
    }
    if i.checked_sub(1).and_then(|p| v.get(p)) == Some(&x) {
        return;
    }
    v.insert(i, x);
}

/// Two copies of one person's state (two devices, or a device and the
/// host's backend) combined. The merge is commutative, associative and
/// idempotent, so copies can be merged in any order, any number of times,
/// and end up equal:
///
/// - opting out and being referred are sticky: once either copy has them,
///   the merge has them (`opted_out_at` keeps the earliest opt-out;
///   `last_referred`, `last_shared`, `last_shown`, `last_dismissed` the
///   latest; the totals the larger);
/// - occurrence counts take the larger of the two per event: an event seen
///   on one device is not counted again when the copies meet (concurrent
///   occurrences on two devices between syncs count once: the merge can
///   only undercount, never ask early);
/// - ask times and friction marks are the union of both, the most recent
///   [`crate::nudge::config::MAX_ASKS_CAP`] and [`FRICTION_RING`] kept, so
///   the 30-day cap and the friction window see every device's asks;
/// - `first_seen` and profile dates keep the earliest; "not an active
///   customer" wins over "active" (the cautious side); other profile values
///   keep what either copy knows (when both know different values, the
///   greater, so the result does not depend on the order);
/// - the result stays within a stored state's bounds (at most
///   [`MAX_EVENT_COUNTS`] counters: past it, the names that sort first).
///
/// Copies of different users do not merge.
pub fn merge_states(a: &NudgeState, b: &NudgeState) -> Result<NudgeState, StateError> {
    if a.user_id != b.user_id {
        return Err(StateError::Invalid(
            "the states belong to different users".into(),
        ));
    }
    fn min(a: Option<u64>, b: Option<u64>) -> Option<u64> {
        match (a, b) {
            (Some(x), Some(y)) => Some(x.min(y)),
            (x, y) => x.or(y),
        }
    }
    fn pick<T: Ord + Clone>(a: &Option<T>, b: &Option<T>) -> Option<T> {
        a.clone().max(b.clone())
    }
    // "Not an active customer" wins: the cautious side, never asked early.
    fn cautious(a: Option<bool>, b: Option<bool>) -> Option<bool> {
        match (a, b) {
            (Some(x), Some(y)) => Some(x && y),
            (x, y) => x.or(y),
        }
    }
    fn pick_text(a: &str, b: &str) -> String {
        a.max(b).to_owned()
    }
    let mut counts = a.counts.clone();
    for (event, count) in b.counts.iter() {
        let merged = counts.get(event).unwrap_or(0).max(count);
        counts.insert(event.to_owned(), merged);
    }
    // Bounded as a stored state must be: past the bound, the counters of
    // the names that sort first are kept. Choosing by name, not by value,
    // keeps the merge associative; a dropped counter can only make an
    // "Nth occurrence" moment come later, never earlier.
    counts.0.truncate(MAX_EVENT_COUNTS);
    let mut asks: Vec<u64> = Vec::with_capacity(a.asks.len() + b.asks.len());
    for t in a.asks.iter().chain(&b.asks) {
        insert_ordered(&mut asks, *t, |x, y| x < y);
    }
    let keep = crate::nudge::config::MAX_ASKS_CAP as usize;
    if asks.len() > keep {
        asks.drain(..asks.len() - keep);
    }
    let mut friction: Vec<FrictionMark> = Vec::with_capacity(a.friction.len() + b.friction.len());
    for mark in a.friction.iter().chain(&b.friction) {
        insert_ordered(&mut friction, mark.clone(), |x, y| {
            (x.at, &x.event) < (y.at, &y.event)
        });
    }
    if friction.len() > FRICTION_RING {
        friction.drain(..friction.len() - FRICTION_RING);
    }
    // The newest pending ask, unless an ask (on either copy) came after it:
    // that ask consumed or replaced it. Comparing by time first keeps the
    // merge associative (the newest is the last to be consumed).
    let pending = a
        .pending
        .clone()
        .max(b.pending.clone())
        .filter(|p| asks.iter().all(|&t| t < p.at));
    Ok(NudgeState {
        v: a.v.max(b.v),
        user_id: a.user_id.clone(),
        profile: Profile {
            signed_up_at: min(a.profile.signed_up_at, b.profile.signed_up_at),
            onboarding_completed_at: min(
                a.profile.onboarding_completed_at,
                b.profile.onboarding_completed_at,
            ),
            plan: pick(&a.profile.plan, &b.profile.plan),
            role: pick(&a.profile.role, &b.profile.role),
            active_customer: cautious(a.profile.active_customer, b.profile.active_customer),
            display_name: pick_text(&a.profile.display_name, &b.profile.display_name),
            share_link: pick_text(&a.profile.share_link, &b.profile.share_link),
        },
        first_seen: min(a.first_seen, b.first_seen),
        counts,
        friction,
        last_shown: a.last_shown.max(b.last_shown),
        last_dismissed: a.last_dismissed.max(b.last_dismissed),
        opted_out_at: min(a.opted_out_at, b.opted_out_at),
        last_shared: a.last_shared.max(b.last_shared),
        last_referred: a.last_referred.max(b.last_referred),
        // Never fewer than the asks the merge holds.
        total_asks: a.total_asks.max(b.total_asks).max(asks.len() as u32),
        total_shares: a.total_shares.max(b.total_shares),
        total_referred: a.total_referred.max(b.total_referred),
        asks,
        pending,
    })
}

impl NudgeState {
    pub fn new(user_id: &str) -> NudgeState {
        NudgeState {
            v: STATE_VERSION,
            user_id: cut(user_id),
            profile: Profile::default(),
            first_seen: None,
            counts: EventCounts::default(),
            friction: Vec::new(),
            asks: Vec::new(),
            last_shown: None,
            last_dismissed: None,
            opted_out_at: None,
            last_shared: None,
            last_referred: None,
            total_asks: 0,
            total_shares: 0,
            total_referred: 0,
            pending: None,
        }
    }

    /// Reads a stored state of any known version (JSON), migrating old ones.
    #[cfg(feature = "json")]
    pub fn from_json(text: &str) -> Result<NudgeState, StateError> {
        let version: VersionOnly =
            serde_json::from_str(text).map_err(|e| StateError::Invalid(e.to_string()))?;
        match version.v {
            1 => {
                let old: StateV1 =
                    serde_json::from_str(text).map_err(|e| StateError::Invalid(e.to_string()))?;
                Ok(NudgeState::from_v1(old))
            }
            STATE_VERSION => {
                let mut state: NudgeState =
                    serde_json::from_str(text).map_err(|e| StateError::Invalid(e.to_string()))?;
                state.normalize();
                Ok(state)
            }
            newer => Err(StateError::FutureVersion(newer)),
        }
    }

    #[cfg(feature = "json")]
    pub fn to_json(&self) -> String {
        // Serialising plain data to a String cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    #[cfg(feature = "json")]
    fn from_v1(old: StateV1) -> NudgeState {
        NudgeState::migrate_v1(
            &old.user_id,
            old.last_friction,
            old.asked_at,
            old.dismissed_at,
            old.opted_out,
        )
    }

    /// Migrates a version-1 state from its fields. For readers that do not
    /// go through serde (the WebAssembly build reads JS objects directly).
    pub fn migrate_v1(
        user_id: &str,
        last_friction: Option<FrictionMark>,
        asked_at: Vec<u64>,
        dismissed_at: Option<u64>,
        opted_out: bool,
    ) -> NudgeState {
        let mut state = NudgeState::new(user_id);
        state.friction.extend(last_friction);
        state.last_shown = asked_at.last().copied();
        state.total_asks = asked_at.len() as u32;
        // The newest MAX_ASKS_CAP asks, oldest first, kept by insertion into
        // that short sorted list: O(n · cap) and no general sort linked into
        // the WebAssembly build.
        let cap = crate::nudge::config::MAX_ASKS_CAP as usize;
        for &at in &asked_at {
            let slot = state.asks.partition_point(|&kept| kept <= at);
            if state.asks.len() < cap {
                state.asks.insert(slot, at);
            } else if slot > 0 {
                state.asks.insert(slot, at);
                state.asks.remove(0);
            }
        }
        state.last_dismissed = dismissed_at;
        // v1 had no timestamp for the opt-out: the migration time is unknown,
        // so 0 records "opted out at some point", which is all that matters.
        state.opted_out_at = opted_out.then_some(0);
        state
    }

    /// A stored state as the engine keeps one: the waiting ask newer than
    /// every ask (else it was consumed) and its names cut. Readers call it
    /// on what they load, so merges of loaded copies stay idempotent.
    pub fn normalize(&mut self) {
        let consumed = self
            .pending
            .as_ref()
            .is_some_and(|p| self.asks.iter().any(|&t| t >= p.at));
        if consumed {
            self.pending = None;
        }
        if let Some(p) = &mut self.pending {
            for text in [&mut p.moment, &mut p.event, &mut p.held_by] {
                if text.len() > MAX_NAME_LEN {
                    *text = cut(text);
                }
            }
        }
    }

    /// True after "don't ask again"; permanent.
    pub fn is_opted_out(&self) -> bool {
        self.opted_out_at.is_some()
    }
}

#[cfg(all(test, feature = "json"))]
mod tests {
    use super::*;

    #[test]
    fn migrates_version_one() {
        let v1 = r#"{"v":1,"user_id":"u1","last_friction":{"event":"error","at":100},"asked_at":[50,90],"dismissed_at":95,"opted_out":true}"#;
        let state = NudgeState::from_json(v1).unwrap();
        assert_eq!(state.v, STATE_VERSION);
        assert_eq!(
            state.friction,
            vec![FrictionMark {
                event: "error".into(),
                at: 100
            }]
        );
        assert_eq!(state.asks, vec![50, 90]);
        assert_eq!(state.last_shown, Some(90));
        assert_eq!(state.last_dismissed, Some(95));
        assert!(state.is_opted_out());
        // A state without "v" is version 1 too.
        assert_eq!(
            NudgeState::from_json(r#"{"user_id":"u2"}"#)
                .unwrap()
                .user_id,
            "u2"
        );
        assert_eq!(
            NudgeState::from_json(r#"{"v":99,"user_id":"u"}"#),
            Err(StateError::FutureVersion(99))
        );
        assert_eq!(
            NudgeState::from_json("[").unwrap_err().reason(),
            "invalid_state"
        );
        // Only the newest 16 asks survive, oldest first, whatever the order.
        let many: Vec<u64> = (0..40).map(|i| (i * 37) % 40).collect();
        let migrated = NudgeState::migrate_v1("u", None, many.clone(), None, false);
        let mut expected = many;
        expected.sort_unstable();
        assert_eq!(migrated.asks, expected[24..].to_vec());
        assert_eq!(migrated.total_asks, 40);
        // A stored state with more counters than any config allows is refused.
        let many: String = (0..=MAX_EVENT_COUNTS)
            .map(|i| format!("\"e{i}\":1"))
            .collect::<Vec<_>>()
            .join(",");
        let text = format!("{{\"v\":2,\"user_id\":\"u\",\"counts\":{{{many}}}}}");
        assert_eq!(
            NudgeState::from_json(&text).unwrap_err().reason(),
            "invalid_state"
        );
        let round = NudgeState::from_json(&state.to_json()).unwrap();
        assert_eq!(round, state);
    }
}
