//! The HTML report in a real browser: `hearth report --html` on five weeks of calls, opened in
//! headless Chromium (Debian's package, installed by `cargo xtask report-screenshot` and by
//! `cargo xtask test`), and the screenshot checked: it decodes, it has the page's size, every
//! chart's colours cover real areas, and the chart band has many distinct colours (text, axes,
//! bars), not a blank or error page.
//!
//! Chromium: `$HEARTH_CHROMIUM`, else `chromium` on the PATH. Missing, the test says how to
//! install it and returns, except under `CI=true`, where it fails. The page and the PNG are
//! kept in `$HEARTH_SCREENSHOT_OUT` when set.

use std::collections::{BTreeMap, HashSet};
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::Command;

use hearth_ledger::{Call, Ledger, LedgerConfig, Status, now_unix_ms};

const WIDTH: u32 = 1200;
const HEIGHT: u32 = 1600;
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// The chart colours (hearth-ledger's report/svg.rs) with what they draw.
const CHART_COLOURS: [([u8; 3], &str); 5] = [
    ([0x2f, 0x7d, 0x5b], "cost bars and p50 bars"),
    ([0xc3, 0xc8, 0xcf], "baseline bars"),
    ([0x2e, 0x7d, 0x32], "the first local route's share"),
    ([0x15, 0x65, 0xc0], "the first remote route's share"),
    ([0x9f, 0xd3, 0xb8], "p95 bars"),
];

fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("HEARTH_CHROMIUM").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join("chromium")).find(|p| p.is_file())
}

/// Five weeks of a small service: four task types over two local and two remote routes.
fn five_weeks() -> Vec<Call> {
    let now = now_unix_ms();
    let routes = [("qwen", true), ("gemma", true), ("claude", false), ("gpt-box", false)];
    let tasks = ["classify", "extract", "summarize", "plan"];
    let mut calls = Vec::new();
    for i in 0..420u32 {
        let task = tasks[(i % 7 % 4) as usize];
        // Harder tasks go remote more often; the share of local work grows week by week.
        let week = i64::from(i) * 35 * DAY_MS / 420 / (7 * DAY_MS);
        let remote = (i * 37 % 100) < [10, 25, 45, 80][(i % 7 % 4) as usize] - week as u32 * 2;
        let (route, local) = routes[if remote { 2 + (i % 3 == 0) as usize } else { (i % 5 == 0) as usize }];
        let input = 200 + u64::from(i * 53 % 1800);
        let output = 20 + u64::from(i * 29 % 400);
        let baseline = (input as f64 * 3.0 + output as f64 * 15.0) / 1e6;
        let time_unix_ms = now - 35 * DAY_MS + i64::from(i) * 35 * DAY_MS / 420;
        let escalated = local && i % 17 == 0;
        calls.push(Call {
            time_unix_ms,
            request_id: format!("r{i}"),
            operation: "chat".to_owned(),
            task: Some(task.to_owned()),
            tags: BTreeMap::from([(
                "feature".to_owned(),
                ["search", "invoices", "support"][i as usize % 3].to_owned(),
            )]),
            route: route.to_owned(),
            reason: if remote { "complexity" } else { "task" }.to_owned(),
            provider: if local { "hearth" } else { "anthropic" }.to_owned(),
            request_model: "auto".to_owned(),
            local,
            input_tokens: Some(input),
            output_tokens: Some(output),
            semantic_cache_hit: i % 11 == 0,
            latency_ms: if local { 80 + u64::from(i * 7 % 400) } else { 700 + u64::from(i * 13 % 2500) },
            cost_usd: if local { baseline / 40.0 } else { baseline * 0.9 },
            baseline_cost_usd: Some(baseline),
            status: match i {
                _ if escalated => Status::Escalated,
                _ if i % 41 == 0 => Status::Error,
                _ => Status::Ok,
            },
            ..Call::default()
        });
        if escalated {
            // The remote answer that replaced it.
            let child = Call {
                time_unix_ms: time_unix_ms + 500,
                request_id: format!("r{i}.2"),
                escalation_parent: Some(format!("r{i}")),
                route: "claude".to_owned(),
                reason: if i % 2 == 0 { "low_confidence" } else { "invalid_output" }.to_owned(),
                provider: "anthropic".to_owned(),
                local: false,
                latency_ms: 1500,
                status: Status::Ok,
                ..calls.last().unwrap().clone()
            };
            calls.push(Call { cost_usd: child.baseline_cost_usd.unwrap_or(0.0), ..child });
        }
    }
    calls
}

