"""Shared pieces of scripts/run-benchmarks and scripts/perf-analyze (Python 3 standard library
only).

What lives here: the mapping file (benchmarks/mapping.json: path globs -> scenarios and configs),
git helpers (the default baseline, the files changed against it), the JSON lines the benchmark
programs print (benchmarks/bench.h) and the merged result files, summary statistics, the
interleaved run plan, and a reader for callgrind output files (totals, and per-function
exclusive cost and call counts for the profiles). Everything that does arithmetic or parsing is
a plain function so tests/tools/ can check it on fixed inputs.
"""

import fnmatch
import hashlib
import json
import math
import os
import re
import subprocess

# The verdict thresholds of perf-analyze and the default gate threshold, in percent.
NOT_SIGNIFICANT_PCT = 2.0
SMALL_PCT = 5.0
DEFAULT_GATE_THRESHOLD_PCT = 3.0

# bench.h runs min(iterations, 16) warm-up iterations before a fixed-iteration repetition; the
# instruction count takes the difference of two runs, so both must have the same warm-up.
BENCH_WARMUP_ITERATIONS = 16

SIDES = ("baseline", "candidate")


class BenchError(Exception):
    """An error to report to the user in one line (no traceback)."""


# --------------------------------------------------------------------------------------------
# Path globs

def glob_to_regex(pattern):
    """Compiles a path glob: '**' matches across '/', '*' and '?' stay within one path segment,
    '[...]' is a character class, and a pattern ending in '/' matches everything below it.
    'a/**/b' also matches 'a/b'."""
    if pattern.endswith("/"):
        pattern += "**"
    out = []
    i = 0
    n = len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            if pattern.startswith("**", i):
                i += 2
                if pattern.startswith("/", i):
                    # '**/' matches zero or more whole directories.
                    out.append("(?:.*/)?")
                    i += 1
                else:
                    out.append(".*")
                continue
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            j = pattern.find("]", i + 1)
            if j < 0:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1:j]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = j
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z")


_glob_cache = {}


def path_matches(pattern, path):
    """True when the repository-relative path matches the glob (see glob_to_regex)."""
    rx = _glob_cache.get(pattern)
    if rx is None:
        rx = _glob_cache[pattern] = glob_to_regex(pattern)
    return rx.match(path) is not None


def config_matches(pattern, config):
    """Config names in the mapping and --configs are exact names or fnmatch globs."""
    return pattern == config or fnmatch.fnmatchcase(config, pattern)


# --------------------------------------------------------------------------------------------
# The mapping file

