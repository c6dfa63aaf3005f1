"""scripts/perf-analyze: reads a run saved by scripts/run-benchmarks and compares baseline and
candidate per config: wall time (mean +- stddev, median), change in % and as a factor, a verdict,
and the instruction counts and allocations beside them; optionally per-function callgrind
profiles (top functions, before/after). Output as text, Markdown or JSON.
"""

import argparse
import fnmatch
import json
import os
import sys

import benchlib
from benchlib import BenchError

SORT_KEYS = ("name", "change", "ir-change", "time")

# Profiles leave out functions costing less than this many instructions per operation on both
# sides: start-up and set-up code that the low/high difference cancels to about zero.
NEGLIGIBLE_PER_OP = 0.05


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="perf-analyze",
        description="Compare the baseline and candidate of a scripts/run-benchmarks run "
                    "(see benchmarks/README.md).")
    p.add_argument("dir", nargs="?", default=None, metavar="DIR",
                   help="artifacts folder (its latest run) or one run folder DIR/<run-id> "
                        "(default build/bench-artifacts)")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="machine-readable output")
    fmt.add_argument("--markdown", action="store_true",
                     help="Markdown tables, for a change description")
    p.add_argument("--filter", metavar="S",
                   help="only configs whose scenario/config contains S (a glob if S has * ? [)")
    p.add_argument("--sort", choices=SORT_KEYS,
                   help="table order: name (default); change: wall-time change, worst first; "
                        "ir-change: instruction change, worst first; time: candidate ns/op, "
                        "slowest first. Profiles are ordered by the size of the difference "
                        "unless --sort name")
    p.add_argument("--stat", choices=("median", "mean"), default="median",
                   help="the wall-time statistic the change is computed from (default median)")
    p.add_argument("--profile-top", type=int, metavar="N",
                   help="the N functions with the highest exclusive cost per operation")
    p.add_argument("--profile-compare", action="store_true",
                   help="per-function exclusive cost and calls per operation, baseline vs "
                        "candidate, biggest differences first (top 25 unless --profile-top)")
    p.add_argument("--min-calls", type=int, default=0, metavar="N",
                   help="profiles: leave out functions called fewer than N times in the "
                        "measured iterations (on both sides)")
    p.add_argument("--repo", help=argparse.SUPPRESS)
    return p.parse_args(argv)


# --------------------------------------------------------------------------------------------
# Finding and loading a run

def find_run(path):
    """The run folder for path: path itself when it holds meta.json or scenario results, else
    its most recently updated run."""
    if not os.path.isdir(path):
        raise BenchError(f"{path}: no such folder (run scripts/run-benchmarks first)")
    if os.path.exists(os.path.join(path, "meta.json")):
        return path
    runs = []
    for name in os.listdir(path):
        meta = os.path.join(path, name, "meta.json")
        if os.path.exists(meta):
            try:
                updated = benchlib.load_json(meta).get("updated") or ""
            except (OSError, ValueError):
                updated = ""
            runs.append((updated, os.path.getmtime(meta), name))
    if not runs:
        raise BenchError(f"{path}: no runs (folders with meta.json)")
    runs.sort()
    return os.path.join(path, runs[-1][2])


def load_results(run_dir):
    """{(scenario, config): {"baseline": result or None, "candidate": result or None}}."""
    out = {}
    for scenario in sorted(os.listdir(run_dir)):
        sdir = os.path.join(run_dir, scenario)
        if not os.path.isdir(sdir):
            continue
        for side in benchlib.SIDES:
            d = os.path.join(sdir, side)
            if not os.path.isdir(d):
                continue
            for name in sorted(os.listdir(d)):
                if not (name.startswith("results.") and name.endswith(".json")):
                    continue
                try:
                    res = benchlib.load_json(os.path.join(d, name))
                except (OSError, ValueError) as e:
                    raise BenchError(f"{os.path.join(d, name)}: {e}") from None
                config = res.get("config") or name[len("results."):-len(".json")]
                res["_dir"] = d
                out.setdefault((scenario, config), {s: None for s in benchlib.SIDES})[side] = res
    return out


