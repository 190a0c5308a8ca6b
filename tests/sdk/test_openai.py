"""hearth serve, driven by the official OpenAI Python SDK (pinned in requirements.txt).

Run by `cargo xtask sdk-test` (and so by `cargo xtask test` and .ci/run):

    python tests/sdk/test_openai.py --hearth target/release/hearth --model qwen.gguf

Expected outputs are never constants: greedy texts are compared between requests, JSON is
validated against the schema that was asked for, metrics are parsed by prometheus_client.
"""

import argparse
import json
import sys
import threading
import time
import traceback

import jsonschema
import openai
from openai import OpenAI
from prometheus_client.parser import text_string_to_metric_families

from harness import API_KEY, HearthServer, run_tests

CTX = 2048
QUESTION = [{"role": "user", "content": "Name three primary colors, comma separated."}]

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def client(server, **kw):
    return OpenAI(base_url=server.url + "/v1", api_key=kw.pop("api_key", API_KEY), max_retries=0, timeout=300, **kw)


@test
def health_is_open_and_ready(s, model_id):
    status, body = s.health()
    assert status == 200 and body["status"] == "ok", body
    assert body["model"] == model_id
    assert s.first_health in (200, 503), s.first_health
    # Without the key only the status is shown.
    status, _, text = s.get("/health")
    assert status == 200 and json.loads(text) == {"status": "ok"}, text


@test
def models_lists_the_served_model(s, model_id):
    ids = [m.id for m in client(s).models.list()]
    assert ids == [model_id], ids
    assert client(s).models.retrieve(model_id).id == model_id


@test
def chat_non_streaming(s, model_id):
    r = client(s).chat.completions.create(model="whatever", messages=QUESTION, temperature=0, max_tokens=24)
    assert r.object == "chat.completion" and r.id.startswith("chatcmpl-")
    assert r.model == model_id
    c = r.choices[0]
    assert c.index == 0 and c.message.role == "assistant"
    assert c.message.content, r
    assert c.finish_reason in ("stop", "length")
    u = r.usage
    assert u.prompt_tokens > 0 and 0 < u.completion_tokens <= 24
    assert u.total_tokens == u.prompt_tokens + u.completion_tokens
    assert u.prompt_tokens_details.cached_tokens >= 0