class Mapping:
    """benchmarks/mapping.json: which scenarios (and configs) a changed file affects, which
    configs the gate checks, and per-scenario callgrind settings. See benchmarks/README.md."""

    def __init__(self, data, source="mapping"):
        if not isinstance(data, dict) or not isinstance(data.get("scenarios"), dict):
            raise BenchError(f"{source}: expected an object with a \"scenarios\" object")
        self.source = source
        self.global_paths = list(data.get("global_paths", []))
        self.callgrind = dict(data.get("callgrind", {}))
        self.scenarios = {}
        for name, entry in data["scenarios"].items():
            if not re.fullmatch(r"[a-z0-9_]+", name):
                raise BenchError(f"{source}: scenario name {name!r}: use [a-z0-9_]")
            if not isinstance(entry, dict):
                raise BenchError(f"{source}: scenario {name}: expected an object")
            unknown = set(entry) - {"description", "program", "paths", "config_paths", "gate",
                                     "callgrind_iterations", "callgrind_all_threads",
                                     "instructions"}
            if unknown:
                raise BenchError(f"{source}: scenario {name}: unknown keys {sorted(unknown)}")
            gate = entry.get("gate", False)
            if not (isinstance(gate, bool) or
                    (isinstance(gate, list) and all(isinstance(g, str) for g in gate))):
                raise BenchError(f"{source}: scenario {name}: \"gate\" is true, false or a "
                                 "list of config names")
            config_paths = entry.get("config_paths", {})
            if not isinstance(config_paths, dict):
                raise BenchError(f"{source}: scenario {name}: \"config_paths\" maps config "
                                 "names to lists of globs")
            all_threads = entry.get("callgrind_all_threads", [])
            if not (isinstance(all_threads, list) and all(isinstance(g, str)
                                                          for g in all_threads)):
                raise BenchError(f"{source}: scenario {name}: \"callgrind_all_threads\" is a "
                                 "list of config names")
            cg_iter = entry.get("callgrind_iterations")
            if cg_iter is not None:
                if (not isinstance(cg_iter, list) or len(cg_iter) != 2 or
                        not all(isinstance(v, int) for v in cg_iter) or
                        cg_iter[0] < BENCH_WARMUP_ITERATIONS or cg_iter[1] <= cg_iter[0]):
                    raise BenchError(
                        f"{source}: scenario {name}: \"callgrind_iterations\" is [low, high] "
                        f"with {BENCH_WARMUP_ITERATIONS} <= low < high")
            self.scenarios[name] = {
                "description": entry.get("description", ""),
                "program": entry.get("program", "bench_" + name),
                "paths": list(entry.get("paths", [])),
                "config_paths": {k: list(v) for k, v in config_paths.items()},
                "gate": gate,
                "callgrind_iterations": cg_iter,
                "instructions": bool(entry.get("instructions", True)),
                "callgrind_all_threads": list(entry.get("callgrind_all_threads", [])),
            }

    @classmethod
    def load(cls, path):
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        except OSError as e:
            raise BenchError(f"cannot read the mapping {path}: {e.strerror}") from None
        except json.JSONDecodeError as e:
            raise BenchError(f"{path}: invalid JSON: {e}") from None
        return cls(data, source=path)

    def program(self, scenario):
        return self.scenarios[scenario]["program"]

    def all_threads(self, scenario, config):
        """Whether the instruction count of this config sums every thread (the configs listed
        in "callgrind_all_threads") rather than only the main thread's."""
        return any(config_matches(g, config)
                   for g in self.scenarios[scenario]["callgrind_all_threads"])

    def is_gated(self, scenario, config):
        """Whether --check compares this config (never for a scenario without instruction
        counts)."""
        if not self.scenarios[scenario]["instructions"]:
            return False
        gate = self.scenarios[scenario]["gate"]
        if isinstance(gate, bool):
            return gate
        return any(config_matches(g, config) for g in gate)

    def affected(self, files):
        """The scenarios the files affect, in mapping order: a list of
        {"scenario", "configs": "all" or [names or globs], "files": [matching files]}. A file
        matching a global path or a scenario path affects all the scenario's configs; one
        matching only config_paths affects those configs."""
        result = []
        for name, entry in self.scenarios.items():
            whole = []
            configs = {}
            matched = []
            for f in files:
                if any(path_matches(p, f) for p in self.global_paths + entry["paths"]):
                    whole.append(f)
                    matched.append(f)
                    continue
                hit = False
                for config, globs in entry["config_paths"].items():
                    if any(path_matches(p, f) for p in globs):
                        configs.setdefault(config, None)
                        hit = True
                if hit:
                    matched.append(f)
            if whole:
                result.append({"scenario": name, "configs": "all", "files": matched})
            elif configs:
                result.append({"scenario": name, "configs": list(configs), "files": matched})
        return result

    def all_scenarios(self):
        return [{"scenario": name, "configs": "all", "files": []} for name in self.scenarios]


def unmapped_programs(mapping, bench_dir):
    """bench_*.c files in bench_dir that no mapping entry names (each must have one)."""
    known = {entry["program"] for entry in mapping.scenarios.values()}
    missing = []
    if os.path.isdir(bench_dir):
        for name in sorted(os.listdir(bench_dir)):
            if name.startswith("bench_") and name.endswith(".c") and name[:-2] not in known:
                missing.append(name)
    return missing


# --------------------------------------------------------------------------------------------
# git

