"""Tool calling on hearth serve's local model, driven by the official `openai` and
`anthropic` Python SDKs (pinned in requirements.txt): a weather lookup, a calculator and an
extraction schema. Every call hearth returns is checked to parse and validate against its
tool's schema; the tally (calls seen, calls valid) is printed at the end and must be 100%.

Run by `cargo xtask sdk-test` after test_anthropic.py:

    python tests/sdk/test_tools.py --hearth target/release/hearth --model qwen.gguf

Prints the two-turn conversation of each API (request, call, tool result, final answer).
"""

import argparse
import json
import sys

import anthropic
import jsonschema
import openai
from anthropic import Anthropic
from openai import OpenAI

from harness import API_KEY, HearthServer, run_tests

CTX = 4096
WEATHER = {
    "name": "get_weather",
    "description": "Get the current weather in a city",
    "parameters": {
        "type": "object",
        "properties": {
            "city": {"type": "string", "description": "City name, e.g. Paris"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        },
        "required": ["city"],
        "additionalProperties": False,
    },
}
CALCULATOR = {
    "name": "calculator",
    "description": "Evaluate an arithmetic expression",
    "parameters": {
        "type": "object",
        "properties": {"expression": {"type": "string", "maxLength": 64}},
        "required": ["expression"],
        "additionalProperties": False,
    },
}
EXTRACT = {
    "name": "save_contact",
    "description": "Save a person's contact details found in the text",
    "parameters": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "company": {"type": "string"},
            "email": {"type": "string", "format": "email"},
        },
        "required": ["name", "company"],
        "additionalProperties": False,
    },
}
TOOLS = [WEATHER, CALCULATOR, EXTRACT]
SCHEMAS = {t["name"]: t["parameters"] for t in TOOLS}
OPENAI_TOOLS = [{"type": "function", "function": t} for t in TOOLS]
ANTHROPIC_TOOLS = [{"name": t["name"], "description": t["description"], "input_schema": t["parameters"]} for t in TOOLS]

PROMPTS = [
    "What's the weather like in Paris right now?",
    "What is 17 times 23?",
    "Save this contact: Dana Whitfield works at Lumen Labs, dana@lumenlabs.io.",
    "Tell me the temperature in Tokyo in fahrenheit.",
]

TALLY = {"calls": 0, "valid": 0}
TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def oai(server):
    return OpenAI(base_url=server.url + "/v1", api_key=API_KEY, max_retries=0, timeout=300)


def ant(server):
    return Anthropic(base_url=server.url, api_key=API_KEY, max_retries=0, timeout=300)


def check_call(name, arguments):
    """Counts one call; asserts it names a tool and its arguments validate."""
    TALLY["calls"] += 1
    assert name in SCHEMAS, f"unknown tool {name!r}"
    args = json.loads(arguments) if isinstance(arguments, str) else arguments
    jsonschema.validate(args, SCHEMAS[name], format_checker=jsonschema.FormatChecker())
    TALLY["valid"] += 1
    return args


def ask_openai(s, prompt, **kw):
    args = dict(model="local", messages=[{"role": "user", "content": prompt}], tools=OPENAI_TOOLS,
                temperature=0, max_tokens=128)
    args.update(kw)
    return oai(s).chat.completions.create(**args)


@test
def openai_required_calls_parse_and_validate(s, _):
    for p in PROMPTS:
        r = ask_openai(s, p, tool_choice="required")
        c = r.choices[0]
        assert c.finish_reason == "tool_calls", c
        assert c.message.tool_calls, c.message
        for call in c.message.tool_calls:
            assert call.type == "function" and call.id.startswith("call_"), call
            check_call(call.function.name, call.function.arguments)


@test
def openai_auto_gives_text_or_valid_calls(s, _):
    for p in PROMPTS + ["Say hello in French, in one word."]:
        c = ask_openai(s, p, tool_choice="auto").choices[0]
        if c.message.tool_calls:
            assert c.finish_reason == "tool_calls"
            for call in c.message.tool_calls:
                check_call(call.function.name, call.function.arguments)
        else:
            assert c.message.content, c


