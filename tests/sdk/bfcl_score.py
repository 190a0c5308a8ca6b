"""Scoring of BFCL answers: BFCL's function docs as OpenAI tools, the parse check of the
calls a model made, and BFCL's AST match for Python, rule for rule.

The AST match follows bfcl_eval/eval_checker/ast_eval/ast_checker.py of bfcl-eval 2026.3.23
(`simple_function_checker`, `multiple_function_checker` and their helpers, named in each
docstring here); written anew from its rules, not copied.
"""

import json
import re

import jsonschema

# ---------------------------------------------------------------------------------------------
# BFCL function docs -> OpenAI tools
# ---------------------------------------------------------------------------------------------

# BFCL's Python type names -> JSON Schema types. `any` is no constraint at all.
JSON_TYPES = {
    "string": "string",
    "integer": "integer",
    "float": "number",
    "number": "number",
    "boolean": "boolean",
    "bool": "boolean",
    "array": "array",
    "list": "array",
    "tuple": "array",
    "dict": "object",
    "object": "object",
    "any": None,
}

# JSON Schema keywords BFCL's docs use that carry over as they are. `optional` (BFCL's own)
# does not: whether an argument may be left out is what `required` says.
KEPT = ("description", "enum", "default", "format", "minimum", "maximum", "minItems", "maxItems", "required")


def to_schema(doc, closed=False):
    """One BFCL parameter doc (or a function's `parameters`) as JSON Schema. `closed`: objects
    with declared properties take no others (`additionalProperties: false`, what llama.cpp's
    and XGrammar's strict grammars assume when a schema does not say); BFCL's docs do not
    say, so by default extra keys are valid JSON Schema and the grammar allows them."""
    t = doc.get("type", "string")
    if t not in JSON_TYPES:
        raise ValueError(f"unknown BFCL type {t!r} in {doc}")
    schema = {} if JSON_TYPES[t] is None else {"type": JSON_TYPES[t]}
    schema.update({k: doc[k] for k in KEPT if k in doc})
    if "properties" in doc:
        schema["properties"] = {name: to_schema(p, closed) for name, p in doc["properties"].items()}
        if closed:
            schema["additionalProperties"] = False
    if "items" in doc:
        schema["items"] = to_schema(doc["items"], closed)
    return schema


def tool_name(name):
    """OpenAI function names match ^[a-zA-Z0-9_-]{1,64}$: BFCL's dots become underscores, as
    BFCL's own OpenAI handler does (and its checker expects, `convert_func_name`)."""
    return name.replace(".", "_")


def to_tools(functions, closed=False):
    """The question's functions as OpenAI `tools`, and each tool's schema by tool name."""
    tools, schemas = [], {}
    for f in functions:
        name = tool_name(f["name"])
        if name in schemas:
            raise ValueError(f"two functions are named {name!r} once dots become underscores")
        schemas[name] = to_schema(dict(f["parameters"], type="dict"), closed)
        function = {"name": name, "description": f.get("description", ""), "parameters": schemas[name]}
        tools.append({"type": "function", "function": function})
    return tools, schemas


# ---------------------------------------------------------------------------------------------
# Parse: do the calls name offered tools, with arguments valid against their schema?
# ---------------------------------------------------------------------------------------------


def decode(calls, schemas):
    """`calls` is [(name, arguments text)] from the response. Returns ([{name: arguments}],
    None) when every call parses, else (None, why not)."""
    if not calls:
        return None, "no tool call"
    decoded = []
    for name, text in calls:
        if name not in schemas:
            return None, f"unknown function {name!r}"
        try:
            args = json.loads(text)
        except ValueError as e:
            return None, f"arguments of {name} are not JSON ({e}): {text[:200]!r}"
        errors = sorted(jsonschema.Draft202012Validator(schemas[name]).iter_errors(args), key=str)
        if errors:
            return None, f"arguments of {name} fail its schema: {errors[0].message}"
        decoded.append({name: args})
    return decoded, None


# ---------------------------------------------------------------------------------------------
# Accuracy: BFCL's AST checker for Python (ast_checker.py), rule for rule
# ---------------------------------------------------------------------------------------------

# ast_checker.py PYTHON_TYPE_MAPPING: BFCL type -> the Python type the value must have.
PY_TYPES = {
    "string": str,
    "integer": int,
    "float": float,
    "boolean": bool,
    "array": list,
    "tuple": list,
    "dict": dict,
    "any": str,
}

# ast_checker.py PYTHON_NESTED_TYPE_CHECK_LIST: types whose items are type-checked too.
NESTED = ("array", "tuple")


def ok():
    return {"valid": True, "error": ""}


def fail(kind, error):
    return {"valid": False, "kind": kind, "error": error}


def answer_type(candidates):
    """`get_possible_answer_type`: the type of the first candidate that is not "" (the mark
    of an argument that may be left out); None when there is none."""
    return next((type(c) for c in candidates if c != ""), None)


def check_type(param, value, candidates, expected, nested):
    """`type_checker`: (valid, is_variable). A value of the candidates' type rather than the
    declared one is a "variable" (BFCL writes variable names as strings) and is accepted;
    arrays' items are checked one level deep against each list candidate."""
    cand_type = answer_type(candidates)
    is_variable = cand_type is not None and cand_type != expected
    if type(value) is expected:
        if nested is None:
            return True, is_variable
        for cand in candidates:
            # A candidate that is not a list ("" included) does not constrain the items.
            if type(cand) is not list or all(check_type(param, v, cand, nested, None)[0] for v in value):
                return True, is_variable
        return False, is_variable
    if cand_type is not None and type(value) is cand_type:
        return True, True
    return False, is_variable


