//! The report as one self-contained HTML page: inline CSS, inline SVG charts ([`super::svg`]),
//! the tables; no script, no font, no request to anywhere. Every string from the ledger is
//! escaped (task names and tags come from clients).

use std::fmt::Write;

use super::Report;
use super::format::{DASH, escalations, latency, money, opt_pct, pct, tokens};
use super::group::Group;
use super::svg::{self, esc};

/// The page's CSS (shared with `hearth eval --html`).
pub const STYLE: &str = r#"
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #f5f7fa; color: #1f2933; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 28px 24px 48px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 32px 0 10px; }
.meta { color: #5f6b7a; margin: 0 0 20px; word-break: break-all; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(118px, 1fr)); gap: 12px; }
.card { background: #fff; border: 1px solid #e3e7ec; border-radius: 8px; padding: 12px 14px; }
.card b { display: block; font-size: 22px; white-space: nowrap; }
.card span { color: #5f6b7a; font-size: 12px; white-space: nowrap; text-transform: uppercase; letter-spacing: .04em; }
.card.saved b { color: #1e6b47; }
figure { background: #fff; border: 1px solid #e3e7ec; border-radius: 8px; margin: 0 0 16px; padding: 14px 16px 8px; overflow-x: auto; }
figure svg { display: block; width: 100%; height: auto; }
figcaption { font-weight: 600; margin-bottom: 6px; }
figcaption small { font-weight: 400; color: #5f6b7a; }
.table { overflow-x: auto; background: #fff; border: 1px solid #e3e7ec; border-radius: 8px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; font-variant-numeric: tabular-nums; }
th, td { padding: 7px 8px; text-align: right; white-space: nowrap; border-bottom: 1px solid #eef1f4; }
th { background: #f0f3f6; font-size: 12px; text-transform: uppercase; letter-spacing: .03em; color: #52606d; }
th:first-child, td:first-child, th:last-child, td:last-child { text-align: left; }
td:first-child { max-width: 280px; overflow: hidden; text-overflow: ellipsis; }
td:last-child { font-size: 12px; }
tr.total td { font-weight: 600; border-top: 2px solid #d5dbe1; background: #fafbfc; }
.neg { color: #b42318; }
footer { color: #7b8794; margin-top: 28px; font-size: 12px; }
"#;

const COLUMNS: [&str; 15] = [
    "",
    "calls",
    "local",
    "in tok",
    "out tok",
    "cost",
    "baseline",
    "saved",
    "saved %",
    "p50",
    "p95",
    "cache",
    "errors",
    "judge",
    "escalations",
];

/// The whole page.
pub fn render(r: &Report) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>hearth report · {} → {}</title><style>{STYLE}</style></head><body><main>\n",
        esc(&r.since),
        esc(&r.until)
    );
    let _ = write!(out, "<h1>hearth report</h1><p class=\"meta\">{} → {}", esc(&r.since), esc(&r.until));
    if let Some(ledger) = &r.ledger {
        let _ = write!(out, " · ledger <code>{}</code>", esc(ledger));
    }
    out.push_str("</p>\n");
    cards(&mut out, &r.total);

    let _ = writeln!(
        out,
        "<h2>Charts</h2><figure><figcaption>Cost vs baseline per week <small>(baseline: what the \
         baseline model would have charged for the calls that have one)</small></figcaption>{}</figure>",
        svg::cost_vs_baseline(&r.weeks)
    );
    let _ = writeln!(
        out,
        "<figure><figcaption>Route mix per task type <small>(share of calls; green: local)</small>\
         {}</figcaption>{}</figure>",
        more(r.route_mix.len(), "task types"),
        svg::route_mix(&r.route_mix)
    );
    let _ = writeln!(
        out,
        "<figure><figcaption>Latency by {} <small>(p50 and p95, nearest rank)</small>{}</figcaption>{}</figure>",
        r.by.as_str(),
        more(r.groups.len(), "groups"),
        svg::latency_chart(&r.groups)
    );

    let _ = write!(out, "<h2>By {}</h2>", r.by.as_str());
    table(&mut out, r.by.as_str(), &r.groups, Some(&r.total));
    if r.by.as_str() != "week" {
        out.push_str("<h2>By week</h2>");
        table(&mut out, "week", &r.weeks, None);
    }
    let _ = write!(
        out,
        "<footer>Saved = baseline − cost over the calls that have a baseline ({} of {} calls). \
         Judge agreement: the share of judged calls the quality monitor agreed with. Written by <code>hearth report</code>.</footer>\n\
         </main></body></html>\n",
        r.total.baselined_calls, r.total.calls
    );
    out
}

/// ` (the first 20 of 57 groups)` when a chart leaves some out.
fn more(n: usize, what: &str) -> String {
    if n > svg::MAX_BARS {
        format!(" <small>(the first {} of {n} {what})</small>", svg::MAX_BARS)
    } else {
        String::new()
    }
}

fn cards(out: &mut String, t: &Group) {
    let (saved, saved_name) = match t.saved_fraction {
        Some(f) => (money(t.saved_usd), format!("saved {}", pct(f))),
        None => (DASH.to_owned(), "saved".to_owned()),
    };
    let baseline = if t.baselined_calls == 0 { DASH.to_owned() } else { money(t.baseline_cost_usd) };
    out.push_str("<div class=\"cards\">");
    for (class, value, name) in [
        ("", t.calls.to_string(), "calls".to_owned()),
        ("", pct(t.local_fraction), "local".to_owned()),
        ("", money(t.cost_usd), "cost".to_owned()),
        ("", baseline, "baseline".to_owned()),
        ("saved", saved, saved_name),
        ("", latency(t.latency_p95_ms), "p95 latency".to_owned()),
        ("", t.escalated.to_string(), "escalated".to_owned()),
        ("", t.errors.to_string(), "errors".to_owned()),
    ] {
        let _ = write!(
            out,
            "<div class=\"card {class}\"><b>{}</b><span>{}</span></div>",
            esc(&value),
            esc(&name)
        );
    }
    out.push_str("</div>\n");
}

fn table(out: &mut String, key: &str, groups: &[Group], total: Option<&Group>) {
    out.push_str("<div class=\"table\"><table><thead><tr>");
    for (i, c) in COLUMNS.iter().enumerate() {
        let _ = write!(out, "<th>{}</th>", if i == 0 { esc(key) } else { esc(c) });
    }
    out.push_str("</tr></thead><tbody>\n");
    for g in groups {
        row(out, g, "");
    }
    if let Some(t) = total {
        row(out, &Group { key: "total".to_owned(), ..t.clone() }, " class=\"total\"");
    }
    out.push_str("</tbody></table></div>\n");
}

fn row(out: &mut String, g: &Group, class: &str) {
    let baseline = |s: String| if g.baselined_calls == 0 { DASH.to_owned() } else { s };
    let neg = if g.saved_usd < 0.0 { " class=\"neg\"" } else { "" };
    let _ = write!(out, "<tr{class}><td title=\"{k}\">{k}</td>", k = esc(&g.key));
    let cells = [
        (g.calls.to_string(), ""),
        (pct(g.local_fraction), ""),
        (tokens(g.input_tokens), ""),
        (tokens(g.output_tokens), ""),
        (money(g.cost_usd), ""),
        (baseline(money(g.baseline_cost_usd)), ""),
        (baseline(money(g.saved_usd)), neg),
        (opt_pct(g.saved_fraction), neg),
        (latency(g.latency_p50_ms), ""),
        (latency(g.latency_p95_ms), ""),
        (pct(g.cache_hit_rate), ""),
        (g.errors.to_string(), ""),
        (opt_pct(g.judge_agreement), ""),
    ];
    for (text, class) in cells {
        let _ = write!(out, "<td{class}>{}</td>", esc(&text));
    }
    // One reason a line: `low_confidence 3` under `invalid_output 2`.
    let reasons: Vec<String> = escalations(&g.escalations).split(", ").map(esc).collect();
    let _ = writeln!(out, "<td>{}</td></tr>", reasons.join("<br>"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::{Call, Status};
    use crate::report::GroupBy;

    const T: i64 = 1_795_392_000_000; // 2026-11-23T00:00:00Z

    fn hostile() -> Vec<Call> {
        let base = Call {
            time_unix_ms: T,
            task: Some("<img src=x onerror=alert(1)>".into()),
            route: "qwen\"><script>alert(2)</script>".into(),
            reason: "task".into(),
            local: true,
            latency_ms: 200,
            cost_usd: 0.0001,
            baseline_cost_usd: Some(0.002),
            tags: [("feature".into(), "<script>alert('tag')</script>".into())].into(),
            ..Call::default()
        };
        vec![
            base.clone(),
            Call { time_unix_ms: T - 7 * 86_400_000, latency_ms: 900, ..base.clone() },
            Call { route: "claude".into(), local: false, cost_usd: 0.002, status: Status::Error, ..base },
        ]
    }

    #[test]
    fn text_from_the_ledger_is_escaped_everywhere() {
        for by in GroupBy::ALL {
            let html = Report::build(&hostile(), by, T - 14 * 86_400_000, T)
                .with_ledger("/tmp/<b>ledger</b>.sqlite")
                .to_html();
            assert!(!html.contains("<script"), "by {by:?}: a <script> got through");
            assert!(!html.contains("<img") && !html.contains("<b>ledger"), "by {by:?}");
            if by == GroupBy::Tag {
                assert!(html.contains("feature=&lt;script&gt;alert(&#39;tag&#39;)&lt;/script&gt;"), "{html}");
            }
        }
    }

    #[test]
    fn the_page_is_self_contained_with_three_charts_and_the_tables() {
        let calls: Vec<Call> = hostile()
            .into_iter()
            .map(|c| Call {
                task: Some("extract".into()),
                route: c.route.replace('<', "("),
                tags: [].into(),
                ..c
            })
            .collect();
        let html = Report::build(&calls, GroupBy::Route, T - 14 * 86_400_000, T).to_html();
        assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
        assert_eq!(html.matches("<svg").count(), 3, "cost, route mix, latency");
        assert_eq!(html.matches("</svg>").count(), 3);
        // Nothing is fetched: the only URL is the SVG namespace, no script, no stylesheet link.
        let urls: Vec<&str> = html.match_indices("http").map(|(i, _)| &html[i..i + 26]).collect();
        assert!(urls.iter().all(|u| *u == "http://www.w3.org/2000/svg"), "{urls:?}");
        for banned in ["<script", "<link", "@import", "url(", " src=", "@font-face"] {
            assert!(!html.contains(banned), "{banned}");
        }
        assert!(html.contains("Cost vs baseline per week") && html.contains("Route mix per task type"));
        assert!(html.contains("<tr class=\"total\">"));
        assert!(html.contains("2026-W47") && html.contains("2026-W48"), "the week table");
        assert_eq!(html.matches("<table>").count(), 2, "by route, by week");
        let empty = Report::build(&[], GroupBy::Week, 0, T).to_html();
        assert_eq!(empty.matches("no calls in this period").count(), 3);
        assert_eq!(empty.matches("<table>").count(), 1);
    }
}