@test
def openai_named_none_and_parallel_choices(s, _):
    r = ask_openai(s, PROMPTS[0], tool_choice={"type": "function", "function": {"name": "calculator"}})
    calls = r.choices[0].message.tool_calls
    assert calls and all(c.function.name == "calculator" for c in calls), calls
    for c in calls:
        check_call(c.function.name, c.function.arguments)
    r = ask_openai(s, PROMPTS[0], tool_choice="none")
    assert r.choices[0].message.tool_calls is None and r.choices[0].message.content, r
    r = ask_openai(s, "Weather in Paris and in Rome?", tool_choice="required", parallel_tool_calls=False)
    assert len(r.choices[0].message.tool_calls) == 1, r.choices[0].message.tool_calls
    check_call(r.choices[0].message.tool_calls[0].function.name, r.choices[0].message.tool_calls[0].function.arguments)


@test
def openai_streamed_calls_match_the_whole_answer(s, _):
    whole = ask_openai(s, PROMPTS[2], tool_choice="required").choices[0].message.tool_calls
    with oai(s).chat.completions.stream(model="local", messages=[{"role": "user", "content": PROMPTS[2]}],
                                        tools=OPENAI_TOOLS, tool_choice="required", temperature=0,
                                        max_tokens=128) as stream:
        final = stream.get_final_completion()
    streamed = final.choices[0].message.tool_calls
    assert final.choices[0].finish_reason == "tool_calls"
    assert [(c.function.name, c.function.arguments) for c in streamed] == \
        [(c.function.name, c.function.arguments) for c in whole], (streamed, whole)
    for c in streamed:
        check_call(c.function.name, c.function.arguments)


