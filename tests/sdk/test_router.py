"""hearth's router, driven by the official `openai` Python SDK with `model: "auto"`: one
`hearth serve --config` with a local model (the 0.5B fixture) and a remote "claude" that is
the loopback fake Anthropic API (`fake-anthropic`, built from crates/anthropic with the
`fake` feature). The client changes nothing but the base URL; hearth decides per request
whether the local model or the remote answers, and says so in its headers.

Run by `cargo xtask sdk-test` after test_anthropic.py:

    python tests/sdk/test_router.py --hearth target/release/hearth --model qwen.gguf \
        --fake-anthropic target/release/fake-anthropic

What is checked: easy tasks stay local, hard ones go to the remote (and what hearth sent the
remote, as the fake recorded it), a streamed remote answer arrives as OpenAI chunks, an
injected 529 is retried, a remote that keeps failing falls back to the local model with
reason `remote_unavailable`, a spent daily budget is a 429 naming the cap, and `/v1/models`
lists the local model, the remote and `auto`; tool calls through the remote (its tool_use as
`tool_calls`, the tool's answer sent back as a `tool_result`, streamed calls put together by
the SDK's stream helper); and the same routing of `/v1/messages` driven by the official
`anthropic` SDK (an easy task local, a Claude model id passed through to the remote with its
fields, a streamed remote answer in Anthropic's events, a streamed tool_use). Expected texts are
never constants: the fake echoes the last user turn, and local answers are only checked to be
there.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import urllib.request

import openai
from anthropic import Anthropic
from openai import OpenAI

from harness import API_KEY, HearthServer, run_tests

FAKE_KEY = "sk-ant-fake-router-test"
TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


class FakeAnthropic:
    """The `fake-anthropic` process: started on a free port, stopped on exit."""

    def __init__(self, binary):
        env = dict(os.environ, FAKE_ANTHROPIC_API_KEY=FAKE_KEY)
        self.proc = subprocess.Popen([binary, "--port", "0"], stdout=subprocess.PIPE, text=True, env=env)
        ready = threading.Event()
        self.addr = None

        def pump():
            for line in self.proc.stdout:
                m = re.search(r"listening on (\S+)", line)
                if m and self.addr is None:
                    self.addr = m.group(1)
                    ready.set()
            ready.set()

        threading.Thread(target=pump, daemon=True).start()
        if not ready.wait(30) or self.addr is None:
            self.stop()
            raise RuntimeError("fake-anthropic did not start")
        self.url = f"http://{self.addr}"

    def control(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("content-type", "application/json")
        with urllib.request.urlopen(req, timeout=10) as r:
            text = r.read().decode()
            return json.loads(text) if text else None

    def faults(self, faults):
        self.control("POST", "/_fake/faults", faults)

    def requests(self):
        """The /v1/... requests received since the last call (and forgets them)."""
        got = [r for r in self.control("GET", "/_fake/requests") if r["path"].startswith("/v1/")]
        self.control("DELETE", "/_fake/requests")
        self.control("DELETE", "/_fake/faults")
        return got

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def config(model_path, fake_url, daily_usd=None):
    budget = f"\n[budget]\ndaily_usd = {daily_usd}\n" if daily_usd is not None else ""
    # Each server its own ledger: the default one (beside the models cache) would carry the
    # spend of earlier tests into the budget test (hearth restores the day's spend from it).
    ledger_path = os.path.join(tempfile.mkdtemp(prefix="hearth-ledger-"), "ledger.sqlite")
    budget += f'\n[ledger]\npath = "{ledger_path}"\n'
    return f"""
[[models]]
name = "local-coder"
path = "{model_path}"
ctx_size = 2048
slots = 2

[[remotes]]
name = "claude"
provider = "anthropic"
model = "claude-haiku-4-5"
base_url = "{fake_url}"
api_key_env = "FAKE_ANTHROPIC_API_KEY"
input_per_mtok = 1.00
output_per_mtok = 5.00
cooldown_after_failures = 3
cooldown_secs = 60

[[routes]]
tasks = ["classify", "extract", "tag", "summarize"]
target = "local-coder"
max_complexity = 0.6
escalate_to = "claude"
min_mean_logprob = -100.0
min_token_logprob = -1000.0

