//! A realistic synthetic analytics log: signups, onboarding steps, page
//! views, reports, integrations (some failing), errors, seats, NPS answers,
//! payment failures and cancellations. Deterministic for a seed.

use std::io::Write;

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

pub struct Options {
    /// Stop after this many events (the last user may be cut short).
    pub events: u64,
    pub seed: u64,
    /// Write timestamps as RFC 3339 text instead of Unix seconds.
    pub iso_timestamps: bool,
    /// Insert a malformed line every N lines (0: never).
    pub malformed_every: u64,
}

fn iso(secs: u64) -> String {
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

/// Writes the log; returns the number of lines written.
pub fn generate(out: &mut impl Write, options: &Options) -> std::io::Result<u64> {
    let mut rng = Rng(options.seed);
    let mut written = 0u64;
    let mut events = 0u64;
    let mut user = 0u64;
    let mut line = String::with_capacity(160);
    while events < options.events {
        user += 1;
        let mut t = START + rng.below(30 * DAY);
        let mut emit =
            |name: &str, at: u64, props: &str, out: &mut dyn Write| -> std::io::Result<bool> {
                if events >= options.events {
                    return Ok(false);
                }
                line.clear();
                let ts = if options.iso_timestamps {
                    format!("\"{}\"", iso(at))
                } else {
                    at.to_string()
                };
                line.push_str("{\"user\":\"u");
                line.push_str(&user.to_string());
                line.push_str("\",\"event\":\"");
                line.push_str(name);
                line.push_str("\",\"properties\":{");
                line.push_str(props);
                line.push_str("},\"timestamp\":");
                line.push_str(&ts);
                line.push_str("}\n");
                out.write_all(line.as_bytes())?;
                written += 1;
                events += 1;
                if options.malformed_every > 0 && written.is_multiple_of(options.malformed_every) {
                    out.write_all(b"{\"user\":\"broken\",\"event\":\n")?;
                    written += 1;
                }
                Ok(true)
            };
        let plan = ["free", "pro", "team"][rng.below(3) as usize];
        let role = ["admin", "member"][rng.below(2) as usize];
        if !emit(
            "signup",
            t,
            &format!("\"plan\":\"{plan}\",\"role\":\"{role}\""),
            out,
        )? {
            break;
        }
        for step in 1..=3 {
            t += 300 + rng.below(3600);
            emit("onboarding_step", t, &format!("\"step\":{step}"), out)?;
        }
        if rng.chance(850) {
            t += 600 + rng.below(DAY);
            emit("onboarding_completed", t, "", out)?;
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
                emit("page_view", at, "\"path\":\"/dashboard\"", out)?;
            }
            if rng.chance(450) {
                at += 60 + rng.below(600);
                emit(
                    "report_generated",
                    at,
                    &format!("\"rows\":{}", rng.below(5000)),
                    out,
                )?;
            }
            if rng.chance(60) {
                at += 10 + rng.below(300);
                emit("error", at, "\"code\":500", out)?;
            }
            if !integrated && rng.chance(250) {
                at += 60 + rng.below(600);
                if rng.chance(200) {
                    emit("integration_failed", at, "\"provider\":\"salesforce\"", out)?;
                } else {
                    integrated = true;
                    emit(
                        "integration_connected",
                        at,
                        "\"provider\":\"salesforce\"",
                        out,
                    )?;
                }
            }
            if rng.chance(40) {
                at += 60 + rng.below(600);
                emit("seat_added", at, "\"seats\":2", out)?;
            }
            if rng.chance(10) {
                at += 60;
                emit("payment_failed", at, "", out)?;
            }
            if day >= nps_day {
                nps_day = u64::MAX;
                at += 60 + rng.below(600);
                // Skewed towards promoters, as B2B NPS answers tend to be.
                let score = [10, 10, 9, 9, 9, 8, 8, 7, 6, 5, 3, 0][rng.below(12) as usize];
                emit("nps_submitted", at, &format!("\"score\":{score}"), out)?;
            }
            if rng.chance(4) {
                at += 60;
                cancelled = true;
                emit("cancel_started", at, "\"reason\":\"budget\"", out)?;
            }
        }
    }
    Ok(written)
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