@test
def openai_two_turn_conversation(s, _):
    messages = [{"role": "user", "content": PROMPTS[0]}]
    first = oai(s).chat.completions.create(model="local", messages=messages, tools=OPENAI_TOOLS,
                                           tool_choice="required", temperature=0, max_tokens=128)
    msg = first.choices[0].message
    call = msg.tool_calls[0]
    check_call(call.function.name, call.function.arguments)
    result = json.dumps({"city": "Paris", "temperature_c": 18, "conditions": "sunny"})
    messages += [msg.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": result}]
    second = oai(s).chat.completions.create(model="local", messages=messages, tools=OPENAI_TOOLS,
                                            temperature=0, max_tokens=64)
    for c in second.choices[0].message.tool_calls or []:
        check_call(c.function.name, c.function.arguments)
    answer = second.choices[0]
    # A 0.5B model may answer, call again, or (under `auto`, where text is free) write a
    # call-like text until the token limit: any of these is a well-formed answer.
    assert answer.finish_reason in ("stop", "tool_calls", "length"), answer
    print("  [openai] user:", PROMPTS[0])
    print("  [openai] call:", call.function.name, call.function.arguments, f"(id {call.id})")
    print("  [openai] tool result:", result)
    print("  [openai] final:", answer.message.content if answer.message.content else answer.message.tool_calls)
    if not answer.message.tool_calls:
        assert answer.message.content, answer


@test
def openai_malformed_tools_are_400(s, _):
    bad = [{"type": "function", "function": {**CALCULATOR, "parameters": {
        "type": "object", "properties": {"tags": {"type": "array", "uniqueItems": True}}}}}]
    try:
        ask_openai(s, PROMPTS[1], tools=bad)
        raise AssertionError("an unenforceable schema was accepted")
    except openai.BadRequestError as e:
        assert e.body["param"] == "tools[0].function.parameters", e.body
        assert "calculator" in e.message and "uniqueItems" in e.message, e.message
    try:
        ask_openai(s, PROMPTS[1], tools=[{"type": "function", "function": {"name": "has space"}}])
        raise AssertionError("a bad tool name was accepted")
    except openai.BadRequestError as e:
        assert e.body["param"] == "tools[0].function.name", e.body


def ask_anthropic(s, prompt, **kw):
    args = dict(model="local", max_tokens=128, messages=[{"role": "user", "content": prompt}],
                tools=ANTHROPIC_TOOLS, extra_body={"temperature": 0})
    args.update(kw)
    return ant(s).messages.create(**args)


@test
def anthropic_any_and_named_choices_return_valid_tool_use(s, _):
    for p in PROMPTS:
        m = ask_anthropic(s, p, tool_choice={"type": "any"})
        assert m.stop_reason == "tool_use", m
        uses = [b for b in m.content if b.type == "tool_use"]
        assert uses, m.content
        for u in uses:
            assert u.id.startswith("toolu_"), u
            check_call(u.name, u.input)
    m = ask_anthropic(s, PROMPTS[1], tool_choice={"type": "tool", "name": "calculator",
                                                  "disable_parallel_tool_use": True})
    uses = [b for b in m.content if b.type == "tool_use"]
    assert len(uses) == 1 and uses[0].name == "calculator", m.content
    check_call(uses[0].name, uses[0].input)


@test
def anthropic_streamed_tool_use_matches(s, _):
    whole = ask_anthropic(s, PROMPTS[3], tool_choice={"type": "any"})
    with ant(s).messages.stream(model="local", max_tokens=128, tools=ANTHROPIC_TOOLS, tool_choice={"type": "any"},
                                messages=[{"role": "user", "content": PROMPTS[3]}],
                                extra_body={"temperature": 0}) as stream:
        final = stream.get_final_message()
    got = [(b.name, b.input) for b in final.content if b.type == "tool_use"]
    want = [(b.name, b.input) for b in whole.content if b.type == "tool_use"]
    assert got == want and final.stop_reason == "tool_use", (got, want)
    for name, inp in got:
        check_call(name, inp)


@test
def anthropic_two_turn_conversation(s, _):
    messages = [{"role": "user", "content": PROMPTS[1]}]
    first = ant(s).messages.create(model="local", max_tokens=128, tools=ANTHROPIC_TOOLS, messages=messages,
                                   tool_choice={"type": "any"}, extra_body={"temperature": 0})
    use = next(b for b in first.content if b.type == "tool_use")
    check_call(use.name, use.input)
    result = "391"
    messages += [{"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
                 {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": result}]}]
    second = ant(s).messages.create(model="local", max_tokens=64, tools=ANTHROPIC_TOOLS, messages=messages,
                                    extra_body={"temperature": 0})
    print("  [anthropic] user:", PROMPTS[1])
    print("  [anthropic] tool_use:", use.name, json.dumps(use.input), f"(id {use.id})")
    print("  [anthropic] tool_result:", result)
    print("  [anthropic] final:", [b.model_dump(exclude_none=True) for b in second.content], second.stop_reason)
    for b in second.content:
        if b.type == "tool_use":
            check_call(b.name, b.input)
    assert second.content, second


@test
def anthropic_malformed_tools_are_400(s, _):
    bad = [{"name": "calculator", "input_schema": {"type": "object", "not": {"required": ["x"]}}}]
    try:
        ask_anthropic(s, PROMPTS[1], tools=bad)
        raise AssertionError("an unenforceable schema was accepted")
    except anthropic.BadRequestError as e:
        assert "calculator" in e.message and "not" in e.message, e.message


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hearth", required=True)
    ap.add_argument("--model", required=True)
    args = ap.parse_args()
    failed = []
    with HearthServer(args.hearth, args.model, "--parallel", "2", "--ctx-size", str(CTX)) as s:
        model_id = s.health()[1]["model"]
        failed += run_tests(s, TESTS, model_id)
    total = len(TESTS)
    rate = 100.0 * TALLY["valid"] / TALLY["calls"] if TALLY["calls"] else 0.0
    print(f"\ntool calls: {TALLY['calls']} returned, {TALLY['valid']} parsed and validated ({rate:.1f}%)")
    if TALLY["calls"] == 0 or TALLY["valid"] != TALLY["calls"]:
        failed.append("parse/validation rate below 100%")
    print(f"{total - len(failed)} passed, {len(failed)} failed" + (f": {', '.join(failed)}" if failed else ""))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