@test
def chat_streaming_with_usage(s, model_id):
    cl = client(s)
    whole = cl.chat.completions.create(model=model_id, messages=QUESTION, temperature=0, max_tokens=24)
    chunks = list(
        cl.chat.completions.create(
            model=model_id,
            messages=QUESTION,
            temperature=0,
            max_tokens=24,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert all(ch.object == "chat.completion.chunk" for ch in chunks)
    assert len({ch.id for ch in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    usage_chunk = chunks[-1]
    assert usage_chunk.choices == [] and usage_chunk.usage is not None
    assert usage_chunk.usage.completion_tokens == whole.usage.completion_tokens
    assert usage_chunk.usage.prompt_tokens == whole.usage.prompt_tokens
    # The same prompt again: its prefix came from the cache.
    assert usage_chunk.usage.prompt_tokens_details.cached_tokens > 0
    finals = [ch for ch in chunks if ch.choices and ch.choices[0].finish_reason]
    assert len(finals) == 1 and finals[0].choices[0].finish_reason == whole.choices[0].finish_reason
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert text == whole.choices[0].message.content, (text, whole.choices[0].message.content)


@test
def json_schema_output_validates(s, model_id):
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "age": {"type": "integer", "minimum": 0, "maximum": 150},
            "languages": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
        },
        "required": ["name", "age", "languages"],
        "additionalProperties": False,
    }
    r = client(s).chat.completions.create(
        model=model_id,
        messages=[{"role": "user", "content": "Describe a fictional programmer as JSON."}],
        response_format={"type": "json_schema", "json_schema": {"name": "person", "schema": schema, "strict": True}},
        temperature=0.7,
        seed=3,
        max_tokens=200,
    )
    assert r.choices[0].finish_reason == "stop", r
    value = json.loads(r.choices[0].message.content)
    jsonschema.validate(value, schema)
    obj = client(s).chat.completions.create(
        model=model_id,
        messages=[{"role": "user", "content": "Return a JSON object with the keys name and radius_km for the moon."}],
        response_format={"type": "json_object"},
        temperature=0,
        max_tokens=200,
    )
    assert obj.choices[0].finish_reason == "stop", obj
    assert isinstance(json.loads(obj.choices[0].message.content), dict)


def cut_at(text, stop):
    """What generation with `stop` must return: the text before the stop string."""
    return text[: text.index(stop)]


@test
def stop_sequences(s, model_id):
    cl = client(s)
    prompt = "def fibonacci(n):\n"
    free = cl.completions.create(model=model_id, prompt=prompt, temperature=0, max_tokens=48).choices[0].text
    stop = free[len(free) // 2 : len(free) // 2 + 3]
    assert stop, free
    r = cl.completions.create(model=model_id, prompt=prompt, temperature=0, max_tokens=48, stop=[stop, "@@never@@"])
    assert r.choices[0].text == cut_at(free, stop), (r.choices[0].text, free, stop)
    assert r.choices[0].finish_reason == "stop"

    text = cl.chat.completions.create(model=model_id, messages=QUESTION, temperature=0, max_tokens=24).choices[0].message.content
    stop = text[len(text) // 2 : len(text) // 2 + 2]
    assert stop, text
    r = cl.chat.completions.create(model=model_id, messages=QUESTION, temperature=0, max_tokens=24, stop=stop)
    assert r.choices[0].message.content == cut_at(text, stop), (r.choices[0].message.content, text, stop)
    assert r.choices[0].finish_reason == "stop"


@test
def seed_reproducibility(s, model_id):
    cl = client(s)
    ask = dict(model=model_id, messages=[{"role": "user", "content": "Write a short poem about the sea."}], temperature=1.0, max_tokens=32)
    a = cl.chat.completions.create(seed=1234, **ask).choices[0].message.content
    b = cl.chat.completions.create(seed=1234, **ask).choices[0].message.content
    assert a == b, (a, b)
    others = {cl.chat.completions.create(seed=k, **ask).choices[0].message.content for k in (1, 2, 3)}
    assert others != {a}, "different seeds sample differently"


@test
def logprobs(s, model_id):
    r = client(s).chat.completions.create(model=model_id, messages=QUESTION, temperature=0, max_tokens=8, logprobs=True, top_logprobs=3)
    content = r.choices[0].logprobs.content
    assert len(content) == r.usage.completion_tokens
    for t in content:
        assert t.logprob <= 0 and bytes(t.bytes).decode("utf-8", "replace") == t.token
        assert len(t.top_logprobs) == 3 and t.top_logprobs[0].token == t.token


@test
def schema_mistakes_are_400_and_unknown_formats_warnings(s, model_id):
    for schema in [{"$ref": "#"}, {"type": "string", "pattern": "^a{1000000}$"}]:
        try:
            client(s).chat.completions.create(
                model=model_id,
                messages=QUESTION,
                response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": schema}},
                max_tokens=4,
            )
        except openai.BadRequestError as e:
            assert e.param == "response_format" and "non-verbose" not in e.message, e.body
        else:
            raise AssertionError(f"{schema} accepted")
    schema = {"type": "object", "properties": {"p": {"type": "string", "format": "path"}}, "required": ["p"]}
    raw = client(s).chat.completions.with_raw_response.create(
        model=model_id,
        messages=QUESTION,
        response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": schema}},
        max_tokens=4,
    )
    assert 'unknown format "path" at /properties/p' in raw.headers.get("x-hearth-warning", ""), raw.headers
    raw.parse()


@test
def context_overflow_is_400(s, model_id):
    long = "the quick brown fox jumps over the lazy dog " * 300
    try:
        client(s).chat.completions.create(model=model_id, messages=[{"role": "user", "content": long}], max_tokens=4)
    except openai.BadRequestError as e:
        assert e.status_code == 400
        assert e.code == "context_length_exceeded" and e.param == "messages", e.body
        assert str(CTX) in e.message, e.message
    else:
        raise AssertionError("no error for a prompt longer than the context")


@test
def n_greater_than_one_is_400(s, model_id):
    try:
        client(s).chat.completions.create(model=model_id, messages=QUESTION, n=2)
    except openai.BadRequestError as e:
        assert e.param == "n", e.body
    else:
        raise AssertionError("n=2 accepted")


@test
def wrong_or_missing_key_is_401(s, model_id):
    try:
        client(s, api_key="sk-wrong").models.list()
    except openai.AuthenticationError as e:
        assert e.status_code == 401 and e.code == "invalid_api_key", e.body
    else:
        raise AssertionError("a wrong key was accepted")
    status, headers, body = s.get("/v1/models")
    assert status == 401 and headers.get("www-authenticate") == "Bearer", (status, headers)
    err = json.loads(body)["error"]
    assert set(err) == {"message", "type", "param", "code"} and err["code"] == "invalid_api_key", err


@test
def metrics_parse(s, model_id):
    status, headers, text = s.get("/metrics", key=API_KEY)
    assert status == 200 and headers["content-type"].startswith("text/plain; version=0.0.4")
    assert s.get("/metrics")[0] == 401
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for name in [
        "hearth_requests",
        "hearth_prompt_tokens",
        "hearth_completion_tokens",
        "hearth_queue_depth",
        "hearth_generation_tokens_per_second",
        "hearth_time_to_first_token_seconds",
        "hearth_time_per_output_token_seconds",
    ]:
        assert name in families, (name, sorted(families))
    ok = [x for x in families["hearth_requests"].samples if x.labels.get("endpoint") == "/v1/chat/completions" and x.labels.get("status") == "200"]
    assert ok and ok[0].value >= 1
    assert families["hearth_completion_tokens"].samples[0].value > 0
    ttft = {x.name: x.value for x in families["hearth_time_to_first_token_seconds"].samples if not x.labels}
    assert ttft["hearth_time_to_first_token_seconds_count"] >= 1


def queue_full_is_503(hearth, model):
    """A second server with one slot and a queue of one: the third request is refused."""
    with HearthServer(hearth, model, "--parallel", "1", "--max-queue", "1", "--ctx-size", "512") as s:
        cl = client(s)
        a = cl.chat.completions.create(
            model="m", messages=QUESTION, max_tokens=400, stream=True, extra_body={"ignore_eos": True}
        )
        next(iter(a))  # A holds the slot
        b_result = {}

        def run_b():
            try:
                # ignore_eos: sampled at the default temperature, the answer could otherwise end
                # after one token, and this test is about the queue, not the length.
                b_result["r"] = client(s).chat.completions.create(
                    model="m", messages=QUESTION, max_tokens=2, extra_body={"ignore_eos": True}
                )
            except Exception as e:  # reported by the assertion below
                b_result["e"] = e

        b = threading.Thread(target=run_b)
        b.start()
        deadline = time.time() + 60
        while s.health()[1].get("queued") != 1:
            assert time.time() < deadline, "B never queued"
            time.sleep(0.02)
        try:
            cl.chat.completions.create(model="m", messages=QUESTION, max_tokens=2)
        except openai.APIStatusError as e:
            assert e.status_code == 503, e
            assert e.response.headers.get("retry-after") == "1", e.response.headers
            assert e.code == "queue_full", e.body
        else:
            raise AssertionError("a third request was accepted with a full queue")
        # Closing A's stream (a client disconnect) frees the slot for B.
        a.close()
        b.join(120)
        assert "r" in b_result, b_result
        assert b_result["r"].usage.completion_tokens == 2, b_result["r"]
        deadline = time.time() + 60
        while s.health()[1].get("slots_busy") != 0:
            assert time.time() < deadline, "the disconnected stream kept its slot"
            time.sleep(0.02)
        assert s.stop() == 0, "graceful shutdown on SIGTERM"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hearth", required=True)
    ap.add_argument("--model", required=True)
    args = ap.parse_args()
    failed = []
    with HearthServer(args.hearth, args.model, "--parallel", "2", "--ctx-size", str(CTX)) as s:
        model_id = s.health()[1]["model"]
        failed += run_tests(s, TESTS, model_id)
    t0 = time.time()
    try:
        queue_full_is_503(args.hearth, args.model)
        print(f"ok    queue_full_is_503 ({time.time() - t0:.1f}s)")
    except Exception:
        failed.append("queue_full_is_503")
        print(f"FAIL  queue_full_is_503\n{traceback.format_exc()}")
    total = len(TESTS) + 1
    print(f"\n{total - len(failed)} passed, {len(failed)} failed" + (f": {', '.join(failed)}" if failed else ""))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