def git(repo, *args, check=True):
    """Runs git in repo and returns its stdout without the final newline."""
    proc = subprocess.run(["git", "-C", repo, *args], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
    if check and proc.returncode != 0:
        raise BenchError(f"git {' '.join(args)}: {proc.stderr.strip() or 'failed'}")
    return proc.stdout.rstrip("\n") if proc.returncode == 0 else None


def rev_parse(repo, ref):
    """The commit sha of ref, or None when it does not name a commit."""
    out = git(repo, "rev-parse", "--verify", "--quiet", ref + "^{commit}", check=False)
    return out or None


def worktree_dirty(repo):
    """True when tracked files differ from HEAD or untracked (not ignored) files exist."""
    return bool(git(repo, "status", "--porcelain", "--untracked-files=normal"))


def default_baseline(repo, main_branches=("main", "origin/main")):
    """The default baseline (ref, sha, why): the merge-base of HEAD with main; when that is HEAD
    itself, HEAD when the working tree has changes, else HEAD~1 (CI testing main compares its
    last commit). Raises BenchError when there is none (a single commit, clean)."""
    head = rev_parse(repo, "HEAD")
    if head is None:
        raise BenchError("no commit yet: nothing to compare against")
    main = next((b for b in main_branches if rev_parse(repo, b)), None)
    if main is not None:
        base = git(repo, "merge-base", "HEAD", main, check=False)
        if base and base != head:
            return (f"merge-base(HEAD, {main})", base, f"the merge-base of HEAD and {main}")
    if worktree_dirty(repo):
        return ("HEAD", head, "HEAD is main: the working tree's changes are compared")
    parent = rev_parse(repo, "HEAD~1")
    if parent is None:
        raise BenchError("no baseline: HEAD is the only commit and the working tree is clean "
                         "(pass --baseline REF)")
    return ("HEAD~1", parent, "HEAD is main and the working tree is clean: the last commit is "
            "compared")


def changed_files(repo, base_sha):
    """Repository-relative files that differ between base_sha and the working tree: tracked
    changes (both sides of renames) plus untracked, not ignored, files."""
    tracked = git(repo, "diff", "--name-only", "--no-renames", base_sha, "--")
    untracked = git(repo, "ls-files", "--others", "--exclude-standard")
    files = set(filter(None, tracked.splitlines())) | set(filter(None, untracked.splitlines()))
    return sorted(files)


ACCEPT_TRAILER = "Bench-Gate: accept"


def accepting_commits(repo, base_sha):
    """Short shas of the commits in base_sha..HEAD whose message has a line "Bench-Gate:
    accept" (any case): an intended cost increase, which the gate reports but lets pass."""
    out = git(repo, "log", "--format=%h%x00%B%x01", f"{base_sha}..HEAD", check=False) or ""
    found = []
    for entry in out.split("\x01"):
        sha, _, body = entry.strip("\n").partition("\x00")
        if any(line.strip().lower() == ACCEPT_TRAILER.lower() for line in body.splitlines()):
            found.append(sha)
    return found


# --------------------------------------------------------------------------------------------
# Benchmark output and result files

RESULT_KEYS = ("scenario", "config", "unit", "iterations", "ops_per_iteration", "repetitions",
               "median", "mean", "stddev", "allocs_per_op")


def parse_bench_output(text):
    """The result objects a benchmark program printed (one JSON object per line; other lines are
    ignored). Raises BenchError on a line that looks like a result but is not valid."""
    results = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise BenchError(f"invalid result line {line[:80]!r}: {e}") from None
        if not isinstance(obj, dict) or "config" not in obj or "repetitions" not in obj:
            raise BenchError(f"result line without config/repetitions: {line[:80]!r}")
        results.append(obj)
    return results


def summarize(values):
    """{"median", "mean", "stddev" (sample, n-1), "min", "max", "n"} of a list of numbers; the
    statistics are None for an empty list."""
    n = len(values)
    if n == 0:
        return {"median": None, "mean": None, "stddev": None, "min": None, "max": None, "n": 0}
    s = sorted(values)
    median = s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2
    mean = sum(s) / n
    stddev = math.sqrt(sum((v - mean) ** 2 for v in s) / (n - 1)) if n > 1 else 0.0
    return {"median": median, "mean": mean, "stddev": stddev, "min": s[0], "max": s[-1], "n": n}


def new_result(scenario, config, side, identity):
    """An empty merged result file for one config of one side."""
    return {
        "scenario": scenario, "config": config, "side": side, "unit": "ns/op",
        "ref": identity.get("ref"), "sha": identity.get("sha"), "binary": identity.get("binary"),
        "binary_sha256": identity.get("binary_sha256"),
        "iterations": None, "ops_per_iteration": None, "repetitions": [], "allocs": [],
        "median": None, "mean": None, "stddev": None, "allocs_per_op": None,
        "instructions_per_op": None, "instructions": None,
    }


def add_repetitions(result, runs):
    """Appends parsed bench results (one config, one repetition each or more) to a merged
    result and recomputes its statistics."""
    for run in runs:
        # Members a benchmark adds to its line (bench.h's extra_json), as last reported.
        extra = {k: v for k, v in run.items() if k not in RESULT_KEYS}
        if extra:
            result["extra"] = extra
        result["iterations"] = run.get("iterations", result["iterations"])
        result["ops_per_iteration"] = run.get("ops_per_iteration", result["ops_per_iteration"])
        reps = [float(v) for v in run.get("repetitions", [])]
        result["repetitions"].extend(reps)
        if run.get("allocs_per_op") is not None:
            result["allocs"].extend([float(run["allocs_per_op"])] * max(1, len(reps)))
    refresh_stats(result)
    return result


def refresh_stats(result):
    st = summarize(result["repetitions"])
    result["median"], result["mean"], result["stddev"] = st["median"], st["mean"], st["stddev"]
    allocs = result.get("allocs") or []
    result["allocs_per_op"] = sum(allocs) / len(allocs) if allocs else (
        result["instructions"] or {}).get("allocs_per_op")


def result_path(run_dir, scenario, side, config):
    return os.path.join(run_dir, scenario, side, f"results.{config}.json")


def load_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def save_json(path, data):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, sort_keys=False)
        f.write("\n")
    os.replace(tmp, path)