def matches_filter(name, pattern):
    """Whether "scenario/config" matches --filter: a substring, or an fnmatch glob (where '*'
    also matches '/') when the pattern has * ? or [."""
    if not pattern:
        return True
    if any(c in pattern for c in "*?["):
        return fnmatch.fnmatchcase(name, pattern)
    return pattern in name


# --------------------------------------------------------------------------------------------
# Comparison

def side_stats(res):
    """Wall-time statistics of one side, recomputed from its repetitions."""
    if res is None:
        return None
    values = [float(v) for v in res.get("repetitions") or []]
    st = benchlib.summarize(values)
    return {
        "n": st["n"], "median": st["median"], "mean": st["mean"], "stddev": st["stddev"],
        "min": st["min"], "max": st["max"], "values": values,
        "instructions_per_op": res.get("instructions_per_op"),
        "instructions_spread_pct": (res.get("instructions") or {}).get("spread_pct") or 0.0,
        "extra": res.get("extra") or {},
        "allocs_per_op": res.get("allocs_per_op"),
        "iterations": res.get("iterations"),
        "ops_per_iteration": res.get("ops_per_iteration"),
        "sha": res.get("sha"),
    }


def compare_values(base, cand):
    """{"change_pct", "ratio" (cand / base), "verdict"} for two lower-is-better figures."""
    pct = benchlib.change_pct(base, cand)
    ratio = cand / base if pct is not None else None
    return {"change_pct": pct, "ratio": ratio, "verdict": benchlib.verdict(pct)}


def compare_row(scenario, config, pair, stat="median"):
    b, c = side_stats(pair.get("baseline")), side_stats(pair.get("candidate"))
    row = {"scenario": scenario, "config": config, "name": f"{scenario}/{config}",
           "baseline": b, "candidate": c}
    if b and c and b["n"] and c["n"]:
        wall = compare_values(b[stat], c[stat])
        wall["stat"] = stat
        wall["within_noise"] = benchlib.within_noise(b["values"], c["values"])
        if wall["within_noise"] and wall["verdict"] != "not significant":
            wall["verdict"] += " (within noise)"
        row["wall"] = wall
    else:
        row["wall"] = None
    if b and c and b["instructions_per_op"] is not None and c["instructions_per_op"] is not None:
        row["instructions"] = ins = compare_values(b["instructions_per_op"],
                                                   c["instructions_per_op"])
        # Configs whose callgrind runs scatter (see run-benchmarks --callgrind-runs).
        noise = max(b["instructions_spread_pct"], c["instructions_spread_pct"])
        ins["within_noise"] = noise > 0 and abs(ins["change_pct"]) <= noise
        if ins["within_noise"] and ins["verdict"] != "not significant":
            ins["verdict"] += " (within noise)"
    else:
        row["instructions"] = None
    if b and c and b["allocs_per_op"] is not None and c["allocs_per_op"] is not None:
        row["allocs"] = {"change": c["allocs_per_op"] - b["allocs_per_op"]}
    else:
        row["allocs"] = None
    if b is None:
        row["note"] = "candidate only (new)"
    elif c is None:
        row["note"] = "baseline only"
    return row


def analyze(run_dir, stat="median", pattern=None, sort="name"):
    """Everything perf-analyze reports for one run, as plain data."""
    meta = {}
    meta_path = os.path.join(run_dir, "meta.json")
    if os.path.exists(meta_path):
        meta = benchlib.load_json(meta_path)
    rows = []
    for (scenario, config), pair in load_results(run_dir).items():
        name = f"{scenario}/{config}"
        if matches_filter(name, pattern):
            row = compare_row(scenario, config, pair, stat)
            row["_pair"] = pair
            rows.append(row)
    rows.sort(key=sort_key(sort))
    return {"run_dir": run_dir, "run_id": meta.get("run_id", os.path.basename(run_dir)),
            "meta": meta, "rows": rows}


def sort_key(sort):
    def worst(value):
        return -value if value is not None else float("inf")

    if sort == "change":
        return lambda r: (worst((r["wall"] or {}).get("change_pct")), r["name"])
    if sort == "ir-change":
        return lambda r: (worst((r["instructions"] or {}).get("change_pct")), r["name"])
    if sort == "time":
        return lambda r: (worst((r["candidate"] or {}).get("median")), r["name"])
    return lambda r: r["name"]


