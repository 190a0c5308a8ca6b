//! Remote spend against the `[budget]` caps, as plain state: [`Spend::record`] adds a call's
//! cost at a time, [`Spend::check`] compares the current UTC day's and calendar month's totals
//! with the caps. Periods roll over by the timestamps passed in; nothing here reads a clock.
//!
//! A cap is reached when the period's spend is **at or above** it (a cap of 0 allows no remote
//! call). The check happens before a call, so one call may overshoot a cap by its own cost.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::config::Budget;

/// A UTC calendar date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Date {
    /// Year.
    pub year: i64,
    /// Month, 1 to 12.
    pub month: u32,
    /// Day of the month, 1 to 31.
    pub day: u32,
}

impl Date {
    /// The UTC date of `at` (times before 1970 count as 1970-01-01).
    pub fn of(at: SystemTime) -> Date {
        let secs = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        Date::from_days((secs / 86_400) as i64)
    }

    /// The date `days` days after 1970-01-01 (Howard Hinnant's `civil_from_days`).
    pub fn from_days(days: i64) -> Date {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        Date { year, month, day }
    }

    /// (year, month): the calendar month this date is in.
    pub fn month_key(self) -> (i64, u32) {
        (self.year, self.month)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// Which cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    /// `budget.daily_usd`, per UTC day.
    Day,
    /// `budget.monthly_usd`, per UTC calendar month.
    Month,
}

impl Period {
    /// The config key of the cap.
    pub fn key(self) -> &'static str {
        match self {
            Period::Day => "budget.daily_usd",
            Period::Month => "budget.monthly_usd",
        }
    }
}

/// A reached cap.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Exceeded {
    /// Which cap.
    pub period: Period,
    /// The cap in USD.
    pub cap_usd: f64,
    /// Spent in the period so far, in USD.
    pub spent_usd: f64,
}

impl fmt::Display for Exceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (what, reset) = match self.period {
            Period::Day => ("daily", "00:00 UTC"),
            Period::Month => ("monthly", "the 1st of next month (UTC)"),
        };
        write!(
            f,
            "the {what} remote spend cap of ${} ({}) is reached (${} spent); remote calls resume at {reset}, or raise the cap",
            Usd(self.cap_usd),
            self.period.key(),
            Usd(self.spent_usd)
        )
    }
}

/// A dollar amount as people write it: cents from a cent up (`5.00`), else two significant
/// digits (`0.00002`, not `0.00`).
struct Usd(f64);

impl fmt::Display for Usd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0;
        if v == 0.0 || v.abs() >= 0.01 || !v.is_finite() {
            return write!(f, "{v:.2}");
        }
        let decimals = (-v.abs().log10().floor()) as usize + 1;
        let text = format!("{v:.decimals$}");
        f.write_str(text.trim_end_matches('0'))
    }
}

/// The answer of [`Spend::check`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum BudgetStatus {
    /// Under every cap.
    Ok,
    /// A cap is reached (the daily one first when both are).
    Exceeded(Exceeded),
}

/// Remote spend in the current UTC day and month.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Spend {
    day: Option<Date>,
    day_usd: f64,
    month: Option<(i64, u32)>,
    month_usd: f64,
}

impl Spend {
    /// No spend yet.
    pub fn new() -> Self {
        Spend::default()
    }

    /// Spend as known at `now`: `today_usd` on the UTC day of `now` and `month_usd` in its
    /// month (which includes today's). For restoring totals from a ledger after a restart.
    pub fn restore(now: SystemTime, today_usd: f64, month_usd: f64) -> Self {
        let date = Date::of(now);
        let clean = |v: f64| if v.is_finite() && v > 0.0 { v } else { 0.0 };
        Spend {
            day: Some(date),
            day_usd: clean(today_usd),
            month: Some(date.month_key()),
            month_usd: clean(month_usd).max(clean(today_usd)),
        }
    }

    /// Adds `cost_usd` spent at `at`. A cost in a later day or month starts that period; a
    /// cost dated before the current period (a late report) counts only toward periods it
    /// falls in. Negative or non-finite costs are ignored.
    pub fn record(&mut self, cost_usd: f64, at: SystemTime) {
        if !(cost_usd.is_finite() && cost_usd > 0.0) {
            return;
        }
        let date = Date::of(at);
        match self.day {
            Some(d) if d == date => self.day_usd += cost_usd,
            Some(d) if d > date => {}
            _ => (self.day, self.day_usd) = (Some(date), cost_usd),
        }
        match self.month {
            Some(m) if m == date.month_key() => self.month_usd += cost_usd,
            Some(m) if m > date.month_key() => {}
            _ => (self.month, self.month_usd) = (Some(date.month_key()), cost_usd),
        }
    }

    /// USD spent on the UTC day of `now`.
    pub fn spent_today(&self, now: SystemTime) -> f64 {
        if self.day == Some(Date::of(now)) { self.day_usd } else { 0.0 }
    }

    /// USD spent in the UTC calendar month of `now`.
    pub fn spent_this_month(&self, now: SystemTime) -> f64 {
        if self.month == Some(Date::of(now).month_key()) { self.month_usd } else { 0.0 }
    }