def file_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


# --------------------------------------------------------------------------------------------
# Instruction counts

def instructions_per_op(ir_low, ir_high, iterations_low, iterations_high, ops_per_iteration):
    """(Ir_high - Ir_low) / ((it_high - it_low) * ops): the instructions one operation costs,
    with start-up, set-up and warm-up cancelled out."""
    if iterations_high <= iterations_low:
        raise BenchError("the high iteration count must exceed the low one")
    ops = (iterations_high - iterations_low) * max(1, ops_per_iteration or 1)
    return (ir_high - ir_low) / ops


def finish_estimate(ins):
    """Fills an instructions record from its callgrind runs ({"runs": {"low": [Ir, ...], "high":
    [Ir, ...]}, "iterations": [lo, hi], "ops_per_iteration"}; the i-th low and high runs are a
    pair): "estimates" has one instructions/op figure per pair, "instructions_per_op" is their
    median, "Ir" the totals of the pair closest to it, and "spread_pct" the range of the
    estimates relative to the median (0 for deterministic code or a single pair)."""
    low, high = ins["runs"]["low"], ins["runs"]["high"]
    lo_it, hi_it = ins["iterations"]
    est = [instructions_per_op(a, b, lo_it, hi_it, ins.get("ops_per_iteration"))
           for a, b in zip(low, high)]
    st = summarize(est)
    ins["estimates"] = est
    ins["instructions_per_op"] = st["median"]
    best = min(range(len(est)), key=lambda i: abs(est[i] - st["median"]))
    ins["Ir"] = [low[best], high[best]]
    ins["spread_pct"] = (st["max"] - st["min"]) / st["median"] * 100 if st["median"] else 0.0
    return ins