def standardize(text):
    """`standardize_string`: no spaces or ,./-_*^, lower case, ' as "."""
    return re.sub(r"[ ,./\-_*^]", "", text).lower().replace("'", '"')


def std(v):
    return standardize(v) if type(v) is str else v


def check_string(param, value, candidates):
    """`string_checker`."""
    if standardize(value) in [standardize(c) for c in candidates if type(c) is str]:
        return ok()
    return fail("value_error:string", f"{param}={value!r}, expected one of {candidates}")


def check_list(param, value, candidates):
    """`list_checker`: string items standardized on both sides, order kept."""
    if [std(v) for v in value] in [[std(c) for c in cand] for cand in candidates]:
        return ok()
    return fail("value_error:list", f"{param}={value!r}, expected one of {candidates}")


def check_dict(param, value, candidates):
    """`dict_checker`: every key of the value accepted with an accepted value, every key of
    the candidate present unless "" is among its values. One flat level."""
    result = fail("dict_checker:unclear", f"{param}: no candidate")
    for cand in candidates:
        if cand == "":
            continue
        result = ok()
        for key, v in value.items():
            if key not in cand:
                result = fail("value_error:dict_key", f"{param}: unexpected key {key!r}")
                break
            if std(v) not in [std(c) for c in cand[key]]:
                result = fail("value_error:dict_value", f"{param}[{key!r}]={v!r}, expected one of {cand[key]}")
                break
        if result["valid"]:
            missing = [k for k, vs in cand.items() if k not in value and "" not in vs]
            if missing:
                result = fail("value_error:dict_key", f"{param}: missing key {missing[0]!r}")
        if result["valid"]:
            return result
    return result


def check_list_of_dicts(param, value, candidates):
    """`list_dict_checker`: as many dicts as the candidate, each one accepted in order."""
    result = fail("list_dict_checker:unclear", f"{param}: no candidate")
    for cand in candidates:
        if len(value) != len(cand):
            result = fail("value_error:list_dict_count", f"{param}: {len(value)} dicts, expected {len(cand)}")
            continue
        result = ok()
        for v, c in zip(value, cand):
            result = check_dict(param, v, [c])
            if not result["valid"]:
                break
        if result["valid"]:
            return result
    return result


def check_function(doc, call, expected):
    """`simple_function_checker`: `call` is {name: arguments} from the model, `expected`
    {name: {param: [accepted values]}} from the possible answers, `doc` BFCL's function doc."""
    candidates = next(iter(expected.values()))
    name = tool_name(doc["name"])
    props = doc["parameters"]["properties"]
    if name not in call:
        return fail("wrong_func_name", f"expected {name}, got {next(iter(call))}")
    args = call[name]
    for param in doc["parameters"].get("required", []):
        if param not in args:
            return fail("missing_required", f"missing required {param!r}")
    for param, value in args.items():
        if param not in props or param not in candidates:
            return fail("unexpected_param", f"unexpected {param!r}")
        declared = props[param]["type"]
        expected_type = PY_TYPES[declared]
        nested = PY_TYPES[props[param]["items"]["type"]] if declared in NESTED else None
        # Python would pass an int where a float is declared.
        if declared == "float" and type(value) is int:
            value = float(value)
        valid, is_variable = check_type(param, value, candidates[param], expected_type, nested)
        if not valid:
            return fail("type_error", f"{param}={value!r} is not of type {declared}")
        if not is_variable:
            if expected_type is dict:
                result = check_dict(param, value, candidates[param])
            elif expected_type is list and nested is dict:
                result = check_list_of_dicts(param, value, candidates[param])
            elif expected_type is str:
                result = check_string(param, value, candidates[param])
            elif expected_type is list:
                result = check_list(param, value, candidates[param])
            else:
                result = None
            if result is not None:
                if not result["valid"]:
                    return result
                continue
        if value not in candidates[param]:
            return fail("value_error:others", f"{param}={value!r}, expected one of {candidates[param]}")
    for param, accepted in candidates.items():
        if param not in args and "" not in accepted:
            return fail("missing_optional", f"{param!r} left out but not optional")
    return ok()


def check(category, functions, calls, ground_truth):
    """`ast_checker` for the simple and multiple categories: exactly one call, checked
    against the function the possible answer names (`multiple_function_checker`)."""
    want_n = 1 if category == "simple" else len(ground_truth)
    if len(calls) != want_n:
        return fail("wrong_count", f"{len(calls)} calls, expected {want_n}")
    if category == "simple":
        doc = functions[0]
    else:
        want = next(iter(ground_truth[0]))
        doc = next(f for f in functions if f["name"] == want)
    return check_function(doc, calls[0], ground_truth[0])


def score(category, question, ground_truth, calls, closed=False):
    """One answer, [(name, arguments text)], scored: {"parsed", "correct", "error"}; `closed`
    as the tools were sent (`to_tools`)."""
    _, schemas = to_tools(question["function"], closed)
    decoded, why = decode(calls, schemas)
    if decoded is None:
        return {"parsed": False, "correct": False, "error": why}
    result = check(category, question["function"], decoded, ground_truth)
    return {"parsed": True, "correct": result["valid"], "error": result["error"]}
