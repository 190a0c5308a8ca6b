//! `hearth eval --html`: one self-contained page (the `hearth report` page's style, inline SVG,
//! no script): summary cards, the per-task table, and per task type its curves — accuracy of
//! the kept-local answers and of the routed mix against coverage, with the target and the
//! chosen point, and the mix's cost per 1,000 calls against the all-remote baseline.

use std::fmt::Write;

use hearth_ledger::report::{STYLE, esc, money, ticks};

use crate::report::{EvalReport, TaskReport};
use crate::sweep::Point;

const KEPT: &str = "#2e7d32";
const ROUTED: &str = "#1565c0";
const TARGET: &str = "#c62828";
const COST: &str = "#2f7d5b";
const BASELINE: &str = "#8d96a0";
const AXIS: &str = "#5f6b7a";
const GRID: &str = "#e3e7ec";

fn pct(f: f64) -> String {
    format!("{:.1}%", f * 100.0)
}

fn opt_pct(f: Option<f64>) -> String {
    f.map_or_else(|| "—".to_owned(), pct)
}

/// The whole page.
pub fn render(r: &EvalReport) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>hearth eval — {}</title><style>{STYLE}</style></head><body><main>",
        esc(&r.suite)
    );
    let _ = write!(
        out,
        "<h1>What can stay local?</h1><p class=\"meta\">suite {} · config {} · {} · upper tier {} · target: {}</p>",
        esc(&r.suite),
        esc(&r.config),
        esc(&r.when),
        esc(&r.upper.model),
        esc(&r.target.describe())
    );
    let t = &r.total;
    let _ = write!(out, "<div class=\"cards\">");
    for (label, value, class) in [
        ("tasks", t.n.to_string(), ""),
        ("local accuracy", opt_pct(t.accuracy), ""),
        ("kept local", pct(t.coverage), ""),
        ("routed accuracy", opt_pct(t.routed_accuracy), ""),
        ("routed / 1k", money(t.cost_per_1k.routed), ""),
        ("all remote / 1k", money(t.cost_per_1k.all_remote), ""),
        ("saving", opt_pct(t.saving), " saved"),
    ] {
        let _ = write!(out, "<div class=\"card{class}\"><b>{}</b><span>{label}</span></div>", esc(&value));
    }
    out.push_str("</div>");
    match &r.upper.assumption {
        Some(a) => {
            let _ = write!(out, "<p class=\"meta\"><b>Assumed, not measured:</b> {}</p>", esc(a));
        }
        None => out.push_str("<p class=\"meta\">The upper tier's answers were sent for real and scored.</p>"),
    }
    out.push_str("<h2>Per task type</h2><div class=\"table\"><table><thead><tr>");
    for h in [
        "task",
        "n",
        "local acc",
        "upper acc",
        "signal",
        "threshold",
        "coverage",
        "kept acc",
        "routed acc",
        "$/1k local",
        "$/1k remote",
        "$/1k routed",
        "saving",
    ] {
        let _ = write!(out, "<th>{h}</th>");
    }
    out.push_str("</tr></thead><tbody>");
    for (task, t) in &r.tasks {
        table_row(&mut out, task, t, "");
    }
    table_row(&mut out, "all", &r.total, " class=\"total\"");
    out.push_str("</tbody></table></div>");
    out.push_str("<h2>Curves</h2>");
    for (task, t) in &r.tasks {
        let Some(curve) = t
            .signal
            .as_deref()
            .and_then(|s| t.curves.iter().find(|c| c.signal.key() == s))
            .or(t.curves.first())
        else {
            continue;
        };
        let chosen = t.signal.as_ref().map(|_| (t.coverage, t.routed_accuracy.unwrap_or(0.0)));
        let _ = write!(
            out,
            "<figure><figcaption>{} <small>— {} · {} tasks · signal {}</small></figcaption>",
            esc(task),
            esc(&t.local_model),
            t.scored,
            esc(curve.signal.key())
        );
        out.push_str(&chart(&curve.points, t, chosen));
        out.push_str("</figure>");
    }
    let _ = write!(
        out,
        "<footer>hearth eval · thresholds escalate answers strictly below them, as the router does · {} records</footer></main></body></html>",
        r.records.len()
    );
    out
}

