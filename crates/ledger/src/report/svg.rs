//! The HTML report's charts as inline SVG: cost vs baseline per week, route mix per task,
//! latency per group. Every label from the ledger goes through [`esc`]; sizes are fixed so the
//! page needs no script.

use std::fmt::Write;

use super::format::{clean, latency, money};
use super::group::{Group, RouteMix};

/// What was paid.
pub const COST: &str = "#2f7d5b";
/// What the baseline model would have charged.
pub const BASELINE: &str = "#c3c8cf";
/// Local routes, in order of first appearance.
const LOCAL: [&str; 4] = ["#2e7d32", "#81c784", "#1b5e20", "#a5d6a7"];
/// Remote routes.
const REMOTE: [&str; 6] = ["#1565c0", "#ef6c00", "#6a1b9a", "#00838f", "#c62828", "#8d6e63"];
const AXIS: &str = "#5f6b7a";
const GRID: &str = "#e3e7ec";
/// The charts' width in SVG units (the page scales them to its column).
const WIDTH: u32 = 1040;
/// Most bars a chart draws (the rest are named in its caption).
pub const MAX_BARS: usize = 20;

/// `s` escaped for HTML text and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A ledger label for a chart: cut to `max` characters, control characters escaped, then
/// HTML-escaped.
fn label(s: &str, max: usize) -> String {
    esc(&clean(s, max))
}

/// Axis ticks from 0 to at least `max`: a step of 1, 2 or 5 × 10^k giving at most 5 steps.
pub fn ticks(max: f64) -> Vec<f64> {
    if !(max.is_finite() && max > 0.0) {
        return vec![0.0, 1.0];
    }
    let raw = max / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * magnitude).find(|s| *s >= raw).unwrap_or(raw);
    let n = (max / step - 1e-9).ceil().max(1.0) as usize;
    (0..=n).map(|i| i as f64 * step).collect()
}

fn open(out: &mut String, width: u32, height: u32, title: &str) {
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{t}" font-family="system-ui, sans-serif" font-size="12"><title>{t}</title>"#,
        t = esc(title)
    );
}

/// Writes a legend from (`x`, `y`), wrapping before `max_x`; returns the last row's `y`.
fn legend(out: &mut String, x: f64, y: f64, max_x: f64, items: &[(String, &str)]) -> f64 {
    let (mut at, mut y) = (x, y);
    for (name, colour) in items {
        let w = 16.0 + 7.0 * name.chars().count() as f64 + 18.0;
        if at > x && at + w > max_x {
            at = x;
            y += 20.0;
        }
        let _ = write!(
            out,
            r#"<rect x="{at:.1}" y="{:.1}" width="12" height="12" rx="2" fill="{colour}"/><text x="{:.1}" y="{:.1}" fill="{AXIS}">{name}</text>"#,
            y - 10.0,
            at + 16.0,
            y
        );
        at += w;
    }
    y
}

fn empty(out: &mut String, width: u32, height: u32, what: &str) {
    let _ = write!(
        out,
        r#"<text x="{}" y="{}" text-anchor="middle" fill="{AXIS}">{}</text></svg>"#,
        width / 2,
        height / 2,
        esc(what)
    );
}

