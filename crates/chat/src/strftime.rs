//! `strftime_now(format)`: the template global HF and llama.cpp provide so templates can print
//! today's date (Llama 3.x: `strftime_now("%d %b %Y")` → `26 Jul 2024`).
//!
//! Time is UTC (hearth has no time-zone database); HF uses the host's local time, which is
//! UTC on most servers. Callers that need a fixed date pass the template's own variable
//! (`date_string` for Llama 3.x) through `RenderOptions::extra`.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: [&str; 7] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

/// A UTC calendar time, broken down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DateTime {
    year: i64,
    /// 1..=12
    month: u32,
    /// 1..=31
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    /// 0 = Sunday
    weekday: u32,
    /// 1..=366
    yday: u32,
}

impl DateTime {
    /// The broken-down UTC time `secs` seconds after 1970-01-01T00:00:00Z.
    pub(crate) fn from_unix(secs: i64) -> DateTime {
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400) as u32;
        let (year, month, day) = civil_from_days(days);
        let jan1 = days_from_civil(year, 1, 1);
        DateTime {
            year,
            month,
            day,
            hour: rem / 3600,
            minute: rem % 3600 / 60,
            second: rem % 60,
            weekday: (days + 4).rem_euclid(7) as u32,
            yday: (days - jan1 + 1) as u32,
        }
    }

    /// `t` in UTC.
    pub(crate) fn from_system_time(t: SystemTime) -> DateTime {
        let secs = match t.duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            // Before the epoch: round down to the whole second.
            Err(e) => {
                let d = e.duration();
                let whole = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
                if d.subsec_nanos() > 0 { -whole - 1 } else { -whole }
            }
        };
        DateTime::from_unix(secs)
    }

    /// Now, in UTC.
    pub(crate) fn now() -> DateTime {
        DateTime::from_system_time(SystemTime::now())
    }

    /// C/Python `strftime` for the common directives; unknown ones are copied through as
    /// glibc does.
    pub(crate) fn format(&self, fmt: &str) -> String {
        let mut out = String::new();
        let mut chars = fmt.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            let Some(d) = chars.next() else {
                out.push('%');
                break;
            };
            let month = MONTHS[(self.month - 1) as usize];
            let weekday = WEEKDAYS[self.weekday as usize];
            let hour12 = if self.hour.is_multiple_of(12) { 12 } else { self.hour % 12 };
            let _ = match d {
                'Y' => write!(out, "{}", self.year),
                'y' => write!(out, "{:02}", self.year.rem_euclid(100)),
                'C' => write!(out, "{:02}", self.year.div_euclid(100)),
                'm' => write!(out, "{:02}", self.month),
                'd' => write!(out, "{:02}", self.day),
                'e' => write!(out, "{:2}", self.day),
                'j' => write!(out, "{:03}", self.yday),
                'H' => write!(out, "{:02}", self.hour),
                'I' => write!(out, "{hour12:02}"),
                'M' => write!(out, "{:02}", self.minute),
                'S' => write!(out, "{:02}", self.second),
                'p' => write!(out, "{}", if self.hour < 12 { "AM" } else { "PM" }),
                'B' => write!(out, "{month}"),
                'b' | 'h' => write!(out, "{}", &month[..3]),
                'A' => write!(out, "{weekday}"),
                'a' => write!(out, "{}", &weekday[..3]),
                'w' => write!(out, "{}", self.weekday),
                'u' => write!(out, "{}", if self.weekday == 0 { 7 } else { self.weekday }),
                'F' => write!(out, "{}-{:02}-{:02}", self.year, self.month, self.day),
                'D' => write!(out, "{:02}/{:02}/{:02}", self.month, self.day, self.year.rem_euclid(100)),
                'T' => write!(out, "{:02}:{:02}:{:02}", self.hour, self.minute, self.second),
                'R' => write!(out, "{:02}:{:02}", self.hour, self.minute),
                'Z' => write!(out, "UTC"),
                'z' => write!(out, "+0000"),
                'n' => writeln!(out),
                't' => write!(out, "\t"),
                '%' => write!(out, "%"),
                other => write!(out, "%{other}"),
            };
        }
        out
    }
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// (year, month, day) → days since 1970-01-01; the inverse of [`civil_from_days`].
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        // 2024-07-26T13:05:09Z, a Friday, day 208 of a leap year (`date -u -d @1721999109`
        // prints the same fields).
        let t = DateTime::from_unix(1_721_999_109);
        assert_eq!(t.format("%d %b %Y"), "26 Jul 2024");
        assert_eq!(t.format("%A %B %e, %y %H:%M:%S %p %j %%"), "Friday July 26, 24 13:05:09 PM 208 %");
        assert_eq!(DateTime::from_unix(0).format("%F %T %a"), "1970-01-01 00:00:00 Thu");
        // The day before the epoch, and a leap day.
        assert_eq!(DateTime::from_unix(-1).format("%F %T"), "1969-12-31 23:59:59");
        assert_eq!(DateTime::from_unix(951_782_400).format("%F %j"), "2000-02-29 060");
    }

    #[test]
    fn days_round_trip() {
        for days in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
