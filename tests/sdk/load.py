"""Load run: many concurrent streaming clients on a few slots (not a test of speed).

    python tests/sdk/load.py --hearth target/release/hearth --model qwen.gguf [--clients 32 --slots 4]

First each distinct prompt runs alone (greedy), which gives the single-client speed and the
reference texts; then all clients stream at once. Every concurrent stream must end with
finish_reason "length", report the asked-for tokens in its usage chunk, and produce exactly
the text its prompt produced alone (batching must not change greedy output). Prints
aggregate tokens/s against a single client; exits non-zero if any stream was wrong.
"""

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from openai import OpenAI

from harness import API_KEY, HearthServer

TOPICS = ["the sea", "a robot", "autumn", "a lighthouse", "coffee", "a lost key", "the moon", "a train"]


def stream_one(url, prompt, max_tokens):
    """(text, completion_tokens, finish_reason, chunks, seconds) of one streamed chat request."""
    cl = OpenAI(base_url=url + "/v1", api_key=API_KEY, max_retries=0, timeout=600)
    t0 = time.time()
    text, usage, finish, chunks, role = [], None, None, 0, None
    for ch in cl.chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": prompt}],
        temperature=0,
        max_tokens=max_tokens,
        stream=True,
        stream_options={"include_usage": True},
        extra_body={"ignore_eos": True},
    ):
        chunks += 1
        if ch.usage is not None:
            usage = ch.usage
        for c in ch.choices:
            role = role or c.delta.role
            text.append(c.delta.content or "")
            finish = c.finish_reason or finish
    assert role == "assistant", "the first chunk carries the role"
    return "".join(text), usage.completion_tokens if usage else 0, finish, chunks, time.time() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hearth", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--slots", type=int, default=4)
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    prompts = [f"Write a story about {TOPICS[i % len(TOPICS)]}." for i in range(args.clients)]
    extra = ["--threads", str(args.threads)] if args.threads else []
    with HearthServer(args.hearth, args.model, "--parallel", str(args.slots), "--max-queue", str(args.clients), "--ctx-size", "1024", *extra) as s:
        # Warm up (page in the weights), then one client alone per distinct prompt.
        stream_one(s.url, "Hello", 8)
        reference, solo_tokens, solo_time = {}, 0, 0.0
        for p in dict.fromkeys(prompts):
            text, n, finish, _, dt = stream_one(s.url, p, args.tokens)
            reference[p] = text
            solo_tokens += n
            solo_time += dt
        solo_rate = solo_tokens / solo_time

        t0 = time.time()
        with ThreadPoolExecutor(max_workers=args.clients) as pool:
            results = list(pool.map(lambda p: stream_one(s.url, p, args.tokens), prompts))
        wall = time.time() - t0

        bad, other = [], []
        for i, (p, (text, n, finish, chunks, dt)) in enumerate(zip(prompts, results)):
            if finish != "length" or n != args.tokens or text != reference[p]:
                bad.append(f"client {i}: finish={finish} tokens={n} same_text={text == reference[p]}")
        total = sum(r[1] for r in results)
        latencies = sorted(r[4] for r in results)
        status, health = s.health()
        if health.get("slots_busy") != 0 or health.get("queued") != 0:
            other.append(f"slots or queue not empty after the run: {health}")
        code = s.stop()
        if code != 0:
            other.append(f"exit code {code} after SIGTERM")

    print(f"single client : {solo_rate:6.1f} tokens/s ({solo_tokens} tokens, {len(reference)} requests one at a time)")
    print(f"{args.clients} clients    : {total / wall:6.1f} tokens/s aggregate ({total} tokens in {wall:.1f}s on {args.slots} slots)")
    print(f"speed-up      : {total / wall / solo_rate:6.2f}x")
    print(f"request time  : p50 {latencies[len(latencies) // 2]:.1f}s, max {latencies[-1]:.1f}s (queueing included)")
    print(f"correct       : {args.clients - len(bad)}/{args.clients} streams complete, with the single-client text")
    for b in bad + other:
        print("  " + b)
    sys.exit(1 if bad or other else 0)


if __name__ == "__main__":
    main()