/// The rows of an RGB(A) image on which at least [`BAR_RUN`] pixels have the colour `rgb`
/// (± 2 per channel): rows crossing a filled bar, not text edges that happen to match.
fn bar_rows(img: &[u8], channels: usize, rgb: [u8; 3]) -> Vec<usize> {
    img.chunks_exact(WIDTH as usize * channels)
        .enumerate()
        .filter(|(_, row)| {
            let matching = row
                .chunks_exact(channels)
                .filter(|px| px[..3].iter().zip(rgb).all(|(a, b)| a.abs_diff(b) <= 2))
                .count();
            matching >= BAR_RUN
        })
        .map(|(y, _)| y)
        .collect()
}

/// Pixels of one colour on a row that make it a bar's row.
const BAR_RUN: usize = 24;

#[test]
fn the_html_report_renders_its_charts_in_chromium() {
    let Some(chromium) = chromium() else {
        let how = "Chromium is missing: `cargo xtask report-screenshot` installs Debian's chromium";
        assert!(!hearth_testkit::in_ci(), "{how}");
        eprintln!("skipping: {how}");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let out = std::env::var_os("HEARTH_SCREENSHOT_OUT").map_or_else(|| tmp.path().to_owned(), PathBuf::from);
    std::fs::create_dir_all(&out).unwrap();
    let db = tmp.path().join("ledger.sqlite");
    {
        let ledger = Ledger::open(&db, &LedgerConfig::default()).unwrap();
        five_weeks().into_iter().for_each(|c| ledger.record(c));
        ledger.flush().unwrap();
    }
    let page = out.join("report.html");
    let report = Command::new(env!("CARGO_BIN_EXE_hearth"))
        .args(["report", "--since", "6w", "--db"])
        .arg(&db)
        .arg("--html")
        .arg(&page)
        .output()
        .unwrap();
    assert!(report.status.success(), "{}", String::from_utf8_lossy(&report.stderr));
    eprintln!("{}", String::from_utf8_lossy(&report.stdout));

    let png = out.join("report.png");
    let _ = std::fs::remove_file(&png);
    let shot = Command::new(&chromium)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run"])
        .arg(format!("--user-data-dir={}", tmp.path().join("profile").display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("--window-size={WIDTH},{HEIGHT}"))
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(
        png.is_file(),
        "{} wrote no screenshot: {}",
        chromium.display(),
        String::from_utf8_lossy(&shot.stderr)
    );
    check_screenshot(&png);
    eprintln!("screenshot: {}", png.display());
}

fn check_screenshot(png: &Path) {
    let mut decoder = png::Decoder::new(BufReader::new(std::fs::File::open(png).unwrap()));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (WIDTH, HEIGHT), "the window size");
    let channels = info.color_type.samples();
    assert!(channels >= 3, "{:?}", info.color_type);
    let img = &buf[..info.buffer_size()];

    let (mut top, mut bottom) = (usize::MAX, 0);
    for (rgb, what) in CHART_COLOURS {
        let rows = bar_rows(img, channels, rgb);
        let colour = format!("#{:02x}{:02x}{:02x}", rgb[0], rgb[1], rgb[2]);
        assert!(rows.len() >= 10, "{what} ({colour}): bars on only {} rows", rows.len());
        top = top.min(rows[0]);
        bottom = bottom.max(*rows.last().unwrap());
    }
    let stride = WIDTH as usize * channels;
    let band = &img[top * stride..(bottom + 1) * stride];
    let colours: HashSet<&[u8]> = band.chunks_exact(channels).map(|px| &px[..3]).collect();
    assert!(
        colours.len() >= 100 && bottom - top >= 600,
        "the charts (rows {top}..={bottom}) show only {} colours",
        colours.len()
    );
    eprintln!("charts on rows {top}..={bottom}: {} distinct colours", colours.len());
}

/// `hearth eval --html` in Chromium: a re-swept report (`--from`) of two task types whose
/// confidence separates right from wrong answers; the page must draw both accuracy curves and
/// the cost curves.
#[test]
fn the_eval_page_renders_its_curves_in_chromium() {
    use hearth_eval::{Attempt, EvalReport, Record, Target, Upper};
    use hearth_router::{Evidence, Finish};
    let Some(chromium) = chromium() else {
        let how = "Chromium is missing: `cargo xtask report-screenshot` installs Debian's chromium";
        assert!(!hearth_testkit::in_ci(), "{how}");
        eprintln!("skipping: {how}");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let out = std::env::var_os("HEARTH_SCREENSHOT_OUT").map_or_else(|| tmp.path().to_owned(), PathBuf::from);
    std::fs::create_dir_all(&out).unwrap();
    let mut records = Vec::new();
    for (task, n) in [("classify", 60u32), ("extract", 40)] {
        for i in 0..n {
            let mean = -(f64::from(i) / f64::from(n)) * 2.0;
            records.push(Record {
                id: format!("{task}-{i}"),
                task: task.into(),
                category: None,
                scorer: "label".into(),
                local: Attempt {
                    model: "small".into(),
                    correct: Some(i * 7 % 10 < 10 - i * 10 / n),
                    cost_usd: 1e-6,
                    ..Attempt::default()
                },
                evidence: Some(Evidence::of_answer("x", &[mean as f32], Finish::Stop, false, None)),
                invalid_output: false,
                upper: Attempt {
                    model: "claude".into(),
                    correct: Some(true),
                    cost_usd: 2e-4,
                    estimated: true,
                    ..Attempt::default()
                },
            });
        }
    }
    let upper = Upper { model: "claude".into(), sent: false, assumption: Some("assumed right".into()) };
    let report = EvalReport::build(
        "synthetic".into(),
        "c".into(),
        "now".into(),
        upper,
        Target::default(),
        records,
        &|_| false,
    );
    let json = tmp.path().join("eval.json");
    std::fs::write(&json, serde_json::to_string(&report).unwrap()).unwrap();
    let cfg = tmp.path().join("hearth.toml");
    std::fs::write(&cfg, "[[models]]\nname = \"small\"\npath = \"small.gguf\"\n\n[[remotes]]\nname = \"claude\"\nprovider = \"anthropic\"\nmodel = \"claude-haiku-4-5\"\ninput_per_mtok = 1.0\noutput_per_mtok = 5.0\n").unwrap();
    let page = out.join("eval.html");
    let run = Command::new(env!("CARGO_BIN_EXE_hearth"))
        .args(["eval", "--config"])
        .arg(&cfg)
        .arg("--from")
        .arg(&json)
        .arg("--html")
        .arg(&page)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let png = out.join("eval.png");
    let _ = std::fs::remove_file(&png);
    let shot = Command::new(&chromium)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run"])
        .arg(format!("--user-data-dir={}", tmp.path().join("profile").display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("--window-size={WIDTH},{HEIGHT}"))
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(png.is_file(), "no screenshot: {}", String::from_utf8_lossy(&shot.stderr));
    let mut decoder = png::Decoder::new(BufReader::new(std::fs::File::open(&png).unwrap()));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    let img = &buf[..info.buffer_size()];
    // The curves' colours (hearth-eval's html.rs): kept-local and routed accuracy, target,
    // cost; each drawn as lines over two charts, hundreds of pixels each.
    for (rgb, what) in [
        ([0x2e, 0x7d, 0x32], "kept-local accuracy"),
        ([0x15, 0x65, 0xc0], "routed accuracy"),
        ([0xc6, 0x28, 0x28], "target and chosen point"),
        ([0x2f, 0x7d, 0x5b], "routed cost"),
    ] {
        let n = img
            .chunks_exact(channels)
            .filter(|px| px[..3].iter().zip(rgb).all(|(a, b)| a.abs_diff(b) <= 6))
            .count();
        assert!(n >= 200, "{what}: only {n} pixels");
        eprintln!("{what}: {n} pixels");
    }
}