/// Cost and baseline per ISO week: two bars per week, a dollar axis, a legend.
pub fn cost_vs_baseline(weeks: &[Group]) -> String {
    let (width, height) = (WIDTH, 320u32);
    let (left, right, top, bottom) = (78.0, 16.0, 36.0, 48.0);
    let mut out = String::new();
    open(&mut out, width, height, "Cost vs baseline per week");
    let items = [("cost".to_owned(), COST), ("baseline (same calls)".to_owned(), BASELINE)];
    legend(&mut out, left, 20.0, f64::from(width), &items);
    if weeks.is_empty() {
        empty(&mut out, width, height, "no calls in this period");
        return out;
    }
    let weeks = &weeks[weeks.len().saturating_sub(MAX_BARS * 2)..];
    let max = weeks.iter().map(|w| w.cost_usd.max(w.baseline_cost_usd)).fold(0.0, f64::max);
    let ticks = ticks(max);
    let top_value = *ticks.last().unwrap_or(&1.0);
    let plot_h = f64::from(height) - top - bottom;
    let plot_w = f64::from(width) - left - right;
    let y = |v: f64| top + plot_h * (1.0 - v / top_value);
    for t in &ticks {
        let _ = write!(
            out,
            r#"<line x1="{left}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="{GRID}"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="{AXIS}">{}</text>"#,
            left + plot_w,
            y(*t),
            y(*t),
            left - 6.0,
            y(*t) + 4.0,
            esc(&money(*t))
        );
    }
    let slot = plot_w / weeks.len() as f64;
    let bar = (slot * 0.36).min(36.0);
    let every = weeks.len().div_ceil(12); // at most 12 week labels
    for (i, w) in weeks.iter().enumerate() {
        let mid = left + slot * (i as f64 + 0.5);
        for (x, v, colour, what) in
            [(mid - bar, w.cost_usd, COST, "cost"), (mid, w.baseline_cost_usd, BASELINE, "baseline")]
        {
            let _ = write!(
                out,
                r#"<rect x="{x:.1}" y="{:.1}" width="{bar:.1}" height="{:.1}" fill="{colour}"><title>{} {what}: {}</title></rect>"#,
                y(v),
                (top + plot_h - y(v)).max(0.0),
                label(&w.key, 12),
                esc(&money(v))
            );
        }
        if i % every == 0 {
            let _ = write!(
                out,
                r#"<text x="{mid:.1}" y="{:.1}" text-anchor="middle" fill="{AXIS}">{}</text>"#,
                top + plot_h + 18.0,
                label(&w.key, 12)
            );
        }
    }
    let _ = write!(
        out,
        r#"<line x1="{left}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="{AXIS}"/><text x="{:.1}" y="{}" text-anchor="middle" fill="{AXIS}">ISO week (UTC)</text><text x="14" y="{:.1}" transform="rotate(-90 14 {:.1})" text-anchor="middle" fill="{AXIS}">USD</text></svg>"#,
        left + plot_w,
        top + plot_h,
        top + plot_h,
        left + plot_w / 2.0,
        height - 8,
        top + plot_h / 2.0,
        top + plot_h / 2.0
    );
    out
}

/// The colour of each route: local ones green, remote ones from the remote palette, in the
/// order the mix lists them.
pub fn route_colours(mix: &[RouteMix]) -> Vec<(String, bool, &'static str)> {
    let mut routes: Vec<(String, bool)> = Vec::new();
    for share in mix.iter().flat_map(|m| &m.routes) {
        if !routes.iter().any(|(r, l)| *r == share.route && *l == share.local) {
            routes.push((share.route.clone(), share.local));
        }
    }
    routes.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let (mut l, mut r) = (0, 0);
    routes
        .into_iter()
        .map(|(route, local)| {
            let colour = if local {
                l += 1;
                LOCAL[(l - 1) % LOCAL.len()]
            } else {
                r += 1;
                REMOTE[(r - 1) % REMOTE.len()]
            };
            (route, local, colour)
        })
        .collect()
}

/// Per task, its calls by route as one 100% horizontal bar; local routes green, remote ones
/// in other colours.
pub fn route_mix(mix: &[RouteMix]) -> String {
    let colours = route_colours(mix);
    let shown = &mix[..mix.len().min(MAX_BARS)];
    let (left, right, row) = (150.0, 70.0, 30.0);
    let width = WIDTH;
    let items: Vec<(String, &str)> = colours
        .iter()
        .map(|(route, local, c)| {
            (format!("{} ({})", label(route, 24), if *local { "local" } else { "remote" }), *c)
        })
        .collect();
    let mut legend_svg = String::new();
    let top = legend(&mut legend_svg, 8.0, 20.0, f64::from(width), &items) + 24.0;
    let height = (top + row * shown.len().max(1) as f64 + 6.0) as u32;
    let mut out = String::new();
    open(&mut out, width, height, "Route mix per task type");
    out.push_str(&legend_svg);
    if shown.is_empty() {
        empty(&mut out, width, height, "no calls in this period");
        return out;
    }
    let plot_w = f64::from(width) - left - right;
    for (i, m) in shown.iter().enumerate() {
        let y = top + row * i as f64;
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end" fill="{AXIS}">{}</text>"#,
            left - 8.0,
            y + 15.0,
            label(&m.task, 20)
        );
        let mut x = left;
        for share in &m.routes {
            let colour = colours
                .iter()
                .find(|(r, l, _)| *r == share.route && *l == share.local)
                .map_or(AXIS, |(_, _, c)| c);
            let w = plot_w * share.calls as f64 / m.calls.max(1) as f64;
            let pct = 100.0 * share.calls as f64 / m.calls.max(1) as f64;
            let _ = write!(
                out,
                r#"<rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="20" fill="{colour}"><title>{}: {} via {} ({pct:.0}%)</title></rect>"#,
                label(&m.task, 40),
                share.calls,
                label(&share.route, 40)
            );
            if w >= 34.0 {
                let _ = write!(
                    out,
                    r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#fff">{pct:.0}%</text>"##,
                    x + w / 2.0,
                    y + 14.5
                );
            }
            x += w;
        }
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="{:.1}" fill="{AXIS}">{} calls</text>"#,
            left + plot_w + 8.0,
            y + 15.0,
            m.calls
        );
    }
    out.push_str("</svg>");
    out
}