# --------------------------------------------------------------------------------------------
# Profiles

def side_profile(res):
    """Per-function cost per operation of one side, from its low/high callgrind profiles, or
    None when the run kept no profiles (run-benchmarks --profile)."""
    if not res or not res.get("profile") or not res.get("instructions"):
        return None
    d = res["_dir"]
    low = os.path.join(d, res["profile"]["low"])
    high = os.path.join(d, res["profile"]["high"])
    if not (os.path.exists(low) and os.path.exists(high)):
        return None
    ins = res["instructions"]
    lo_it, hi_it = ins["iterations"]
    ops = (hi_it - lo_it) * max(1, int(ins.get("ops_per_iteration") or 1))
    return benchlib.profile_per_op(benchlib.parse_callgrind(low), benchlib.parse_callgrind(high),
                                   ops)


def profile_top(prof, n, min_calls=0):
    """The n functions with the highest exclusive cost per operation."""
    total = sum(max(0.0, f["self"]) for f in prof.values()) or 1.0
    items = [(name, f) for name, f in prof.items()
             if f["self"] >= NEGLIGIBLE_PER_OP and f["total_calls"] >= min_calls]
    items.sort(key=lambda kv: (-kv[1]["self"], kv[0]))
    return [{"function": name, "self_per_op": f["self"], "share_pct": f["self"] / total * 100,
             "inclusive_per_op": f["inclusive"], "calls_per_op": f["calls"],
             "calls": f["total_calls"]} for name, f in items[:n]]


def profile_compare(base, cand, n=None, min_calls=0, sort="change"):
    """Per-function before/after: exclusive cost and calls per operation, sorted by the size of
    the difference (or by name)."""
    rows = []
    for name in set(base) | set(cand):
        b, c = base.get(name), cand.get(name)
        calls = max(b["total_calls"] if b else 0, c["total_calls"] if c else 0)
        if calls < min_calls:
            continue
        bs = b["self"] if b else 0.0
        cs = c["self"] if c else 0.0
        if abs(bs) < NEGLIGIBLE_PER_OP and abs(cs) < NEGLIGIBLE_PER_OP:
            continue
        pct = benchlib.change_pct(bs, cs) if abs(bs) >= NEGLIGIBLE_PER_OP else None
        rows.append({"function": name, "baseline_self_per_op": bs, "candidate_self_per_op": cs,
                     "diff_per_op": cs - bs, "change_pct": pct,
                     "baseline_calls_per_op": b["calls"] if b else 0.0,
                     "candidate_calls_per_op": c["calls"] if c else 0.0,
                     "status": "new" if b is None else "gone" if c is None else ""})
    if sort == "name":
        rows.sort(key=lambda r: r["function"])
    else:
        # Biggest difference first (to 0.1 instruction, so rounding noise does not reorder),
        # then the most expensive.
        rows.sort(key=lambda r: (-round(abs(r["diff_per_op"]), 1),
                                 -max(r["baseline_self_per_op"], r["candidate_self_per_op"]),
                                 r["function"]))
    return rows[:n] if n else rows


def add_profiles(report, top, compare, min_calls, sort):
    any_profile = False
    for row in report["rows"]:
        pair = row["_pair"]
        bp, cp = side_profile(pair.get("baseline")), side_profile(pair.get("candidate"))
        if bp is None and cp is None:
            continue
        any_profile = True
        prof = {}
        if top:
            prof["top"] = {side: profile_top(p, top, min_calls)
                           for side, p in (("baseline", bp), ("candidate", cp)) if p is not None}
        if compare and bp is not None and cp is not None:
            prof["compare"] = profile_compare(bp, cp, top or 25, min_calls,
                                              "name" if sort == "name" else "change")
        row["profile"] = prof
    if not any_profile:
        report.setdefault("warnings", []).append(
            "no callgrind profiles in this run (run scripts/run-benchmarks --profile)")