fn table_row(out: &mut String, task: &str, t: &TaskReport, class: &str) {
    let cells = [
        t.n.to_string(),
        opt_pct(t.accuracy),
        opt_pct(t.upper_accuracy),
        t.signal.clone().unwrap_or_else(|| "—".into()),
        t.threshold_text(),
        if t.scored > 0 { pct(t.coverage) } else { "—".into() },
        opt_pct(t.kept_accuracy),
        opt_pct(t.routed_accuracy),
        money(t.cost_per_1k.local),
        money(t.cost_per_1k.all_remote),
        money(t.cost_per_1k.routed),
        opt_pct(t.saving),
    ];
    let _ = write!(out, "<tr{class}><td>{}</td>", esc(task));
    for c in cells {
        let _ = write!(out, "<td>{}</td>", esc(&c));
    }
    out.push_str("</tr>");
}

/// Two panels: accuracy vs coverage (kept, routed, target, chosen point) and cost vs
/// coverage (routed, all-remote baseline).
fn chart(points: &[Point], t: &TaskReport, chosen: Option<(f64, f64)>) -> String {
    const W: f64 = 1040.0;
    const H: f64 = 300.0;
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" role="img" aria-label="coverage curves" font-family="system-ui, sans-serif" font-size="12">"#
    );
    let mut sorted: Vec<Point> = points.to_vec();
    sorted.sort_by(|a, b| a.coverage.total_cmp(&b.coverage));
    // Left panel: accuracy.
    let (x0, y0, pw, ph) = (56.0, 24.0, 420.0, 220.0);
    let fx = |c: f64, x0: f64| x0 + c * pw;
    let fy = |a: f64| y0 + (1.0 - a) * ph;
    axes(&mut out, x0, y0, pw, ph, "coverage (kept local)", &[0.0, 0.25, 0.5, 0.75, 1.0], pct, "accuracy");
    if let Some(target) = t.target_accuracy {
        let _ = write!(
            out,
            r#"<line x1="{x0}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="{TARGET}" stroke-dasharray="5 4"/><text x="{:.1}" y="{:.1}" fill="{TARGET}" text-anchor="end">target {}</text>"#,
            x0 + pw,
            x0 + pw - 4.0,
            fy(target) - 5.0,
            pct(target),
            y = fy(target)
        );
    }
    let kept: Vec<(f64, f64)> =
        sorted.iter().filter_map(|p| p.kept_accuracy.map(|a| (fx(p.coverage, x0), fy(a)))).collect();
    let routed: Vec<(f64, f64)> =
        sorted.iter().map(|p| (fx(p.coverage, x0), fy(p.routed_accuracy))).collect();
    polyline(&mut out, &kept, KEPT);
    polyline(&mut out, &routed, ROUTED);
    if let Some((c, a)) = chosen {
        let _ = write!(
            out,
            r#"<circle cx="{:.1}" cy="{:.1}" r="5" fill="none" stroke="{TARGET}" stroke-width="2"/>"#,
            fx(c, x0),
            fy(a)
        );
    }
    legend(
        &mut out,
        x0,
        H - 12.0,
        &[("kept-local accuracy", KEPT), ("routed accuracy", ROUTED), ("target / chosen", TARGET)],
    );
    // Right panel: cost per 1k calls.
    let x1 = 590.0;
    let max_cost = sorted.iter().map(|p| p.cost_per_1k).fold(t.cost_per_1k.all_remote, f64::max);
    let cticks = ticks(max_cost);
    let top = *cticks.last().unwrap_or(&1.0);
    let fy2 = |v: f64| y0 + (1.0 - if top > 0.0 { v / top } else { 0.0 }) * ph;
    axes(
        &mut out,
        x1,
        y0,
        pw,
        ph,
        "coverage (kept local)",
        &[0.0, 0.25, 0.5, 0.75, 1.0],
        pct,
        "$ per 1k calls",
    );
    for v in &cticks {
        let _ = write!(
            out,
            r#"<line x1="{x1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="{GRID}"/><text x="{:.1}" y="{:.1}" fill="{AXIS}" text-anchor="end">{}</text>"#,
            x1 + pw,
            x1 - 6.0,
            fy2(*v) + 4.0,
            esc(&money(*v)),
            y = fy2(*v)
        );
    }
    let _ = write!(
        out,
        r#"<line x1="{x1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="{BASELINE}" stroke-dasharray="5 4"/>"#,
        x1 + pw,
        y = fy2(t.cost_per_1k.all_remote)
    );
    let cost: Vec<(f64, f64)> = sorted.iter().map(|p| (fx(p.coverage, x1), fy2(p.cost_per_1k))).collect();
    polyline(&mut out, &cost, COST);
    if t.signal.is_some() {
        let _ = write!(
            out,
            r#"<circle cx="{:.1}" cy="{:.1}" r="5" fill="none" stroke="{TARGET}" stroke-width="2"/>"#,
            fx(t.coverage, x1),
            fy2(t.cost_per_1k.routed)
        );
    }
    legend(&mut out, x1, H - 12.0, &[("routed cost", COST), ("all remote", BASELINE)]);
    out.push_str("</svg>");
    out
}

