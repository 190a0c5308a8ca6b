//! UTC calendar arithmetic for the report (no time-zone database, no dependency): civil dates
//! from Unix days and back, ISO weeks, and the `--since` values (`7d`, `24h`, `30m`, `2w`, an
//! RFC 3339 date or date-time).

use super::ReportError;

const MINUTE_MS: i64 = 60 * 1000;
const HOUR_MS: i64 = 60 * MINUTE_MS;
/// One day in milliseconds.
pub const DAY_MS: i64 = 24 * HOUR_MS;

/// A day of the proleptic Gregorian calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Civil {
    /// The year.
    pub year: i64,
    /// The month, 1..=12.
    pub month: u32,
    /// The day of the month, 1..=31.
    pub day: u32,
}

/// The UTC day (days since 1970-01-01) of `unix_ms`.
pub fn day_of(unix_ms: i64) -> i64 {
    unix_ms.div_euclid(DAY_MS)
}

/// The date of Unix day `days`. Counts in 400-year eras of 146 097 days, with years that
/// start on 1 March so that the leap day is the era-year's last.
pub fn civil_from_days(days: i64) -> Civil {
    let z = days + 719_468; // days from 0000-03-01 to 1970-01-01
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month = if month_from_march < 10 { month_from_march + 3 } else { month_from_march - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    Civil { year, month, day }
}

/// The Unix day of a date (the inverse of [`civil_from_days`]).
pub fn days_from_civil(c: Civil) -> i64 {
    let year = c.year - i64::from(c.month <= 2);
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month_from_march = i64::from((c.month + 9) % 12);
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(c.day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

fn days_in_month(year: i64, month: u32) -> u32 {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `2026-11-01`: the UTC day of `unix_ms`.
pub fn day_key(unix_ms: i64) -> String {
    let c = civil_from_days(day_of(unix_ms));
    format!("{:04}-{:02}-{:02}", c.year, c.month, c.day)
}

/// `2026-W48`: the ISO 8601 week of `unix_ms` (UTC). Weeks start on Monday; week 1 is the one
/// holding the year's first Thursday, so the first days of January can belong to the previous
/// year's last week and the last days of December to the next year's week 1.
pub fn week_key(unix_ms: i64) -> String {
    let days = day_of(unix_ms);
    let monday_based = (days + 3).rem_euclid(7); // 1970-01-01 was a Thursday
    let thursday = days - monday_based + 3;
    let year = civil_from_days(thursday).year;
    let jan1 = days_from_civil(Civil { year, month: 1, day: 1 });
    format!("{year:04}-W{:02}", (thursday - jan1) / 7 + 1)
}

/// `2026-11-01 14:05 UTC`.
pub fn minute_text(unix_ms: i64) -> String {
    let c = civil_from_days(day_of(unix_ms));
    let in_day = unix_ms.rem_euclid(DAY_MS);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        c.year,
        c.month,
        c.day,
        in_day / HOUR_MS,
        in_day % HOUR_MS / MINUTE_MS
    )
}

/// The start of a report period: `7d`, `24h`, `30m`, `2w` before `now_unix_ms`, or an RFC 3339
/// date (`2026-11-01`, midnight UTC) or date-time (`2026-11-01T09:30:00Z`,
/// `2026-11-01T09:30:00+01:00`, fractions of a second allowed).
pub fn parse_since(text: &str, now_unix_ms: i64) -> Result<i64, ReportError> {
    let bad = || ReportError::Since { given: text.to_owned() };
    let t = text.trim();
    if let Some(unit) = t.chars().last().filter(|c| c.is_ascii_alphabetic())
        && let Ok(n) = t[..t.len() - 1].parse::<u32>()
    {
        let span = match unit {
            'm' => MINUTE_MS,
            'h' => HOUR_MS,
            'd' => DAY_MS,
            'w' => 7 * DAY_MS,
            _ => return Err(bad()),
        };
        return Ok(now_unix_ms - i64::from(n) * span);
    }
    parse_rfc3339(t).ok_or_else(bad)
}

fn digits(s: &str) -> Option<i64> {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok()).flatten()
}

/// `YYYY-MM-DD`, optionally followed by `THH:MM:SS[.fff](Z|±HH:MM)` (`t`, `z` and a space for
/// `T` accepted, as RFC 3339 allows).
fn parse_rfc3339(s: &str) -> Option<i64> {
    let (date, time) = match s.find(['T', 't', ' ']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let mut parts = date.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let civil = Civil { year: digits(y)?, month: digits(m)? as u32, day: digits(d)? as u32 };
    if !(1..=12).contains(&civil.month)
        || civil.day == 0
        || civil.day > days_in_month(civil.year, civil.month)
    {
        return None;
    }
    let midnight = days_from_civil(civil) * DAY_MS;
    let Some(time) = time else { return Some(midnight) };
    let (clock, offset_ms) = if let Some(c) = time.strip_suffix(['Z', 'z']) {
        (c, 0)
    } else {
        let i = time.rfind(['+', '-'])?;
        let (c, off) = time.split_at(i);
        let (sign, hhmm) = off.split_at(1);
        let (oh, om) = hhmm.split_once(':')?;
        let (oh, om) = (digits(oh)?, digits(om)?);
        if oh > 23 || om > 59 {
            return None;
        }
        let off = oh * HOUR_MS + om * MINUTE_MS;
        (c, if sign == "-" { -off } else { off })
    };
    let (hms, fraction) = clock.split_once('.').map_or((clock, None), |(a, b)| (a, Some(b)));
    let mut hms = hms.split(':');
    let (h, mi, se) = (digits(hms.next()?)?, digits(hms.next()?)?, digits(hms.next()?)?);
    if hms.next().is_some() || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let ms = match fraction {
        // Milliseconds: the first three digits, padded (`.25` is 250 ms).
        Some(f) => digits(f).and(digits(&format!("{:0<3}", &f[..f.len().min(3)])))?,
        None => 0,
    };
    Some(midnight + h * HOUR_MS + mi * MINUTE_MS + se * 1000 + ms - offset_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-01T00:00:00Z.
    const NOV_1: i64 = 1_793_491_200_000;

    #[test]
    fn civil_dates_round_trip_across_eras_and_leap_days() {
        for (days, (y, m, d)) in [
            (0, (1970, 1, 1)),
            (-1, (1969, 12, 31)),
            (11_016, (2000, 2, 29)),
            (19_782, (2024, 2, 29)),
            (20_758, (2026, 11, 1)),
            (-719_468, (0, 3, 1)),
        ] {
            let c = Civil { year: y, month: m, day: d };
            assert_eq!(civil_from_days(days), c, "{days}");
            assert_eq!(days_from_civil(c), days, "{c:?}");
        }
        for days in (-800_000..800_000).step_by(997) {
            assert_eq!(days_from_civil(civil_from_days(days)), days);
        }
        assert_eq!(NOV_1, 20_758 * DAY_MS);
    }

    #[test]
    fn iso_weeks_start_on_monday_and_cross_years() {
        let at = |y, m, d| days_from_civil(Civil { year: y, month: m, day: d }) * DAY_MS;
        // 2026-11-22 is a Sunday, 2026-11-23 a Monday.
        assert_eq!(week_key(at(2026, 11, 22) + DAY_MS - 1), "2026-W47");
        assert_eq!(week_key(at(2026, 11, 23)), "2026-W48");
        // 2026-01-01 is a Thursday: week 1 of 2026 starts on Monday 2025-12-29.
        assert_eq!(week_key(at(2025, 12, 28)), "2025-W52");
        assert_eq!(week_key(at(2025, 12, 29)), "2026-W01");
        // 2027-01-01 is a Friday: it belongs to 2026's last week, W53.
        assert_eq!(week_key(at(2027, 1, 1)), "2026-W53");
        assert_eq!(week_key(at(2027, 1, 4)), "2027-W01");
        assert_eq!(week_key(0), "1970-W01");
        assert_eq!(day_key(at(2026, 11, 23) - 1), "2026-11-22");
        assert_eq!(minute_text(NOV_1 + 14 * HOUR_MS + 5 * MINUTE_MS + 59_999), "2026-11-01 14:05 UTC");
    }

    #[test]
    fn since_takes_spans_and_rfc3339() {
        let now = NOV_1 + 12 * HOUR_MS;
        assert_eq!(parse_since("7d", now).unwrap(), now - 7 * DAY_MS);
        assert_eq!(parse_since("24h", now).unwrap(), now - DAY_MS);
        assert_eq!(parse_since("30m", now).unwrap(), now - 30 * MINUTE_MS);
        assert_eq!(parse_since("2w", now).unwrap(), now - 14 * DAY_MS);
        assert_eq!(parse_since("0d", now).unwrap(), now);
        assert_eq!(parse_since("2026-11-01", now).unwrap(), NOV_1);
        assert_eq!(parse_since("2026-11-01T09:30:00Z", now).unwrap(), NOV_1 + 9 * HOUR_MS + 30 * MINUTE_MS);
        assert_eq!(
            parse_since("2026-11-01T09:30:00+01:00", now).unwrap(),
            NOV_1 + 8 * HOUR_MS + 30 * MINUTE_MS
        );
        assert_eq!(parse_since("2026-11-01t00:00:00.25-00:30", now).unwrap(), NOV_1 + 30 * MINUTE_MS + 250);
        assert_eq!(parse_since("2026-11-01 00:00:01.123456Z", now).unwrap(), NOV_1 + 1123);
        for bad in [
            "",
            "7",
            "d",
            "7y",
            "-7d",
            "7 d",
            "2026-13-01",
            "2026-02-29",
            "2026-11-1",
            "26-11-01",
            "2026-11-01T25:00:00Z",
            "2026-11-01T10:00:00",
            "2026-11-01T10:00Z",
            "yesterday",
        ] {
            let e = parse_since(bad, now).unwrap_err().to_string();
            assert!(e.contains("7d") && e.contains("2026-11-01"), "{bad:?}: {e}");
        }
        assert_eq!(
            parse_since("2028-02-29", now).unwrap(),
            days_from_civil(Civil { year: 2028, month: 2, day: 29 }) * DAY_MS
        );
    }
}
