"""The Berkeley Function-Calling Leaderboard (BFCL) against hearth serve's tool calling.

Run by `cargo xtask bfcl` on the 0.5B fixture, with the questions and possible answers it
unpacks from the pinned bfcl-eval wheel into $HEARTH_FIXTURES/bfcl:

    python tests/sdk/bfcl.py --data ~/.cache/hearth/bfcl --self-test
    python tests/sdk/bfcl.py --data ~/.cache/hearth/bfcl --hearth target/release/hearth \
        --model qwen.gguf --categories simple,multiple --limit 20 [--json out.json]

Each question's functions become OpenAI `tools`, its messages are sent through the official
`openai` SDK at temperature 0, and each answer is scored twice (bfcl_score.py):

- parse: every tool call names a tool that was offered and its arguments are JSON that
  validates against that tool's schema. This is hearth's guarantee (the arguments are
  constrained by a grammar), so below 100% the script exits non-zero.
- accuracy: BFCL's AST match, the rules of bfcl_eval/eval_checker/ast_eval/ast_checker.py
  (`simple_function_checker`, `multiple_function_checker` and their helpers) for Python:
  exactly the expected function, every required argument present, every argument's value
  one of the accepted ones. Reported, not asserted: it measures the model.

`--self-test` needs no server: BFCL's own ground truth, sent through the same decoding and
scoring as a model's answer, must parse and score 100%, and a wrong function, a missing
argument or a wrong value must score 0.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import jsonschema

from bfcl_score import NESTED, score, to_schema, to_tools, tool_name

# The categories and their file in the bfcl-eval wheel's data/ (and data/possible_answer/).
CATEGORIES = {"simple": "BFCL_v4_simple_python.json", "multiple": "BFCL_v4_multiple.json"}

# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def load(data, category, limit, ids=None):
    """The category's (question, ground truth) pairs; `limit` > 0 takes that many, spread
    evenly over the category so a subset still covers its kinds of functions; `ids` only
    those questions."""
    name = CATEGORIES[category]
    questions = read_jsonl(Path(data) / name)
    answers = {a["id"]: a["ground_truth"] for a in read_jsonl(Path(data) / "possible_answer" / name)}
    if ids:
        questions = [q for q in questions if q["id"] in ids]
    if limit and limit < len(questions):
        questions = [questions[i * len(questions) // limit] for i in range(limit)]
    return [(q, answers[q["id"]]) for q in questions]


# ---------------------------------------------------------------------------------------------
# Self-test: BFCL's ground truth as the model's answer
# ---------------------------------------------------------------------------------------------


def first_accepted(candidates):
    return next((c for c in candidates if c != ""), None)


def valid(value, schema):
    return jsonschema.Draft202012Validator(schema).is_valid(value)


def pick(value, doc):
    """A concrete argument from an accepted value: dicts (and lists of dicts) hold a list of
    accepted values per key, of which the first is taken."""
    t = doc.get("type")
    if t == "dict" and type(value) is dict:
        props = doc.get("properties", {})
        picked = {k: first_accepted(vs) for k, vs in value.items()}
        return {k: pick(v, props.get(k, {})) for k, v in picked.items() if v is not None}
    if t in NESTED and type(value) is list and doc.get("items", {}).get("type") == "dict":
        return [pick(v, doc["items"]) for v in value]
    return value


def ground_truth_calls(question, ground_truth):
    """The possible answer as a model would have sent it: [(tool name, arguments text)]."""
    docs = {f["name"]: f for f in question["function"]}
    calls = []
    for entry in ground_truth:
        name, candidates = next(iter(entry.items()))
        props = docs[name]["parameters"]["properties"]
        args = {}
        for p, accepted in candidates.items():
            # The first accepted value that fits the declared type: BFCL's answers accept a
            # few that do not (simple_python_307's string `venue` accepts "" or true).
            fits = [v for v in accepted if v != "" and valid(pick(v, props[p]), to_schema(props[p]))]
            if fits or "" not in accepted:
                args[p] = pick((fits or accepted)[0], props[p])
        calls.append((tool_name(name), json.dumps(args)))
    return calls


def wrong(value):
    """A value of the same JSON type that no candidate can equal after BFCL's normalisation."""
    if type(value) is bool:
        return None
    if type(value) is int:
        return value + 7919
    if type(value) is float:
        return value + 7919.5
    if type(value) is str:
        return value + "zzq"
    if type(value) is list:
        return value + value[:1] if value else [7919]
    if type(value) is dict:
        return dict(value, zzq_key=1)
    return None


