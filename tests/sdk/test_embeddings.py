"""`POST /v1/embeddings` driven by the official `openai` SDK's `embeddings.create`, on the
all-MiniLM-L6-v2 fixture served beside the chat model (`hearth serve --embedding-model`).

Run by `cargo xtask sdk-test`:

    python tests/sdk/test_embeddings.py --hearth target/release/hearth --model qwen.gguf \
        --embedder all-minilm-l6-v2.gguf [--golden tests/golden/embeddings_all-minilm-l6-v2.json]

With `--golden` (llama.cpp's `llama-embedding` vectors of the same sentences, written by
`cargo xtask embed-goldens`), every vector the endpoint returns must have cosine >= 0.999
with llama.cpp's.
"""

import argparse
import base64
import json
import math
import os
import struct
import sys

import openai
from openai import OpenAI

from harness import API_KEY, HearthServer, run_tests

DIM = 384
ARGS = None


def client(s):
    return OpenAI(base_url=s.url + "/v1", api_key=API_KEY, max_retries=0)


def norm(v):
    return math.sqrt(sum(x * x for x in v))


def cos(a, b):
    return sum(x * y for x, y in zip(a, b)) / (norm(a) * norm(b))


def test_default_request_is_base64_and_decodes_to_unit_vectors(s, name):
    # The SDK asks for base64 when no encoding is given and decodes it itself.
    r = client(s).embeddings.create(model=name, input="The cat sat on the mat.")
    assert r.object == "list" and len(r.data) == 1, r
    v = r.data[0].embedding
    assert len(v) == DIM, len(v)
    assert abs(norm(v) - 1.0) < 1e-4, norm(v)
    assert r.usage.prompt_tokens == r.usage.total_tokens and r.usage.prompt_tokens >= 8, r.usage
    assert r.model == name


def test_float_and_base64_agree_and_batches_keep_order(s, name):
    texts = ["turn on dark mode", "enable the dark theme", "what is the capital of France?"]
    f = client(s).embeddings.create(model=name, input=texts, encoding_format="float")
    b = client(s).embeddings.create(model=name, input=texts, encoding_format="base64")
    assert [d.index for d in f.data] == [0, 1, 2]
    for x, y in zip(f.data, b.data):
        # Asked for explicitly, base64 comes back as the string: little-endian f32.
        raw = base64.b64decode(y.embedding)
        decoded = struct.unpack(f"<{len(raw) // 4}f", raw)
        assert len(decoded) == DIM
        assert max(abs(p - q) for p, q in zip(x.embedding, decoded)) < 1e-6
    # A text's vector does not depend on its batch.
    alone = client(s).embeddings.create(model=name, input=texts[2], encoding_format="float").data[0].embedding
    assert cos(alone, f.data[2].embedding) > 0.99999
    # Paraphrases are closer than unrelated texts.
    close = cos(f.data[0].embedding, f.data[1].embedding)
    far = cos(f.data[0].embedding, f.data[2].embedding)
    print(f"  cosine(paraphrase) {close:.3f}  cosine(unrelated) {far:.3f}")
    assert close > far + 0.2, (close, far)


def test_token_inputs_and_dimensions(s, name):
    c = client(s)
    # [CLS] hello world [SEP] in MiniLM's vocabulary (bert-base-uncased ids).
    ids = [101, 7592, 2088, 102]
    t = c.embeddings.create(model=name, input=ids, encoding_format="float")
    assert t.usage.prompt_tokens == 4 and len(t.data[0].embedding) == DIM
    text = c.embeddings.create(model=name, input="hello world", encoding_format="float")
    assert cos(t.data[0].embedding, text.data[0].embedding) > 0.9999
    two = c.embeddings.create(model=name, input=[ids, ids[:2] + [102]], encoding_format="float")
    assert len(two.data) == 2
    short = c.embeddings.create(model=name, input="hello world", dimensions=64, encoding_format="float")
    v = short.data[0].embedding
    assert len(v) == 64 and abs(norm(v) - 1.0) < 1e-4


def test_errors_are_openai_shaped(s, name):
    c = client(s)
    long_text = "word " * 1000
    try:
        c.embeddings.create(model=name, input=long_text)
        raise AssertionError("an input over the context was accepted")
    except openai.BadRequestError as e:
        assert e.code == "context_length_exceeded", e.body
        assert "512" in e.message, e.message
    r = c.embeddings.create(model=name, input=long_text, extra_body={"truncate": True})
    assert r.usage.prompt_tokens == 512, r.usage
    for bad in ([], "", ["ok", ""]):
        try:
            c.embeddings.create(model=name, input=bad)
            raise AssertionError(f"accepted input {bad!r}")
        except openai.BadRequestError as e:
            assert e.param == "input", e.body
    try:
        c.embeddings.create(model="text-embedding-3-small", input="x")
        raise AssertionError("an unknown model was accepted")
    except openai.NotFoundError as e:
        assert name in e.message, e.message
    try:
        c.embeddings.create(model=name, input=[999999])
        raise AssertionError("an out-of-range token id was accepted")
    except openai.BadRequestError as e:
        assert "vocabulary" in e.message, e.message


def test_listed_in_models(s, name):
    ids = {m.id: m for m in client(s).models.list().data}
    assert name in ids, ids.keys()
    assert ids[name].model_extra["hearth"]["kind"] == "embedding"


def test_matches_llama_cpp(s, name):
    if ARGS.golden is None:
        raise AssertionError("no --golden file given")
    golden = json.load(open(ARGS.golden))
    texts = golden["texts"]
    got = client(s).embeddings.create(model=name, input=texts, encoding_format="float").data
    assert len(got) == len(texts) == len(golden["embeddings"])
    worst = min(cos(g, d.embedding) for g, d in zip(golden["embeddings"], got))
    print(f"  {len(texts)} sentences: min cosine with llama.cpp's llama-embedding {worst:.6f}")
    assert worst >= 0.999, worst


TESTS = [
    test_default_request_is_base64_and_decodes_to_unit_vectors,
    test_float_and_base64_agree_and_batches_keep_order,
    test_token_inputs_and_dimensions,
    test_errors_are_openai_shaped,
    test_listed_in_models,
    test_matches_llama_cpp,
]


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--hearth", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--embedder", required=True, help="the all-MiniLM-L6-v2 GGUF")
    ap.add_argument("--golden", help="llama.cpp's vectors of a sentence set (JSON)")
    ARGS = ap.parse_args()
    name = os.path.basename(ARGS.embedder).removesuffix(".gguf")
    with HearthServer(ARGS.hearth, ARGS.model, "--embedding-model", ARGS.embedder) as s:
        failed = run_tests(s, TESTS, name)
    print(f"{len(TESTS) - len(failed)} passed, {len(failed)} failed" + (f": {', '.join(failed)}" if failed else ""))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
