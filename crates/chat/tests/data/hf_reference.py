#!/usr/bin/env python3
"""Reference renders of llama.cpp's template collection, made the way Hugging Face's
`apply_chat_template` renders them (transformers' `_compile_jinja_template`: a Jinja2
ImmutableSandboxedEnvironment with trim_blocks, lstrip_blocks, loopcontrols, the
`{% generation %}` tag, HF's `tojson`, `raise_exception` and `strftime_now`).

    python3 crates/chat/tests/data/hf_reference.py ~/.cache/hearth/templates \
        > crates/chat/tests/data/templates_hf.json

Each template is rendered twice, without tools (`tools=None`) and with TOOLS. The
conversation, tools, tokens and clock here must match `tests/chat/collection.rs`.
"""
import hashlib
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension
from jinja2.sandbox import ImmutableSandboxedEnvironment

# Must equal collection.rs: CONVERSATION, BOS, EOS, NOW_UNIX.
CONVERSATION = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Hello, who are you?"},
    {"role": "assistant", "content": "I am an assistant. How can I help?"},
    {"role": "user", "content": "Tell me a joke about ümlauts & <tags>."},
]
BOS = "<s>"
EOS = "</s>"
NOW_UNIX = 1721999109  # 2024-07-26T13:05:09Z
# Must equal collection.rs: TOOLS_JSON.
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather for a city, in °C — \"metric\" <units>.",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "City name, e.g. Zürich"},
                    "days": {"type": "integer", "minimum": 1, "maximum": 7, "default": 1.5},
                    "tags": {"type": "array", "items": {"type": "string"}, "enum": [[], {}]},
                },
                "required": ["city"],
            },
        },
    }
]


class AssistantTracker(Extension):
    """HF's `{% generation %}` block: renders its body."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.CallBlock(self.call_method("_render", []), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def strftime_now(fmt):
    return datetime.fromtimestamp(NOW_UNIX, tz=timezone.utc).strftime(fmt)


def render(source, tools):
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[AssistantTracker, jinja2.ext.loopcontrols]
    )
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    template = env.from_string(source)
    return template.render(
        messages=CONVERSATION, tools=tools, documents=None, add_generation_prompt=True, bos_token=BOS, eos_token=EOS
    )


def main():
    folder = Path(sys.argv[1])
    out = {}
    for path in sorted(folder.glob("*.jinja")):
        source = path.read_text(encoding="utf-8")
        entry = {"sha256": hashlib.sha256(source.encode("utf-8")).hexdigest()}
        for scenario, tools in (("plain", None), ("tools", TOOLS)):
            try:
                entry[scenario] = {"rendered": render(source, tools)}
            except Exception as e:  # noqa: BLE001 - any failure is recorded, not raised
                entry[scenario] = {"error": f"{type(e).__name__}: {e}"}
        out[path.name] = entry
    json.dump(out, sys.stdout, indent=1, ensure_ascii=False, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
