"""Decodes a Datadog agent payload with python3-msgpack (a decoder otelc did not write) and
prints it in a canonical, type-tagged text form for the C tests to check.

    python3 dd_decode.py v0.4|v0.5|raw FILE

Output, one item per line:
    TRACES <number of chunks>
    SPAN <chunk index> <json>     (v0.4 and v0.5: the span as a v0.4-style map; v0.5 string
                                   indexes are resolved through the string table)
    VALUE <json>                  (raw: the whole decoded object)
    ERROR <text>                  (a schema violation: the C test fails on any)
Values are tagged: "i:<int>", "f:<float repr>", "s:<text>", "x:<hex bytes>", "b:true" (map keys that
are strings stay untagged); JSON
is printed with sorted keys and no spaces so tests can look for exact substrings.
"""
import json
import sys

import msgpack

errors = []


def err(msg):
    errors.append(msg)


def tag(o):
    if isinstance(o, bool):
        return "b:" + ("true" if o else "false")
    if isinstance(o, int):
        return "i:%d" % o
    if isinstance(o, float):
        return "f:%r" % o
    if isinstance(o, str):
        return "s:" + o
    if isinstance(o, bytes):
        return "x:" + o.hex()
    if o is None:
        return "nil"
    if isinstance(o, list):
        return [tag(x) for x in o]
    if isinstance(o, dict):
        return {(k if isinstance(k, str) else str(tag(k))): tag(v) for k, v in o.items()}
    return "?:" + repr(o)


