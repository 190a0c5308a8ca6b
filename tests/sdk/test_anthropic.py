"""hearth serve's Anthropic Messages API, driven by the official `anthropic` Python SDK (pinned
in requirements.txt), as a client written for Claude would use it with only the base URL
changed.

Run by `cargo xtask sdk-test` after test_openai.py:

    python tests/sdk/test_anthropic.py --hearth target/release/hearth --model qwen.gguf

Expected outputs are never constants: greedy texts are compared between requests (streamed
against whole, stop sequences against the free answer), token counts between endpoints.
"""

import argparse
import sys

import anthropic
from anthropic import Anthropic

from harness import API_KEY, HearthServer, run_tests

CTX = 2048
QUESTION = [{"role": "user", "content": "Name three primary colors, comma separated."}]

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def client(server, **kw):
    return Anthropic(base_url=server.url, api_key=kw.pop("api_key", API_KEY), max_retries=0, timeout=300, **kw)


def ask(s, **kw):
    args = dict(model="local", max_tokens=24, extra_body={"temperature": 0}, messages=QUESTION)
    args.update(kw)
    return client(s).messages.create(**args)


@test
def messages_non_streaming(s, model_id):
    raw = client(s).messages.with_raw_response.create(model="local", max_tokens=24, extra_body={"temperature": 0}, messages=QUESTION)
    assert raw.headers["x-hearth-route"] == model_id, dict(raw.headers)
    assert raw.headers["x-hearth-reason"] == "explicit"
    assert raw.headers["request-id"].startswith("req_")
    m = raw.parse()
    assert isinstance(m, anthropic.types.Message)
    assert m.id.startswith("msg_") and m.type == "message" and m.role == "assistant", m
    assert m.model == model_id
    assert len(m.content) == 1 and m.content[0].type == "text" and m.content[0].text, m.content
    assert m.stop_reason in ("end_turn", "max_tokens"), m.stop_reason
    assert m.usage.input_tokens > 0 and 0 < m.usage.output_tokens <= 24, m.usage
    again = ask(s)
    assert again.content[0].text == m.content[0].text, "greedy decoding must repeat"


@test
def messages_streaming_matches_non_streaming(s, model_id):
    whole = ask(s)
    with client(s).messages.stream(model="local", max_tokens=24, extra_body={"temperature": 0}, messages=QUESTION) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert "".join(pieces) == whole.content[0].text, (pieces, whole.content[0].text)
    assert final.content[0].text == whole.content[0].text
    assert final.stop_reason == whole.stop_reason
    assert final.usage.input_tokens == whole.usage.input_tokens
    assert final.usage.output_tokens == whole.usage.output_tokens
    # The raw events, in the API's order.
    events = client(s).messages.create(model="local", max_tokens=8, extra_body={"temperature": 0}, messages=QUESTION, stream=True)
    kinds = [e.type for e in events]
    assert kinds[:2] == ["message_start", "content_block_start"], kinds
    assert kinds[-3:] == ["content_block_stop", "message_delta", "message_stop"], kinds
    assert set(kinds[2:-3]) <= {"ping", "content_block_delta"}, kinds


@test
def system_prompt_changes_the_answer_and_counts(s, model_id):
    system = "You are a pirate. Answer every question in pirate speech."
    # (Qwen's template puts a default system prompt in when there is none, so compare two
    # system prompts rather than one against none.)
    with_system = client(s).messages.count_tokens(model="local", system=system, messages=QUESTION)
    longer = client(s).messages.count_tokens(model="local", system=system + " Be brief.", messages=QUESTION)
    assert longer.input_tokens > with_system.input_tokens, (with_system, longer)
    m = ask(s, system=system)
    assert m.usage.input_tokens == with_system.input_tokens, (m.usage, with_system)
    blocks = ask(s, system=[{"type": "text", "text": system}])
    assert blocks.content[0].text == m.content[0].text


@test
def stop_sequences_end_the_answer_and_are_named(s, model_id):
    free = ask(s).content[0].text
    words = free.split()
    assert len(words) >= 2, free
    stop = words[1]
    m = ask(s, stop_sequences=["@@never@@", stop])
    assert m.stop_reason == "stop_sequence", m
    assert m.stop_sequence == stop, (m.stop_sequence, stop)
    assert stop not in m.content[0].text and free.startswith(m.content[0].text), (free, m.content[0].text)
    with client(s).messages.stream(
        model="local", max_tokens=24, extra_body={"temperature": 0}, messages=QUESTION, stop_sequences=[stop]
    ) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "stop_sequence" and final.stop_sequence == stop, final
    assert final.content[0].text == m.content[0].text


@test
def max_tokens_stop_reason(s, model_id):
    m = ask(s, max_tokens=2)
    assert m.stop_reason == "max_tokens" and m.usage.output_tokens == 2, m


@test
def errors_map_to_the_sdks_exceptions(s, model_id):
    try:
        ask(s, messages=[{"role": "user", "content": [{"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AA=="}}]}])
        raise AssertionError("an image block was accepted")
    except anthropic.BadRequestError as e:
        assert e.status_code == 400 and e.body["error"]["type"] == "invalid_request_error", e.body
        assert e.request_id and e.request_id.startswith("req_"), e.request_id
        assert "image" in e.message, e.message
    try:
        ask(s, extra_body={"temperature": 1.5})
        raise AssertionError("temperature 1.5 was accepted")
    except anthropic.BadRequestError as e:
        assert "temperature" in e.message, e.message
    try:
        client(s, api_key="sk-wrong").messages.create(model="local", max_tokens=4, messages=QUESTION)
        raise AssertionError("a wrong key was accepted")
    except anthropic.AuthenticationError as e:
        assert e.status_code == 401 and e.body["error"]["type"] == "authentication_error", e.body
    try:
        client(s, api_key="sk-wrong").messages.count_tokens(model="local", messages=QUESTION)
        raise AssertionError("a wrong key was accepted by count_tokens")
    except anthropic.AuthenticationError:
        pass


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
    print(f"\n{total - len(failed)} passed, {len(failed)} failed" + (f": {', '.join(failed)}" if failed else ""))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
