//! How numbers read, in the text table and the HTML page alike.

/// Shown where there is nothing to measure (no latency, no judge rows, no baseline).
pub const DASH: &str = "—";

/// Dollars: `$0`, cents and up with two decimals (`$12.34`, `$1,234.50`), smaller amounts
/// with two significant digits (`$0.000094`, `$0.0012`); negative amounts `-$0.0012`.
pub fn money(usd: f64) -> String {
    if !usd.is_finite() {
        return format!("${usd}");
    }
    let sign = if usd < 0.0 { "-" } else { "" };
    let a = usd.abs();
    if a == 0.0 {
        return "$0".to_owned();
    }
    if a >= 0.01 {
        let cents = format!("{a:.2}");
        let (whole, frac) = cents.split_once('.').unwrap_or((&cents, "00"));
        return format!("{sign}${}.{frac}", thousands(whole));
    }
    let decimals = (1 - a.log10().floor() as i32).max(2) as usize;
    let mut s = format!("{a:.decimals$}");
    // Rounding can carry into a new digit (0.0000995 → 0.00010): keep two significant ones.
    if s.trim_start_matches(['0', '.']).len() > 2 {
        s = format!("{a:.0$}", decimals - 1);
    }
    format!("{sign}${s}")
}

fn thousands(digits: &str) -> String {
    let mut out = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// A fraction as a percentage with one decimal (`0.625` → `62.5%`).
pub fn pct(fraction: f64) -> String {
    format!("{:.1}%", fraction * 100.0)
}

/// [`pct`], or [`DASH`].
pub fn opt_pct(fraction: Option<f64>) -> String {
    fraction.map_or_else(|| DASH.to_owned(), pct)
}

/// Milliseconds: `840ms`, `1.4s`, `75.2s`; [`DASH`] for none.
pub fn latency(ms: Option<u64>) -> String {
    match ms {
        None => DASH.to_owned(),
        Some(ms) if ms < 1000 => format!("{ms}ms"),
        Some(ms) => format!("{:.1}s", ms as f64 / 1000.0),
    }
}

/// Token counts: `950`, `12.3k`, `4.5M`.
pub fn tokens(n: u64) -> String {
    match n {
        0..1000 => n.to_string(),
        1000..1_000_000 => format!("{:.1}k", n as f64 / 1e3),
        _ => format!("{:.1}M", n as f64 / 1e6),
    }
}

/// `s` made safe for a terminal line: control characters (an escape sequence hidden in a tag)
/// written as escapes, and cut to `max` characters with `…`.
pub fn clean(s: &str, max: usize) -> String {
    let long = s.chars().count() > max;
    let mut out = String::new();
    for c in s.chars().take(if long { max.saturating_sub(1) } else { max }) {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    if long {
        out.push('…');
    }
    out
}

/// Escalations by reason: `low_confidence 2, invalid_output 1`, or [`DASH`].
pub fn escalations(by_reason: &std::collections::BTreeMap<String, u64>) -> String {
    if by_reason.is_empty() {
        return DASH.to_owned();
    }
    let mut v: Vec<(&String, &u64)> = by_reason.iter().collect();
    v.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    v.iter().map(|(r, n)| format!("{r} {n}")).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_keeps_two_significant_digits_below_a_cent() {
        for (usd, want) in [
            (0.0, "$0"),
            (0.000_094, "$0.000094"),
            (0.000_094_49, "$0.000094"),
            (0.001_25, "$0.0013"),
            (0.009_99, "$0.010"),
            (0.0099, "$0.0099"),
            (0.000_099_7, "$0.00010"),
            (0.01, "$0.01"),
            (0.126, "$0.13"),
            (12.345, "$12.35"),
            (1_234_567.8, "$1,234,567.80"),
            (-0.0012, "-$0.0012"),
            (-3.5, "-$3.50"),
            (1e-9, "$0.0000000010"),
        ] {
            assert_eq!(money(usd), want, "{usd}");
        }
    }

    #[test]
    fn other_numbers_read_short() {
        assert_eq!(pct(0.625), "62.5%");
        assert_eq!(opt_pct(None), DASH);
        assert_eq!(latency(Some(840)), "840ms");
        assert_eq!(latency(Some(1449)), "1.4s");
        assert_eq!(latency(None), DASH);
        assert_eq!(tokens(999), "999");
        assert_eq!(tokens(12_345), "12.3k");
        assert_eq!(tokens(4_500_000), "4.5M");
        let by = [("invalid_output".to_owned(), 1), ("low_confidence".to_owned(), 2)].into();
        assert_eq!(escalations(&by), "low_confidence 2, invalid_output 1");
        assert_eq!(clean("feature=\u{1b}[31mred\n", 40), "feature=\\u{1b}[31mred\\n");
        assert_eq!(clean("abcdef", 4), "abc…");
        assert_eq!(clean("abcd", 4), "abcd");
    }
}