def dump(o):
    return json.dumps(o, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


U64 = (0, 2**64 - 1)
I64 = (-(2**63), 2**63 - 1)


def check_int(name, v, lo, hi):
    if isinstance(v, bool) or not isinstance(v, int):
        err("%s is %s, not an integer" % (name, type(v).__name__))
    elif not lo <= v <= hi:
        err("%s = %d out of range" % (name, v))


def check_span_v04(s, where):
    if not isinstance(s, dict):
        err("%s: span is %s, not a map" % (where, type(s).__name__))
        return None
    for k in ("service", "name", "resource", "type"):
        if not isinstance(s.get(k), str):
            err("%s: %s missing or not a str" % (where, k))
    for k in ("trace_id", "span_id", "parent_id"):
        check_int(where + "." + k, s.get(k), *U64)
    for k in ("start", "duration"):
        check_int(where + "." + k, s.get(k), *I64)
    check_int(where + ".error", s.get("error"), 0, 1)
    meta = s.get("meta")
    if not isinstance(meta, dict):
        err("%s: meta missing or not a map" % where)
    else:
        for k, v in meta.items():
            if not isinstance(k, str) or not isinstance(v, str):
                err("%s: meta %r: %r is not str->str" % (where, k, v))
    metrics = s.get("metrics")
    if not isinstance(metrics, dict):
        err("%s: metrics missing or not a map" % where)
    else:
        for k, v in metrics.items():
            if not isinstance(k, str) or not isinstance(v, float):
                err("%s: metrics %r: %r is not str->float64" % (where, k, v))
    for link in s.get("span_links", []):
        for k in ("trace_id", "span_id"):
            check_int(where + ".span_links." + k, link.get(k), *U64)
        if "flags" in link:
            check_int(where + ".span_links.flags", link["flags"], 0, 2**32 - 1)
            if not link["flags"] & (1 << 31):
                err("%s: span link flags without bit 31" % where)
    for i, ev in enumerate(s.get("span_events", [])):
        check_event(ev, "%s.span_events[%d]" % (where, i))
    return s


VALUE_KEYS = {0: "string_value", 1: "bool_value", 2: "int_value", 3: "double_value", 4: "array_value"}
VALUE_TYPES = {0: str, 1: bool, 2: int, 3: float}


def check_attr_value(v, where, scalar_only):
    # The agent's AttributeAnyValue (AttributeArrayValue for array items: no nested arrays).
    if not isinstance(v, dict) or not isinstance(v.get("type"), int):
        err("%s: %r is not a typed attribute value" % (where, v))
        return
    t = v["type"]
    if t not in VALUE_KEYS or (scalar_only and t == 4):
        err("%s: bad type %r" % (where, t))
        return
    if set(v) != {"type", VALUE_KEYS[t]}:
        err("%s: keys %r for type %d" % (where, sorted(v), t))
        return
    x = v[VALUE_KEYS[t]]
    if t == 4:
        if not isinstance(x, dict) or set(x) != {"values"} or not isinstance(x["values"], list):
            err("%s: array_value %r is not {values: [...]}" % (where, x))
            return
        for i, item in enumerate(x["values"]):
            check_attr_value(item, "%s[%d]" % (where, i), True)
    elif t == 2:
        check_int(where, x, *I64)
    elif not isinstance(x, VALUE_TYPES[t]) or (t == 3 and isinstance(x, bool)):
        err("%s: %r is not a %s" % (where, x, VALUE_TYPES[t].__name__))


def check_event(ev, where):
    if not isinstance(ev, dict):
        err("%s: not a map" % where)
        return
    if not isinstance(ev.get("name"), str):
        err("%s: name missing or not a str" % where)
    check_int(where + ".time_unix_nano", ev.get("time_unix_nano"), *U64)
    attrs = ev.get("attributes", {})
    if not isinstance(attrs, dict):
        err("%s: attributes is not a map" % where)
        return
    for k, v in attrs.items():
        if not isinstance(k, str):
            err("%s: attribute key %r is not a str" % (where, k))
        check_attr_value(v, "%s.attributes.%s" % (where, k), False)


FIELDS_V05 = ("service", "name", "resource", "trace_id", "span_id", "parent_id", "start",
              "duration", "error", "meta", "metrics", "type")


def span_from_v05(arr, table, where):
    if not isinstance(arr, list) or len(arr) != 12:
        err("%s: span is not a 12-element array" % where)
        return None

    def s(i, name):
        v = arr[i]
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < len(table):
            err("%s: %s index %r not in the string table" % (where, name, v))
            return ""
        return table[v]

    out = {}
    for i, name in ((0, "service"), (1, "name"), (2, "resource"), (11, "type")):
        out[name] = s(i, name)
    for i, name in ((3, "trace_id"), (4, "span_id"), (5, "parent_id"), (6, "start"),
                    (7, "duration"), (8, "error")):
        out[name] = arr[i]
    meta = {}
    if not isinstance(arr[9], dict):
        err("%s: meta is not a map" % where)
    else:
        for k, v in arr[9].items():
            kk, vv = s_idx(k, table, where), s_idx(v, table, where)
            meta[kk] = vv
    metrics = {}
    if not isinstance(arr[10], dict):
        err("%s: metrics is not a map" % where)
    else:
        for k, v in arr[10].items():
            metrics[s_idx(k, table, where)] = v
    out["meta"] = meta
    out["metrics"] = metrics
    for v in arr:
        if v is None:
            err("%s: nil element" % where)
    return out


def s_idx(v, table, where):
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < len(table):
        err("%s: index %r not in the string table" % (where, v))
        return ""
    return table[v]


def main():
    mode, path = sys.argv[1], sys.argv[2]
    data = open(path, "rb").read()
    try:
        obj = msgpack.unpackb(data, raw=False, strict_map_key=False, use_list=True)
    except Exception as e:  # noqa: BLE001 - any decoder complaint is a test failure
        print("ERROR decode: %s: %s" % (type(e).__name__, e))
        return
    if mode == "raw":
        print("VALUE " + dump(tag(obj)))
    elif mode == "v0.4":
        if not isinstance(obj, list):
            err("payload is not an array")
            obj = []
        print("TRACES %d" % len(obj))
        for ci, chunk in enumerate(obj):
            if not isinstance(chunk, list):
                err("chunk %d is not an array" % ci)
                continue
            for si, span in enumerate(chunk):
                s = check_span_v04(span, "chunk %d span %d" % (ci, si))
                if s is not None:
                    print("SPAN %d %s" % (ci, dump(tag(s))))
    elif mode == "v0.5":
        if not isinstance(obj, list) or len(obj) != 2:
            err("payload is not a 2-element array")
            obj = [[], []]
        table, traces = obj
        if not isinstance(table, list) or not all(isinstance(x, str) for x in table):
            err("string table is not an array of str")
            table = []
        if not table or table[0] != "":
            err("string table does not start with \"\"")
        if len(set(table)) != len(table):
            err("string table has duplicates")
        print("STRINGS %d" % len(table))
        print("TRACES %d" % len(traces))
        for ci, chunk in enumerate(traces):
            for si, arr in enumerate(chunk):
                s = span_from_v05(arr, table, "chunk %d span %d" % (ci, si))
                if s is not None:
                    s = check_span_v04(s, "chunk %d span %d" % (ci, si))
                    print("SPAN %d %s" % (ci, dump(tag(s))))
    for e in errors:
        print("ERROR " + e)


main()