# --------------------------------------------------------------------------------------------
# Rendering

def fmt_num(v, digits=1):
    if v is None:
        return "-"
    if abs(v) >= 100000:
        return f"{v:,.0f}"
    return f"{v:,.{digits}f}"


def fmt_mean_sd(st):
    if not st or not st["n"]:
        return "-"
    return f"{fmt_num(st['mean'])} ± {fmt_num(st['stddev'])}"


def fmt_change(cmp):
    if not cmp or cmp.get("change_pct") is None:
        return "-"
    pct, ratio = cmp["change_pct"], cmp["ratio"]
    return f"{pct:+.1f}% ({ratio:.2f}×)"


def fmt_ir(st):
    """Instructions per op, with the scatter of its callgrind runs when there is any."""
    if not st or st["instructions_per_op"] is None:
        return "-"
    spread = st.get("instructions_spread_pct") or 0.0
    return fmt_num(st["instructions_per_op"]) + (f" ±{spread / 2:.0f}%" if spread >= 1 else "")


def fmt_allocs(row):
    b, c = row["baseline"], row["candidate"]
    bv = b["allocs_per_op"] if b else None
    cv = c["allocs_per_op"] if c else None
    if bv is None and cv is None:
        return "-"
    if bv is None or cv is None:
        return fmt_num(cv if bv is None else bv, 2)
    if abs(bv - cv) < 1e-6:
        return fmt_num(cv, 2)
    return f"{fmt_num(bv, 2)} → {fmt_num(cv, 2)}"


COLUMNS = ("config", "baseline ns/op", "med", "candidate ns/op", "med", "time change",
           "time verdict", "Ir/op base", "Ir/op cand", "Ir change", "Ir verdict", "allocs/op")


def table_rows(report):
    out = []
    for row in report["rows"]:
        b, c = row["baseline"], row["candidate"]
        wall, ins = row["wall"], row["instructions"]
        out.append((
            row["name"] + (f" [{row['note']}]" if row.get("note") else ""),
            fmt_mean_sd(b), fmt_num(b["median"]) if b and b["n"] else "-",
            fmt_mean_sd(c), fmt_num(c["median"]) if c and c["n"] else "-",
            fmt_change(wall), wall["verdict"] if wall else "-",
            fmt_ir(b), fmt_ir(c),
            fmt_change(ins), ins["verdict"] if ins else "-",
            fmt_allocs(row),
        ))
    return out


def aligned(head, rows):
    widths = [max(len(r[i]) for r in [head] + rows) for i in range(len(head))]

    def fmt(r):
        return "  ".join(r[i].ljust(widths[i]) if i == 0 else r[i].rjust(widths[i])
                         for i in range(len(r))).rstrip()
    return [fmt(head), fmt(tuple("-" * w for w in widths))] + [fmt(r) for r in rows]


def markdown_table(head, rows):
    esc = [tuple(cell.replace("|", "\\|") for cell in r) for r in [head] + rows]
    lines = ["| " + " | ".join(esc[0]) + " |",
             "|" + "|".join("---" if i == 0 else "---:" for i in range(len(head))) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in esc[1:]]
    return lines


def header_lines(report):
    meta = report["meta"]
    sides = meta.get("sides", {})
    b, c = sides.get("baseline", {}), sides.get("candidate", {})

    def desc(s):
        sha = (s.get("sha") or "")[:12]
        return f"{s.get('ref', '?')}" + (f" ({sha})" if sha else "")
    lines = [f"run {report['run_id']}: baseline {desc(b)} vs candidate {desc(c)}"]
    mach = meta.get("machine") or {}
    comp = (c.get("compiler") or b.get("compiler") or {}).get("version")
    bits = [x for x in (mach.get("cpu"), f"{mach.get('cpus')} CPUs" if mach.get("cpus") else None,
                        comp) if x]
    if bits:
        lines.append("machine: " + "; ".join(bits))
    return lines