    /// Whether a remote call may be made at `now` under `caps`.
    pub fn check(&self, caps: &Budget, now: SystemTime) -> BudgetStatus {
        let periods = [
            (Period::Day, caps.daily_usd, self.spent_today(now)),
            (Period::Month, caps.monthly_usd, self.spent_this_month(now)),
        ];
        for (period, cap, spent) in periods {
            if let Some(cap) = cap
                && spent >= cap
            {
                return BudgetStatus::Exceeded(Exceeded { period, cap_usd: cap, spent_usd: spent });
            }
        }
        BudgetStatus::Ok
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    fn amounts_below_a_cent_are_not_shown_as_zero() {
        let show = |v: f64| Usd(v).to_string();
        assert_eq!(show(5.0), "5.00");
        assert_eq!(show(0.01), "0.01");
        assert_eq!(show(0.0), "0.00");
        assert_eq!(show(0.00002), "0.00002");
        assert_eq!(show(0.000029), "0.000029");
        assert_eq!(show(0.0049), "0.0049");
    }

    use super::*;

    /// 2025-01-31 23:59:00 UTC.
    const JAN_31_2359: u64 = 1_738_367_940;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn caps(daily: Option<f64>, monthly: Option<f64>) -> Budget {
        Budget { daily_usd: daily, monthly_usd: monthly, compare_to: None, local_usd_per_hour: None }
    }

    #[test]
    fn dates_are_utc_civil_dates() {
        assert_eq!(Date::of(at(0)).to_string(), "1970-01-01");
        assert_eq!(Date::of(at(JAN_31_2359)).to_string(), "2025-01-31");
        assert_eq!(Date::of(at(JAN_31_2359 + 60)).to_string(), "2025-02-01");
        assert_eq!(Date::from_days(19_782).to_string(), "2024-02-29");
        assert_eq!(Date::from_days(-1).to_string(), "1969-12-31");
        assert_eq!(Date::of(UNIX_EPOCH - Duration::from_secs(5)).to_string(), "1970-01-01");
    }

    #[test]
    fn the_cap_is_reached_at_equality() {
        let mut s = Spend::new();
        let now = at(JAN_31_2359);
        let c = caps(Some(1.0), None);
        s.record(0.5, now);
        assert_eq!(s.check(&c, now), BudgetStatus::Ok);
        s.record(0.5, now);
        let BudgetStatus::Exceeded(e) = s.check(&c, now) else { panic!("at the cap") };
        assert_eq!((e.period, e.cap_usd, e.spent_usd), (Period::Day, 1.0, 1.0));
        assert!(e.to_string().contains("budget.daily_usd") && e.to_string().contains("$1.00"), "{e}");
        assert_eq!(
            Spend::new().check(&caps(Some(0.0), None), now),
            BudgetStatus::Exceeded(Exceeded { period: Period::Day, cap_usd: 0.0, spent_usd: 0.0 })
        );
        assert_eq!(Spend::new().check(&caps(None, None), now), BudgetStatus::Ok);
    }

    #[test]
    fn the_day_rolls_over_at_midnight_utc_and_the_month_on_the_first() {
        let mut s = Spend::new();
        let c = caps(Some(1.0), Some(1.5));
        s.record(1.0, at(JAN_31_2359 - 3600));
        assert!(matches!(
            s.check(&c, at(JAN_31_2359)),
            BudgetStatus::Exceeded(Exceeded { period: Period::Day, .. })
        ));
        // One minute later it is February: both periods are new.
        let feb = at(JAN_31_2359 + 60);
        assert_eq!((s.spent_today(feb), s.spent_this_month(feb)), (0.0, 0.0));
        assert_eq!(s.check(&c, feb), BudgetStatus::Ok);
        s.record(0.9, feb);
        let feb2 = at(JAN_31_2359 + 60 + 86_400);
        s.record(0.6, feb2);
        // Feb 2: the day has 0.6, the month 1.5 = the monthly cap.
        assert_eq!(s.spent_today(feb2), 0.6);
        let BudgetStatus::Exceeded(e) = s.check(&c, feb2) else { panic!("monthly cap") };
        assert_eq!(e.period, Period::Month);
        assert!((e.spent_usd - 1.5).abs() < 1e-12);
    }

    #[test]
    fn restored_totals_count_and_roll_over() {
        let now = at(JAN_31_2359);
        let s = Spend::restore(now, 0.5, 3.0);
        assert_eq!((s.spent_today(now), s.spent_this_month(now)), (0.5, 3.0));
        let feb = at(JAN_31_2359 + 60);
        assert_eq!((s.spent_today(feb), s.spent_this_month(feb)), (0.0, 0.0));
        let s = Spend::restore(now, 2.0, f64::NAN);
        assert_eq!(s.spent_this_month(now), 2.0, "the month includes today");
        assert!(matches!(
            s.check(&caps(None, Some(2.0)), now),
            BudgetStatus::Exceeded(Exceeded { period: Period::Month, .. })
        ));
    }

    #[test]
    fn late_reports_and_bad_costs_do_not_corrupt_the_current_period() {
        let mut s = Spend::new();
        let feb = at(JAN_31_2359 + 60);
        s.record(0.25, feb);
        s.record(10.0, at(JAN_31_2359)); // a January call reported late
        assert_eq!((s.spent_today(feb), s.spent_this_month(feb)), (0.25, 0.25));
        s.record(f64::NAN, feb);
        s.record(-3.0, feb);
        s.record(f64::INFINITY, feb);
        assert_eq!(s.spent_today(feb), 0.25);
    }
}