def nice_count(x):
    """Rounds x down to 1, 2 or 5 times a power of ten (at least 1), so automatically chosen
    iteration counts stay the same from one run to the next unless the cost changes a lot."""
    if x < 2:
        return 1
    p = 10 ** math.floor(math.log10(x))
    for m in (5, 2, 1):
        if m * p <= x:
            return int(m * p)
    return int(p)


def callgrind_delta(ns_per_iteration, target_seconds, minimum=10, maximum=1_000_000):
    """The iteration difference between the two callgrind runs: enough iterations to take about
    target_seconds at the speed measured (under callgrind) by the first run."""
    if not ns_per_iteration or ns_per_iteration <= 0:
        return maximum
    want = target_seconds * 1e9 / ns_per_iteration
    return max(minimum, min(maximum, nice_count(want)))


# --------------------------------------------------------------------------------------------
# Callgrind output files

_NAME_RE = re.compile(r"^\((\d+)\)(?:\s+(.*))?$")
_RECURSION_SUFFIX = re.compile(r"'\d+$")


def _callgrind_name(value, table):
    """Resolves callgrind name compression: '(id) name' defines, '(id)' refers."""
    m = _NAME_RE.match(value.strip())
    if not m:
        return value.strip()
    ident, name = m.group(1), m.group(2)
    if name is not None:
        table[ident] = name
        return name
    return table.get(ident, f"({ident})")


def parse_callgrind(path):
    """Reads a callgrind output file. Returns {"events": [...], "totals": [..] (per event),
    "functions": {name: {"self": [...], "inclusive": [...], "calls": n, "file": f}}}.
    Exclusive (self) cost is the cost lines under fn=; a calls= line's following cost line is the
    callee's inclusive cost, counted as the caller's inclusive cost and not its self cost.
    Recursion levels (func'2) are merged into func."""
    events = ["Ir"]
    positions = 1
    totals = None
    summary = None
    functions = {}
    fn_names, file_names = {}, {}
    current = None
    current_file = None
    callee = None        # the last cfn=: the function a calls= line counts
    pending_call = None  # set when the next cost line is a call's (inclusive) cost

    def entry(name):
        e = functions.get(name)
        if e is None:
            e = functions[name] = {"self": [0] * len(events), "inclusive": [0] * len(events),
                                   "calls": 0, "file": None}
        return e

    def costs(tokens):
        vals = [int(t) for t in tokens[positions:positions + len(events)]]
        return vals + [0] * (len(events) - len(vals))

    with open(path, encoding="utf-8", errors="replace") as f:
        for raw in f:
            line = raw.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            c = line[0]
            if c.isdigit() or c in "+-*":
                tokens = line.split()
                if current is None:
                    continue
                vals = costs(tokens)
                e = entry(current)
                if pending_call is not None:
                    e["inclusive"] = [a + b for a, b in zip(e["inclusive"], vals)]
                    pending_call = None
                else:
                    e["self"] = [a + b for a, b in zip(e["self"], vals)]
                    e["inclusive"] = [a + b for a, b in zip(e["inclusive"], vals)]
                continue
            key, sep, value = line.partition("=")
            if sep and " " not in key and ":" not in key:
                if key == "fn":
                    current = _RECURSION_SUFFIX.sub("", _callgrind_name(value, fn_names))
                    e = entry(current)
                    if e["file"] is None:
                        e["file"] = current_file
                elif key == "cfn":
                    callee = _RECURSION_SUFFIX.sub("", _callgrind_name(value, fn_names))
                    entry(callee)
                elif key == "calls":
                    if callee is not None:
                        entry(callee)["calls"] += int(value.split()[0])
                        pending_call = callee
                elif key in ("fl", "fi", "fe"):
                    name = _callgrind_name(value, file_names)
                    if key == "fl":
                        current_file = name
                elif key in ("cfl", "cfi"):
                    _callgrind_name(value, file_names)
                elif key in ("ob", "cob"):
                    pass
                # jump=, jcnd= and unknown keys carry no cost line of their own.
                continue
            key, sep, value = line.partition(":")
            if not sep:
                continue
            key = key.strip()
            value = value.strip()
            if key == "events":
                events = value.split()
            elif key == "positions":
                positions = len(value.split())
            elif key == "totals":
                totals = [int(v) for v in value.split()]
            elif key == "summary":
                summary = [int(v) for v in value.split()]
    if totals is None:
        totals = summary
    if totals is None:
        totals = [sum(e["self"][i] for e in functions.values()) for i in range(len(events))]
    return {"events": events, "totals": totals, "functions": functions}