#[allow(clippy::too_many_arguments)]
fn axes(
    out: &mut String,
    x0: f64,
    y0: f64,
    pw: f64,
    ph: f64,
    xlabel: &str,
    xticks: &[f64],
    fmt: impl Fn(f64) -> String,
    ylabel: &str,
) {
    let _ = write!(
        out,
        r#"<line x1="{x0}" y1="{b:.1}" x2="{:.1}" y2="{b:.1}" stroke="{AXIS}"/><line x1="{x0}" y1="{y0}" x2="{x0}" y2="{b:.1}" stroke="{AXIS}"/>"#,
        x0 + pw,
        b = y0 + ph
    );
    for &v in xticks {
        let x = x0 + v * pw;
        let _ = write!(
            out,
            r#"<line x1="{x:.1}" y1="{y0}" x2="{x:.1}" y2="{b:.1}" stroke="{GRID}"/><text x="{x:.1}" y="{:.1}" fill="{AXIS}" text-anchor="middle">{}</text>"#,
            y0 + ph + 16.0,
            esc(&fmt(v)),
            b = y0 + ph
        );
    }
    if ylabel == "accuracy" {
        for v in [0.0, 0.25, 0.5, 0.75, 1.0] {
            let y = y0 + (1.0 - v) * ph;
            let _ = write!(
                out,
                r#"<line x1="{x0}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="{GRID}"/><text x="{:.1}" y="{:.1}" fill="{AXIS}" text-anchor="end">{}</text>"#,
                x0 + pw,
                x0 - 6.0,
                y + 4.0,
                pct(v)
            );
        }
    }
    let _ = write!(
        out,
        r#"<text x="{:.1}" y="{:.1}" fill="{AXIS}" text-anchor="middle">{}</text><text x="{x0}" y="{:.1}" fill="{AXIS}">{}</text>"#,
        x0 + pw / 2.0,
        y0 + ph + 32.0,
        esc(xlabel),
        y0 - 8.0,
        esc(ylabel)
    );
}

fn polyline(out: &mut String, points: &[(f64, f64)], colour: &str) {
    if points.is_empty() {
        return;
    }
    let pts: Vec<String> = points.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
    let _ = write!(
        out,
        r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="2" stroke-linejoin="round"/>"#,
        pts.join(" ")
    );
}

fn legend(out: &mut String, x: f64, y: f64, items: &[(&str, &str)]) {
    let mut at = x;
    for (name, colour) in items {
        let _ = write!(
            out,
            r#"<rect x="{at:.1}" y="{:.1}" width="12" height="12" rx="2" fill="{colour}"/><text x="{:.1}" y="{y:.1}" fill="{AXIS}">{}</text>"#,
            y - 10.0,
            at + 16.0,
            esc(name)
        );
        at += 34.0 + 7.0 * name.chars().count() as f64;
    }
}