def profile_lines(report, markdown):
    lines = []
    for row in report["rows"]:
        prof = row.get("profile")
        if not prof:
            continue
        for side, top in prof.get("top", {}).items():
            lines += ["", f"{'### ' if markdown else ''}{row['name']} {side}: top functions "
                      "(exclusive instructions per op)"]
            head = ("function", "self Ir/op", "share", "incl Ir/op", "calls/op")
            body = [(t["function"], fmt_num(t["self_per_op"]), f"{t['share_pct']:.1f}%",
                     fmt_num(t["inclusive_per_op"]), fmt_num(t["calls_per_op"], 3))
                    for t in top]
            lines += markdown_table(head, body) if markdown else aligned(head, body)
        if "compare" in prof:
            lines += ["", f"{'### ' if markdown else ''}{row['name']}: per-function change "
                      "(exclusive instructions and calls per op)"]
            head = ("function", "base Ir/op", "cand Ir/op", "diff", "change", "calls/op base",
                    "calls/op cand")
            body = []
            for r in prof["compare"]:
                change = "-" if r["change_pct"] is None else f"{r['change_pct']:+.1f}%"
                if r["status"]:
                    change = r["status"]
                body.append((r["function"], fmt_num(r["baseline_self_per_op"]),
                             fmt_num(r["candidate_self_per_op"]), f"{r['diff_per_op']:+,.1f}",
                             change, fmt_num(r["baseline_calls_per_op"], 3),
                             fmt_num(r["candidate_calls_per_op"], 3)))
            lines += markdown_table(head, body) if markdown else aligned(head, body)
    return lines


def notes_lines(report):
    notes = list(report["meta"].get("notes", [])) + report.get("warnings", [])
    return ["", "notes:"] + [f"  - {n}" for n in notes] if notes else []


def legend(report, stat):
    return [f"time change: candidate vs baseline {stat} (×: candidate / baseline); verdict: "
            f"under {benchlib.NOT_SIGNIFICANT_PCT:g}% not significant, "
            f"{benchlib.NOT_SIGNIFICANT_PCT:g}-{benchlib.SMALL_PCT:g}% small, over "
            f"{benchlib.SMALL_PCT:g}% REGRESSION / improvement; Ir/op = instructions per "
            "operation (callgrind, main thread)"]


def render_text(report, stat="median"):
    lines = header_lines(report)
    if not report["rows"]:
        lines.append("no results")
    else:
        lines += [""] + aligned(COLUMNS, table_rows(report)) + [""] + legend(report, stat)
    lines += profile_lines(report, markdown=False)
    lines += notes_lines(report)
    return "\n".join(lines)


def render_markdown(report, stat="median"):
    lines = ["#### Benchmarks: " + header_lines(report)[0]]
    lines += [""] + markdown_table(COLUMNS, table_rows(report))
    lines += [""] + ["_" + legend(report, stat)[0] + "_"]
    lines += profile_lines(report, markdown=True)
    lines += notes_lines(report)
    return "\n".join(lines)


def render_json(report):
    def clean(row):
        out = {k: v for k, v in row.items() if not k.startswith("_")}
        for side in ("baseline", "candidate"):
            if out.get(side):
                out[side] = {k: v for k, v in out[side].items()}
        return out
    doc = {"run_id": report["run_id"], "run_dir": report["run_dir"],
           "sides": report["meta"].get("sides"), "machine": report["meta"].get("machine"),
           "notes": report["meta"].get("notes", []) + report.get("warnings", []),
           "rows": [clean(r) for r in report["rows"]]}
    return json.dumps(doc, indent=2)


def main(argv):
    try:
        args = parse_args(argv)
        repo = args.repo or os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.abspath(__file__))))
        path = args.dir or os.path.join(repo, "build", "bench-artifacts")
        run_dir = find_run(os.path.abspath(path))
        report = analyze(run_dir, stat=args.stat, pattern=args.filter,
                         sort=args.sort or "name")
        if args.profile_top or args.profile_compare:
            add_profiles(report, args.profile_top, args.profile_compare, args.min_calls,
                         args.sort)
        if args.json:
            print(render_json(report))
        elif args.markdown:
            print(render_markdown(report, args.stat))
        else:
            print(render_text(report, stat=args.stat))
        return 0
    except BenchError as e:
        print(f"perf-analyze: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