def callgrind_total(path, event="Ir"):
    """The total of one event (default Ir, instructions) in a callgrind output file, read from
    its summary:/totals: lines without parsing the whole profile."""
    events = ["Ir"]
    found = None
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("events:"):
                events = line.split(":", 1)[1].split()
            elif line.startswith("summary:") or line.startswith("totals:"):
                vals = [int(v) for v in line.split(":", 1)[1].split()]
                if event in events and events.index(event) < len(vals):
                    found = vals[events.index(event)]
    if found is None:
        prof = parse_callgrind(path)
        if event not in prof["events"]:
            raise BenchError(f"{path}: no {event} event")
        found = prof["totals"][prof["events"].index(event)]
    return found


def profile_per_op(low, high, ops, event="Ir"):
    """Per-function cost of one operation from the low and high profiles of one config: for each
    function, (high - low) / ops for the exclusive cost, inclusive cost and calls."""
    idx_low = low["events"].index(event)
    idx_high = high["events"].index(event)
    out = {}
    for name in set(low["functions"]) | set(high["functions"]):
        lo = low["functions"].get(name)
        hi = high["functions"].get(name)
        self_cost = (hi["self"][idx_high] if hi else 0) - (lo["self"][idx_low] if lo else 0)
        incl = (hi["inclusive"][idx_high] if hi else 0) - (lo["inclusive"][idx_low] if lo else 0)
        calls = (hi["calls"] if hi else 0) - (lo["calls"] if lo else 0)
        out[name] = {"self": self_cost / ops, "inclusive": incl / ops, "calls": calls / ops,
                     "total_calls": calls,
                     "file": (hi or lo).get("file")}
    return out


# --------------------------------------------------------------------------------------------
# The interleaved plan

def interleaved_plan(items, repetitions, sides=SIDES):
    """The order of the wall-time runs: repetition by repetition, every (scenario, config) once
    per side in the order baseline, candidate, so baseline and candidate alternate (A B A B) and
    machine drift during the run affects both alike. items: (scenario, config, [sides present]).
    Returns a list of (repetition, scenario, config, side), repetition counting from 1."""
    plan = []
    for rep in range(1, repetitions + 1):
        for scenario, config, present in items:
            for side in sides:
                if side in present:
                    plan.append((rep, scenario, config, side))
    return plan


# --------------------------------------------------------------------------------------------
# Comparison

def change_pct(base, cand):
    """(cand - base) / base in percent; None when either is missing or base is 0."""
    if base is None or cand is None or base == 0:
        return None
    return (cand - base) / base * 100.0


def verdict(pct, lower_is_better=True):
    """Classifies a change: under 2% 'not significant', 2-5% 'small regression' or 'small
    improvement', over 5% 'REGRESSION' (flagged) or 'improvement'."""
    if pct is None:
        return "n/a"
    worse = pct > 0 if lower_is_better else pct < 0
    a = abs(pct)
    if a < NOT_SIGNIFICANT_PCT:
        return "not significant"
    if a <= SMALL_PCT:
        return "small regression" if worse else "small improvement"
    return "REGRESSION" if worse else "improvement"


def within_noise(base_values, cand_values):
    """True when the difference of the means is under twice its standard error (Welch): the
    wall-time change cannot be told from the spread of the repetitions. False when there are
    too few repetitions to tell."""
    if len(base_values) < 2 or len(cand_values) < 2:
        return False
    b, c = summarize(base_values), summarize(cand_values)
    se = math.sqrt(b["stddev"] ** 2 / b["n"] + c["stddev"] ** 2 / c["n"])
    return abs(c["mean"] - b["mean"]) < 2 * se