[[routes]]
tasks = ["generate", "reason", "plan", "debug"]
target = "claude"
fallback = "local-coder"
on_budget = "reject"
{budget}"""


def client(server):
    return OpenAI(base_url=server.url + "/v1", api_key=API_KEY, max_retries=0, timeout=300)


def auto(s, task, text, **kw):
    """A `model: "auto"` chat completion with `metadata.task`, raw (headers and parsed)."""
    args = dict(
        model="auto",
        messages=[{"role": "user", "content": text}],
        max_tokens=16,
        temperature=0,
        metadata={"task": task},
    )
    args.update(kw)
    return client(s).chat.completions.with_raw_response.create(**args)


def routed(raw):
    return raw.headers["x-hearth-route"], raw.headers["x-hearth-reason"], float(raw.headers["x-hearth-cost-usd"])


@test
def models_lists_local_remote_and_auto(s, fake):
    ids = {m.id for m in client(s).models.list()}
    assert {"local-coder", "claude", "auto"} <= ids, ids


@test
def an_easy_task_stays_local(s, fake):
    raw = auto(s, "classify", "Sentiment of 'arrived broken': positive or negative?")
    route, reason, cost = routed(raw)
    assert (route, reason, cost) == ("local-coder", "task", 0.0), (route, reason, cost)
    body = raw.parse()
    assert body.choices[0].message.content, body
    assert body.model_extra["hearth"]["route"] == "local-coder", body.model_extra
    assert fake.requests() == [], "a local answer must not call the remote"


@test
def a_hard_task_goes_to_the_remote(s, fake):
    text = "Plan a migration of our billing service to event sourcing."
    raw = auto(s, "plan", text, max_tokens=64)
    route, reason, cost = routed(raw)
    assert (route, reason) == ("claude", "task"), (route, reason)
    body = raw.parse()
    assert body.choices[0].message.content == "echo: " + text, body.choices[0].message.content
    assert body.usage.prompt_tokens > 0 and body.usage.completion_tokens > 0, body.usage
    expected = (body.usage.prompt_tokens * 1.00 + body.usage.completion_tokens * 5.00) / 1e6
    assert abs(cost - expected) < 1e-9, (cost, expected)
    sent = fake.requests()
    assert len(sent) == 1, sent
    req = json.loads(sent[0]["body"])
    assert req["model"] == "claude-haiku-4-5" and req["max_tokens"] == 64, req
    assert req["messages"] == [{"role": "user", "content": text}], req["messages"]
    assert sent[0]["headers"].get("authorization") == f"Bearer {FAKE_KEY}", sent[0]["headers"]
    assert sent[0]["headers"].get("anthropic-version"), sent[0]["headers"]


@test
def a_streamed_remote_answer_arrives_as_openai_chunks(s, fake):
    text = "Debug why the cron job runs twice."
    stream = client(s).chat.completions.create(
        model="auto",
        messages=[{"role": "user", "content": text}],
        max_tokens=64,
        metadata={"task": "debug"},
        stream=True,
        stream_options={"include_usage": True},
    )
    pieces, usage, finish = [], None, None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for c in chunk.choices:
            pieces.append(c.delta.content or "")
            finish = c.finish_reason or finish
    assert "".join(pieces) == "echo: " + text, pieces
    assert finish == "stop", finish
    assert usage is not None and usage.completion_tokens > 0, usage
    sent = fake.requests()
    assert len(sent) == 1 and json.loads(sent[0]["body"]).get("stream") is True, sent


@test
def an_overloaded_remote_is_retried(s, fake):
    fake.faults([{"kind": "overloaded"}])
    raw = auto(s, "reason", "Why is the sky blue? Reason step by step.")
    route, reason, cost = routed(raw)
    assert (route, reason) == ("claude", "task") and cost > 0, (route, reason, cost)
    assert len(fake.requests()) == 2, "one 529, then the retry"


@test
def a_failing_remote_falls_back_to_the_local_model(s, fake):
    # Every attempt fails: the first call plus the client's 2 retries.
    fake.faults([{"kind": "server_error"}] * 3)
    raw = auto(s, "generate", "Write a haiku about routers.")
    route, reason, cost = routed(raw)
    assert (route, reason, cost) == ("local-coder", "remote_unavailable", 0.0), (route, reason, cost)
    assert raw.parse().choices[0].message.content
    assert len(fake.requests()) == 3


@test
def a_model_name_goes_straight_there(s, fake):
    raw = client(s).chat.completions.with_raw_response.create(
        model="claude", messages=[{"role": "user", "content": "hi"}], max_tokens=8
    )
    assert routed(raw)[:2] == ("claude", "explicit"), routed(raw)
    assert len(fake.requests()) == 1


WEATHER = {
    "name": "get_weather",
    "description": "The weather in a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
}


@test
def tool_calls_go_to_the_remote_and_the_tools_answer_comes_back(s, fake):
    text = "Use get_weather for Paris."
    c = client(s)
    tools = [{"type": "function", "function": WEATHER}]
    ask = dict(model="auto", max_tokens=64, metadata={"task": "reason"}, tools=tools)
    first = c.chat.completions.create(messages=[{"role": "user", "content": text}], **ask)
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls", choice
    call = choice.message.tool_calls[0]
    assert call.type == "function" and call.function.name == "get_weather", call
    assert json.loads(call.function.arguments) == {"city": ""}, call.function.arguments
    # The conversation goes on with the tool's answer, the assistant message sent back as parsed.
    messages = [
        {"role": "user", "content": text},
        choice.message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "18C and sunny"},
    ]
    second = c.chat.completions.create(messages=messages, **ask)
    assert second.choices[0].finish_reason == "stop", second
    assert second.choices[0].message.content == "echo: 18C and sunny", second
    sent = [json.loads(r["body"]) for r in fake.requests()]
    assert len(sent) == 2, sent
    assert sent[0]["tools"][0]["input_schema"] == WEATHER["parameters"], sent[0]["tools"]
    assert sent[1]["messages"][1]["content"][-1] == {
        "type": "tool_use", "id": call.id, "name": "get_weather", "input": {"city": ""}
    }, sent[1]["messages"]
    assert sent[1]["messages"][2]["content"] == [
        {"type": "tool_result", "tool_use_id": call.id, "content": "18C and sunny"}
    ], sent[1]["messages"]


@test
def streamed_tool_calls_accumulate_in_the_sdks_stream_helper(s, fake):
    tool = {"type": "function", "function": dict(WEATHER, strict=True)}
    with client(s).chat.completions.stream(
        model="auto",
        max_tokens=64,
        metadata={"task": "debug"},
        messages=[{"role": "user", "content": "Call get_weather for Paris."}],
        tools=[tool],
        tool_choice="required",
        parallel_tool_calls=False,
    ) as stream:
        final = stream.get_final_completion()
    choice = final.choices[0]
    assert choice.finish_reason == "tool_calls", choice
    (call,) = choice.message.tool_calls
    assert call.function.name == "get_weather" and call.function.parsed_arguments == {"city": ""}, call
    assert not choice.message.content, "a forced call has no text"
    sent = [json.loads(r["body"]) for r in fake.requests()]
    assert sent[0]["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}, sent[0]


def claude(server):
    """The official `anthropic` SDK pointed at hearth, as Claude clients are."""
    return Anthropic(base_url=server.url, api_key=API_KEY, max_retries=0, timeout=300)


@test
def messages_auto_keeps_an_easy_task_local(s, fake):
    raw = claude(s).messages.with_raw_response.create(
        model="auto",
        max_tokens=16,
        system="Answer with one word.",
        messages=[{"role": "user", "content": "Sentiment of 'arrived broken': positive or negative?"}],
        extra_headers={"x-hearth-task": "classify"},
    )
    assert routed(raw) == ("local-coder", "task", 0.0), routed(raw)
    msg = raw.parse()
    assert msg.type == "message" and msg.content[0].type == "text" and msg.content[0].text, msg
    assert msg.model_extra["hearth"]["route"] == "local-coder", msg.model_extra
    assert fake.requests() == [], "a local answer must not call the remote"


@test
def messages_with_a_claude_model_id_pass_through_to_the_remote(s, fake):
    text = "Plan a migration of our billing service to event sourcing."
    raw = claude(s).messages.with_raw_response.create(
        model="claude-haiku-4-5",
        max_tokens=64,
        system="You are a staff engineer.",
        stop_sequences=["END"],
        metadata={"user_id": "u-42"},
        messages=[{"role": "user", "content": text}],
    )
    route, reason, cost = routed(raw)
    assert (route, reason) == ("claude", "explicit") and cost > 0, (route, reason, cost)
    assert raw.headers["request-id"].startswith("req_"), dict(raw.headers)
    msg = raw.parse()
    assert msg.content[0].text == "echo: " + text, msg
    assert msg.usage.input_tokens > 0 and msg.usage.output_tokens > 0, msg.usage
    sent = fake.requests()
    assert len(sent) == 1, sent
    req = json.loads(sent[0]["body"])
    assert req["model"] == "claude-haiku-4-5" and req["max_tokens"] == 64, req
    assert req["system"] == "You are a staff engineer." and req["stop_sequences"] == ["END"], req
    assert req["metadata"] == {"user_id": "u-42"}, req


@test
def messages_stream_from_the_remote_in_anthropics_events(s, fake):
    text = "Debug why the cron job runs twice."
    with claude(s).messages.stream(
        model="auto",
        max_tokens=64,
        messages=[{"role": "user", "content": text}],
        extra_headers={"x-hearth-task": "debug"},
    ) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert "".join(pieces) == "echo: " + text, pieces
    assert final.stop_reason == "end_turn" and final.usage.output_tokens > 0, final
    sent = fake.requests()
    assert len(sent) == 1 and json.loads(sent[0]["body"]).get("stream") is True, sent


@test
def messages_tool_use_streams_back_as_the_sdk_expects(s, fake):
    tools = [{"name": "get_weather", "description": "The weather", "input_schema": WEATHER["parameters"]}]
    with claude(s).messages.stream(
        model="claude-haiku-4-5",
        max_tokens=64,
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=tools,
        tool_choice={"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True},
    ) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use", final
    (block,) = final.content
    assert block.type == "tool_use" and block.name == "get_weather" and block.input == {"city": ""}, block
    sent = [json.loads(r["body"]) for r in fake.requests()]
    assert sent[0]["tools"] == tools and sent[0]["tool_choice"]["disable_parallel_tool_use"] is True, sent[0]


def budget_is_a_429_naming_the_cap(hearth, model, fake):
    """A daily cap of $0.000001: the first remote call spends past it, the next is refused."""
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as f:
        f.write(config(model, fake.url, daily_usd=0.000001))
    try:
        with HearthServer(hearth, None, config=f.name) as s:
            first = auto(s, "plan", "Plan a small garden.")
            assert routed(first)[0] == "claude", routed(first)
            try:
                auto(s, "plan", "Plan a bigger garden.")
                raise AssertionError("the second remote call must be refused")
            except openai.RateLimitError as e:
                assert "daily" in str(e).lower() and "budget" in str(e).lower(), str(e)
                assert e.response.headers["x-hearth-reason"] == "budget", dict(e.response.headers)
            assert len(fake.requests()) == 1
            assert s.stop() == 0
    finally:
        os.unlink(f.name)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hearth", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--fake-anthropic", required=True)
    args = ap.parse_args()
    os.environ["FAKE_ANTHROPIC_API_KEY"] = FAKE_KEY
    failed = []
    with FakeAnthropic(args.fake_anthropic) as fake:
        fake.requests()
        with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as f:
            f.write(config(args.model, fake.url))
        try:
            with HearthServer(args.hearth, None, config=f.name) as s:
                failed += run_tests(s, TESTS, fake)
        finally:
            os.unlink(f.name)
        try:
            budget_is_a_429_naming_the_cap(args.hearth, args.model, fake)
            print("ok    budget_is_a_429_naming_the_cap", flush=True)
        except Exception:
            import traceback

            failed.append("budget_is_a_429_naming_the_cap")
            print(f"FAIL  budget_is_a_429_naming_the_cap\n{traceback.format_exc()}", flush=True)
    total = len(TESTS) + 1
    print(f"\n{total - len(failed)} passed, {len(failed)} failed" + (f": {', '.join(failed)}" if failed else ""))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