def broken_answers(question, calls):
    """Answers that must score 0: ([(name, arguments text)], what was broken)."""
    name, text = calls[0]
    args = json.loads(text)
    out = []
    others = [tool_name(f["name"]) for f in question["function"] if tool_name(f["name"]) != name]
    if others:
        out.append(([(others[0], text)], "another function"))
    out.append(([(name + "_x", text)], "an unknown function"))
    out.append((calls + calls, "the call twice"))
    required = [p for p in question_doc(question, name)["parameters"].get("required", []) if p in args]
    if required:
        rest = {k: v for k, v in args.items() if k != required[0]}
        out.append(([(name, json.dumps(rest))], f"{required[0]} left out"))
    for param, value in args.items():
        w = wrong(value)
        if w is not None:
            out.append(([(name, json.dumps(dict(args, **{param: w})))], f"{param}={w!r}"))
    return out


def question_doc(question, name):
    return next(f for f in question["function"] if tool_name(f["name"]) == name)


def self_test(data):
    """Exit status 0 when BFCL's answers score 100% and broken ones 0%, with the tools'
    schemas as BFCL gives them and closed."""
    failures = []
    for category, closed in [(c, closed) for c in CATEGORIES for closed in (False, True)]:
        pairs = load(data, category, 0)
        broken_n = 0
        for question, ground_truth in pairs:
            calls = ground_truth_calls(question, ground_truth)
            got = score(category, question, ground_truth, calls, closed)
            if not (got["parsed"] and got["correct"]):
                failures.append(f"{question['id']}: BFCL's own answer {calls} scored {got}")
            for answer, what in broken_answers(question, calls):
                broken_n += 1
                got = score(category, question, ground_truth, answer, closed)
                if got["correct"]:
                    failures.append(f"{question['id']}: {what} still scored correct: {answer}")
        what = f"{len(pairs)} ground-truth answers, {broken_n} broken ones"
        print(f"self-test {category}{' (closed schemas)' if closed else ''}: {what}", flush=True)
    for f in failures[:20]:
        print("FAIL  " + f)
    print(f"self-test: {'FAILED, ' + str(len(failures)) + ' failures' if failures else 'ok'}")
    return 1 if failures else 0


# ---------------------------------------------------------------------------------------------
# Benchmark
# ---------------------------------------------------------------------------------------------


def ask(client, question, tool_choice, args):
    """One question; returns ([(name, arguments text)], content, finish_reason, seconds).
    A request the server refuses (a schema it cannot compile, say) has no calls and its
    error as the finish reason: with tool_choice=required that fails the parse rate."""
    import openai

    tools, _ = to_tools(question["function"], args.closed)
    t0 = time.time()
    try:
        r = client.chat.completions.create(
            model="hearth",
            messages=question["question"][0],
            tools=tools,
            tool_choice=tool_choice,
            parallel_tool_calls=args.parallel,
            temperature=0,
            max_tokens=args.max_tokens,
        )
    except openai.APIStatusError as e:
        return [], None, f"HTTP {e.status_code}: {e.message}", time.time() - t0
    choice = r.choices[0]
    calls = [(c.function.name, c.function.arguments) for c in choice.message.tool_calls or []]
    return calls, choice.message.content, choice.finish_reason, time.time() - t0


