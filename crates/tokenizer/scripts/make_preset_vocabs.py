#!/usr/bin/env python3
"""Writes small-PRE.gguf for each pre-tokenizer name given: the gpt-2 vocab cut to its first 8000
tokens plus <|endoftext|> (id 8000), the merges among those tokens, tokenizer.ggml.pre = PRE.
llama.cpp's outputs on these are tests/data/llama.cpp/presets.ref (see the README there);
tests/tokenizer/reference.rs builds the same reduction in memory.

usage: make_preset_vocabs.py NAME...   (reads ~/.cache/hearth/vocab/ggml-vocab-gpt-2.gguf)
"""
import gguf, sys
import os
src = os.path.expanduser('~/.cache/hearth/vocab/ggml-vocab-gpt-2.gguf')
KEEP = 8000
r = gguf.GGUFReader(src)
toks = [bytes(r.fields['tokenizer.ggml.tokens'].parts[i]).decode() for i in r.fields['tokenizer.ggml.tokens'].data]
types = [r.fields['tokenizer.ggml.token_type'].parts[i].tolist()[0] for i in r.fields['tokenizer.ggml.token_type'].data]
merges = [bytes(r.fields['tokenizer.ggml.merges'].parts[i]).decode() for i in r.fields['tokenizer.ggml.merges'].data]
tokens = toks[:KEEP] + ['<|endoftext|>']
ttypes = types[:KEEP] + [3]
kept = set(tokens[:KEEP])
def ok(m):
    l, _, rr = m.partition(' ')
    return l in kept and rr in kept and (l + rr) in kept
small_merges = [m for m in merges if ok(m)]
for name in sys.argv[1:]:
    w = gguf.GGUFWriter(f'small-{name}.gguf', 'gpt2')
    w.add_key_value('general.name', 'gpt-2', gguf.GGUFValueType.STRING)
    w.add_key_value('tokenizer.ggml.model', 'gpt2', gguf.GGUFValueType.STRING)
    w.add_key_value('tokenizer.ggml.pre', name, gguf.GGUFValueType.STRING)
    w.add_array('tokenizer.ggml.tokens', tokens)
    w.add_key_value('tokenizer.ggml.token_type', ttypes, gguf.GGUFValueType.ARRAY, sub_type=gguf.GGUFValueType.INT32)
    w.add_array('tokenizer.ggml.merges', small_merges)
    w.add_key_value('tokenizer.ggml.bos_token_id', KEEP, gguf.GGUFValueType.UINT32)
    w.add_key_value('tokenizer.ggml.eos_token_id', KEEP, gguf.GGUFValueType.UINT32)
    w.write_header_to_file(); w.write_kv_data_to_file(); w.close()