/// p50 and p95 latency per group: a light p95 bar with the p50 bar over it, a time axis.
pub fn latency_chart(groups: &[Group]) -> String {
    let shown: Vec<&Group> = groups.iter().filter(|g| g.latency_p95_ms.is_some()).take(MAX_BARS).collect();
    let (left, right, top, row) = (150.0, 70.0, 44.0, 26.0);
    let width = WIDTH;
    let height = (top + row * shown.len().max(1) as f64 + 40.0) as u32;
    let mut out = String::new();
    open(&mut out, width, height, "Latency per group (p50 and p95)");
    legend(
        &mut out,
        left,
        20.0,
        f64::from(width),
        &[("p50".to_owned(), COST), ("p95".to_owned(), "#9fd3b8")],
    );
    if shown.is_empty() {
        empty(&mut out, width, height, "no calls in this period");
        return out;
    }
    let max = shown.iter().filter_map(|g| g.latency_p95_ms).max().unwrap_or(1) as f64;
    let ticks = ticks(max);
    let top_value = *ticks.last().unwrap_or(&1.0);
    let plot_w = f64::from(width) - left - right;
    let plot_h = row * shown.len() as f64;
    let x = |ms: f64| left + plot_w * ms / top_value;
    for t in &ticks {
        let _ = write!(
            out,
            r#"<line x1="{:.1}" x2="{:.1}" y1="{top}" y2="{:.1}" stroke="{GRID}"/><text x="{:.1}" y="{:.1}" text-anchor="middle" fill="{AXIS}">{}</text>"#,
            x(*t),
            x(*t),
            top + plot_h,
            x(*t),
            top + plot_h + 16.0,
            latency(Some(*t as u64))
        );
    }
    for (i, g) in shown.iter().enumerate() {
        let y = top + row * i as f64 + 3.0;
        let (p50, p95) = (g.latency_p50_ms.unwrap_or(0) as f64, g.latency_p95_ms.unwrap_or(0) as f64);
        let _ = write!(
            out,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="end" fill="{AXIS}">{}</text><rect x="{left}" y="{y:.1}" width="{:.1}" height="18" fill="#9fd3b8"><title>p95 {}</title></rect><rect x="{left}" y="{:.1}" width="{:.1}" height="10" fill="{COST}"><title>p50 {}</title></rect><text x="{:.1}" y="{:.1}" fill="{AXIS}">{} / {}</text>"##,
            left - 8.0,
            y + 13.0,
            label(&g.key, 20),
            x(p95) - left,
            latency(g.latency_p95_ms),
            y + 4.0,
            x(p50) - left,
            latency(g.latency_p50_ms),
            x(p95) + 6.0,
            y + 13.0,
            latency(g.latency_p50_ms),
            latency(g.latency_p95_ms)
        );
    }
    let _ = write!(
        out,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="{AXIS}">latency (p50 dark, p95 light)</text></svg>"#,
        left + plot_w / 2.0,
        top + plot_h + 34.0
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_step_by_one_two_or_five() {
        let small = ticks(0.0037);
        let want = [0.0, 0.001, 0.002, 0.003, 0.004];
        assert!(small.len() == want.len() && small.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-15));
        assert_eq!(ticks(1400.0), [0.0, 500.0, 1000.0, 1500.0]);
        assert_eq!(ticks(10.0), [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(ticks(0.0), [0.0, 1.0]);
    }

    #[test]
    fn escaping_covers_markup_and_quotes() {
        assert_eq!(
            esc(r#"<script>alert("x&'y")</script>"#),
            "&lt;script&gt;alert(&quot;x&amp;&#39;y&quot;)&lt;/script&gt;"
        );
    }
}