def run(args):
    from openai import OpenAI

    from harness import HearthServer

    categories = [c for c in args.categories.split(",") if c]
    choices = [c for c in args.tool_choice.split(",") if c]
    for c in categories:
        if c not in CATEGORIES:
            sys.exit(f"unknown category {c!r}: choose from {', '.join(CATEGORIES)}")
    for c in choices:
        if c not in ("required", "auto"):
            sys.exit(f"unknown tool_choice {c!r}: required or auto")
    records, rows = [], []
    extra = ["--threads", str(args.threads)] if args.threads else []
    with HearthServer(args.hearth, args.model, "--parallel", "1", "--ctx-size", str(args.ctx), *extra) as s:
        client = OpenAI(base_url=s.url + "/v1", api_key=s.api_key, max_retries=0, timeout=600)
        for category in categories:
            pairs = load(args.data, category, args.limit, args.ids and set(args.ids.split(",")))
            if not pairs:
                continue
            for choice in choices:
                got = []
                for question, ground_truth in pairs:
                    calls, content, finish, secs = ask(client, question, choice, args)
                    result = score(category, question, ground_truth, calls, args.closed)
                    got.append(
                        dict(id=question["id"], category=category, tool_choice=choice, calls=calls)
                        | dict(content=content, finish_reason=finish, seconds=round(secs, 2), **result)
                    )
                    owed = calls or choice == "required"
                    mark = "ok" if result["correct"] else "PARSE" if owed and not result["parsed"] else "miss"
                    if finish == "length" and not result["correct"]:
                        mark = "cut"
                    why = result["error"] or ""
                    if finish not in ("tool_calls", "stop"):
                        why = f"[{finish}] {why}"
                    print(f"{mark:5} {question['id']:20} {secs:5.1f}s {calls} {why}", flush=True)
                records += got
                rows.append(summarize(category, choice, got))
        code = s.stop()
    print_table(rows)
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": rows, "answers": records}, indent=1))
    failed = [r for r in rows if r["parse_rate"] < 1.0]
    if code != 0:
        print(f"FAIL  hearth serve exited with {code} on SIGTERM")
        return 1
    if failed:
        for r in failed:
            rate = r["parse_rate"]
            print(f"FAIL  {r['category']} tool_choice={r['tool_choice']}: parse rate {rate:.1%} (must be 100%)")
        return 1
    return 0


def summarize(category, choice, got):
    """Parse rate is over the answers that must hold calls: all of them with
    tool_choice=required, those that made any with auto (which may answer in text); less
    those cut by max_tokens ("cut": a model that loops can always run out of tokens, grammar
    or not; they count against accuracy)."""
    n = len(got)
    called = [g for g in got if g["calls"]]
    owed = [g for g in (got if choice == "required" else called) if g["finish_reason"] != "length"]
    parsed = sum(g["parsed"] for g in owed)
    return {
        "category": category,
        "tool_choice": choice,
        "n": n,
        "called": len(called) / n if n else 0.0,
        "cut": sum(g["finish_reason"] == "length" for g in got),
        "parse_rate": parsed / len(owed) if owed else 1.0,
        "accuracy": sum(g["correct"] for g in got) / n if n else 0.0,
        "seconds_per_question": sum(g["seconds"] for g in got) / n if n else 0.0,
    }


def print_table(rows):
    head = f"{'category':10} {'tool_choice':11} {'n':>4} {'called':>7} {'parse':>7} {'accuracy':>8}"
    print(f"\n{head} {'cut':>4} {'s/q':>5}")
    for r in rows:
        print(
            f"{r['category']:10} {r['tool_choice']:11} {r['n']:>4} {r['called']:>7.1%} {r['parse_rate']:>7.1%}"
            f" {r['accuracy']:>8.1%} {r['cut']:>4} {r['seconds_per_question']:>5.1f}"
        )


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="folder with BFCL's files (cargo xtask bfcl unpacks them)")
    ap.add_argument("--self-test", action="store_true", help="check the scorer on BFCL's own answers; no server")
    ap.add_argument("--hearth", help="hearth binary")
    ap.add_argument("--model", help="GGUF model to serve")
    ap.add_argument("--categories", default="simple,multiple")
    ap.add_argument("--tool-choice", default="required", help="required, auto, or both comma separated")
    ap.add_argument("--limit", type=int, default=0, help="questions per category, spread evenly (0: all)")
    ap.add_argument("--ids", help="only these question ids, comma separated")
    ap.add_argument(
        "--parallel",
        action="store_true",
        help="send parallel_tool_calls=true (default false: both categories expect exactly one call)",
    )
    ap.add_argument("--closed", action="store_true", help="tools' objects take no undeclared keys")
    ap.add_argument("--max-tokens", type=int, default=512)
    ap.add_argument("--ctx", type=int, default=4096)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--json", help="write the summary and every answer here")
    args = ap.parse_args()
    if args.self_test:
        sys.exit(self_test(args.data))
    if not (args.hearth and args.model):
        ap.error("--hearth and --model are needed unless --self-test")
    sys.exit(run(args))


if __name__ == "__main__":
    main()
