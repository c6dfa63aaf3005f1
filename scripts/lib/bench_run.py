"""scripts/run-benchmarks: builds a baseline (a git ref, in a worktree) and the candidate (the
working tree) as release builds, runs the benchmark programs of the affected scenarios on both,
interleaved, measures wall time and instruction counts (callgrind), and saves the results for
scripts/perf-analyze. --check is the gate: instruction counts of the gated configs, exit 1 on a
regression. See benchmarks/README.md for the workflow; this file's functions are tested by
tests/tools/.
"""

import argparse
import concurrent.futures
import datetime
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

import benchlib
from benchlib import BenchError

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

CMAKE_ARGS = ["-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release", "-DOTEL_BUILD_BENCHMARKS=ON",
              "-DOTEL_BUILD_TESTS=OFF", "-DOTEL_BUILD_EXAMPLES=OFF", "-DOTEL_TEST_INSTALL=OFF",
              "-DOTEL_WERROR=OFF", "-DOTEL_SANITIZE="]

# Defaults of the instruction-count runs: the low iteration count, and how long (under
# callgrind) the extra iterations of the high run should take. --quick shortens the latter.
CALLGRIND_LOW = 20
CALLGRIND_TARGET_S = 1.0
CALLGRIND_TARGET_QUICK_S = 0.25
# One benchmark invocation (callgrind included) that takes longer than this is an error.
RUN_TIMEOUT_S = 900


def log(msg):
    print(f"run-benchmarks: {msg}", file=sys.stderr, flush=True)


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="run-benchmarks",
        description="Compare benchmark results of a baseline git ref and the working tree "
                    "(see benchmarks/README.md).")
    p.add_argument("--list", action="store_true",
                   help="print, as JSON, the scenarios and configs that FILES (default: the "
                        "files changed against the baseline) affect, and exit")
    p.add_argument("files", nargs="*", metavar="FILES", help="with --list: files to map")
    p.add_argument("--all-suites", action="store_true",
                   help="every scenario, whatever changed")
    p.add_argument("--scenario", action="append", default=[], metavar="S",
                   help="run scenario S (repeatable); default: the scenarios the changes affect")
    p.add_argument("--configs", metavar="A,B",
                   help="only these configs (NAME, or SCENARIO:NAME for one scenario)")
    p.add_argument("--baseline", metavar="REF",
                   help="git ref to compare with (default: the merge-base of HEAD and main; "
                        "HEAD~1 when that is HEAD and the working tree is clean)")
    p.add_argument("--artifacts", metavar="DIR",
                   help="results folder (default build/bench-artifacts)")
    p.add_argument("--run-id", metavar="ID",
                   help="results go to DIR/ID/ (default: date-time); an existing run is added to")
    p.add_argument("--dry-run", action="store_true", help="print what would be built and run")
    p.add_argument("--profile", action="store_true",
                   help="keep per-function callgrind profiles (for perf-analyze --profile-*)")
    p.add_argument("--repetitions", type=int, metavar="N",
                   help="wall-time repetitions per side and config (default 7, --quick 3)")
    p.add_argument("--check", action="store_true",
                   help="the gate: instruction counts of the gated configs only; exit 1 when "
                        "one regresses beyond --threshold")
    p.add_argument("--threshold", type=float, default=benchlib.DEFAULT_GATE_THRESHOLD_PCT,
                   metavar="PCT", help="gate threshold in percent (default 3)")
    p.add_argument("--callgrind-runs", type=int, default=1, metavar="N",
                   help="callgrind run pairs per config and side; the median estimate is "
                        "used (default 1; more for configs with a background thread)")
    p.add_argument("--retries", type=int, default=3, metavar="N",
                   help="--check measures a config over the threshold N more times per side; "
                        "it fails only if its best run is worse than the baseline's worst "
                        "(default 3)")
    p.add_argument("--min-ir-diff", type=float, default=1.0, metavar="IR",
                   help="--check ignores increases under IR instructions per operation "
                        "(default 1: code layout and compiler noise on very cheap configs)")
    p.add_argument("--quick", action="store_true",
                   help="shorter runs: 3 repetitions of 50 ms, shorter callgrind runs")
    p.add_argument("--no-instructions", action="store_true", help="skip callgrind")
    p.add_argument("--no-wall", action="store_true", help="skip the wall-time runs")
    p.add_argument("--min-time-ms", type=int, metavar="MS",
                   help="calibrate iterations so one repetition takes about MS (default 200, "
                        "--quick 50)")
    p.add_argument("--callgrind-iterations", metavar="LOW,HIGH",
                   help="iteration counts of the two callgrind runs (default: low 20, high "
                        "chosen from the speed of the low run)")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 2, metavar="N",
                   help="parallel build jobs and callgrind runs (default: CPUs)")
    p.add_argument("--pin", metavar="CPU", help="run the programs under taskset -c CPU")
    p.add_argument("--baseline-bin", metavar="DIR",
                   help="use the bench_* programs in DIR as the baseline instead of building")
    p.add_argument("--candidate-bin", metavar="DIR",
                   help="use the bench_* programs in DIR as the candidate instead of building")
    p.add_argument("--build-root", metavar="DIR",
                   help="where worktrees and build folders go (default: build/)")
    p.add_argument("--mapping", metavar="FILE", help="default benchmarks/mapping.json")
    p.add_argument("--repo", metavar="DIR", help=argparse.SUPPRESS)
    p.add_argument("--valgrind", default="valgrind", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.files and not args.list:
        p.error("FILES are only taken with --list")
    if args.repetitions is None:
        args.repetitions = 3 if args.quick else 7
    if args.min_time_ms is None:
        args.min_time_ms = 50 if args.quick else 200
    if args.repetitions < 1:
        p.error("--repetitions must be at least 1")
    if args.callgrind_runs < 1 or args.retries < 0:
        p.error("--callgrind-runs must be at least 1 and --retries at least 0")
    if args.check and args.no_instructions:
        p.error("--check compares instruction counts: it cannot take --no-instructions")
    if args.callgrind_iterations:
        try:
            lo, hi = (int(v) for v in args.callgrind_iterations.split(","))
        except ValueError:
            p.error("--callgrind-iterations takes LOW,HIGH")
        if lo < benchlib.BENCH_WARMUP_ITERATIONS or hi <= lo:
            p.error(f"--callgrind-iterations: need {benchlib.BENCH_WARMUP_ITERATIONS} <= LOW < "
                    "HIGH (bench.h warms up with min(iterations, 16) iterations)")
        args.callgrind_iterations = (lo, hi)
    if args.check:
        args.no_wall = True
    return args


# --------------------------------------------------------------------------------------------
# Sides: where each side's programs come from

class Side:
    """One side of the comparison: its source tree (or prebuilt programs) and build folder."""

    def __init__(self, name, ref, sha, src_dir=None, build_dir=None, bin_dir=None,
                 repo=None, in_worktree=False):
        self.name = name
        self.ref = ref
        self.sha = sha
        self.src_dir = src_dir          # None for prebuilt programs
        self.build_dir = build_dir
        self.bin_dir = bin_dir or (os.path.join(build_dir, "benchmarks") if build_dir else None)
        self.repo = repo
        self.in_worktree = in_worktree  # baseline: src_dir is a worktree at sha
        self.configs = {}               # program -> list of config names (from --list)
        self.build_error = None

    @property
    def prebuilt(self):
        return self.src_dir is None

    def has_source(self, program):
        """Whether this side has benchmarks/<program>.c (read from git for a baseline whose
        worktree may not exist yet)."""
        if self.prebuilt:
            return os.access(self.program_path(program), os.X_OK)
        if self.in_worktree:
            return benchlib.git(self.repo, "cat-file", "-e",
                                f"{self.sha}:benchmarks/{program}.c", check=False) is not None
        return os.path.exists(os.path.join(self.src_dir, "benchmarks", program + ".c"))

    def program_path(self, program):
        return os.path.join(self.bin_dir, program)

    def identity(self, program):
        path = self.program_path(program)
        digest = benchlib.file_sha256(path) if os.path.exists(path) else None
        return {"ref": self.ref, "sha": self.sha, "binary": path, "binary_sha256": digest}


def make_candidate(args, repo, build_root):
    if args.candidate_bin:
        return Side("candidate", "prebuilt", None, bin_dir=os.path.abspath(args.candidate_bin))
    head = benchlib.rev_parse(repo, "HEAD")
    dirty = benchlib.worktree_dirty(repo) if head else True
    return Side("candidate", "working tree" + (" (with changes)" if dirty else ""), head,
                src_dir=repo, build_dir=os.path.join(build_root, "bench-candidate"), repo=repo)


def make_baseline(args, repo, build_root):
    """The baseline Side and a description of how it was chosen. Raises BenchError when there
    is no baseline commit."""
    if args.baseline_bin:
        # --baseline then only names the commit the programs were built from.
        sha = benchlib.rev_parse(repo, args.baseline) if args.baseline else None
        baseline = Side("baseline", args.baseline or "prebuilt", sha,
                        bin_dir=os.path.abspath(args.baseline_bin))
        return baseline, "prebuilt programs in " + baseline.bin_dir
    if args.baseline:
        sha = benchlib.rev_parse(repo, args.baseline)
        if sha is None:
            raise BenchError(f"--baseline {args.baseline}: not a commit")
        ref, why = args.baseline, "given with --baseline"
    else:
        ref, sha, why = benchlib.default_baseline(repo)
    baseline = Side("baseline", ref, sha,
                    src_dir=os.path.join(build_root, "bench-worktrees", sha),
                    build_dir=os.path.join(build_root, f"bench-baseline-{sha[:12]}"),
                    repo=repo, in_worktree=True)
    return baseline, why


# --------------------------------------------------------------------------------------------
# Selection

def parse_config_filter(text):
    """'a,b,span:c' -> ({'a', 'b'} for every scenario, {'span': {'c'}})."""
    everywhere, scoped = set(), {}
    for item in filter(None, (t.strip() for t in (text or "").split(","))):
        if ":" in item:
            scenario, config = item.split(":", 1)
            scoped.setdefault(scenario, set()).add(config)
        else:
            everywhere.add(item)
    return everywhere, scoped


def select_scenarios(args, mapping, repo, baseline_sha):
    """The scenarios to run: [{"scenario", "configs": "all" | [names], "files"}], the files
    considered (None when not from a diff), and a note for the user."""
    if args.scenario:
        unknown = [s for s in args.scenario if s not in mapping.scenarios]
        if unknown:
            raise BenchError(f"unknown scenario {', '.join(unknown)}; known: "
                             f"{', '.join(mapping.scenarios)}")
        items = [{"scenario": s, "configs": "all", "files": []}
                 for s in dict.fromkeys(args.scenario)]
        return items, None, "scenarios given with --scenario"
    if args.all_suites:
        return mapping.all_scenarios(), None, "--all-suites"
    if args.list and args.files:
        files = sorted({os.path.normpath(f) for f in args.files})
        return mapping.affected(files), files, "files given"
    if baseline_sha is None:
        raise BenchError("no baseline commit to diff against: pass --scenario or --all-suites")
    files = benchlib.changed_files(repo, baseline_sha)
    return mapping.affected(files), files, f"files changed against {baseline_sha[:12]}"


def apply_config_filter(items, configs_arg):
    """Narrows the selection to --configs: names or globs, for every scenario or, written
    SCENARIO:NAME, for one. A scenario left with no wanted config is dropped."""
    everywhere, scoped = parse_config_filter(configs_arg)
    if not everywhere and not scoped:
        return items
    out = []
    for item in items:
        wanted = everywhere | scoped.get(item["scenario"], set())
        if not wanted:
            continue
        if item["configs"] == "all":
            configs = sorted(wanted)
        else:
            # Keep the wanted configs that the affected configs (names or globs) cover.
            configs = sorted(w for w in wanted
                             if any(benchlib.config_matches(a, w) or
                                    benchlib.config_matches(w, a) for a in item["configs"]))
        if configs:
            out.append(dict(item, configs=configs))
    return out


def list_output(mapping, items, files, baseline, why, candidate):
    """The JSON document --list prints."""
    scenarios, not_available = [], []
    for item in items:
        entry = mapping.scenarios[item["scenario"]]
        program = entry["program"]
        if not candidate.has_source(program):
            not_available.append(item["scenario"])
            continue
        gate = entry["gate"]
        scenarios.append({
            "scenario": item["scenario"],
            "program": program,
            "configs": item["configs"],
            "gate": gate if isinstance(gate, bool) else list(gate),
            "files": item["files"],
        })
    doc = {
        "baseline": ({"ref": baseline.ref, "sha": baseline.sha, "why": why}
                     if baseline is not None else None),
        "files": files,
        "scenarios": scenarios,
    }
    if not_available:
        doc["not_built"] = not_available
    return doc


# --------------------------------------------------------------------------------------------
# Building

def cmake_configure_cmd(side):
    return ["cmake", "-S", side.src_dir, "-B", side.build_dir] + CMAKE_ARGS


def cmake_build_cmd(side, programs, jobs):
    cmd = ["cmake", "--build", side.build_dir, "-j", str(jobs)]
    for p in programs:
        cmd += ["--target", p]
    return cmd


def worktree_cmds(side):
    return [["git", "-C", side.repo, "worktree", "prune"],
            ["git", "-C", side.repo, "worktree", "add", "--detach", side.src_dir, side.sha]]


def ensure_worktree(side):
    """Creates (or reuses) the baseline's worktree at side.src_dir, checked out at side.sha."""
    if os.path.isdir(side.src_dir):
        # A plain folder under build/ would answer for the enclosing repository: check that
        # it is a worktree of its own before trusting its HEAD.
        top = benchlib.git(side.src_dir, "rev-parse", "--show-toplevel", check=False)
        head = benchlib.git(side.src_dir, "rev-parse", "HEAD", check=False)
        if top and os.path.realpath(top) == os.path.realpath(side.src_dir) and \
                head == side.sha:
            return
        log(f"{side.src_dir} is not a worktree at {side.sha[:12]}: recreating it")
        benchlib.git(side.repo, "worktree", "remove", "--force", side.src_dir, check=False)
        shutil.rmtree(side.src_dir, ignore_errors=True)
    os.makedirs(os.path.dirname(side.src_dir), exist_ok=True)
    for cmd in worktree_cmds(side):
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if proc.returncode != 0:
            raise BenchError(f"{' '.join(cmd)}: {proc.stdout.strip()}")


def run_logged(cmd, logf):
    logf.write("$ " + shlex.join(cmd) + "\n")
    logf.flush()
    return subprocess.run(cmd, stdout=logf, stderr=subprocess.STDOUT).returncode


def build_side(side, programs, jobs):
    """Configures (first time) and builds the programs of one side. Returns None, or an error
    message with the end of the build log."""
    if side.prebuilt or not programs:
        return None
    if side.in_worktree:
        ensure_worktree(side)
    os.makedirs(side.build_dir, exist_ok=True)
    stamp = os.path.join(side.build_dir, "bench-built.json")
    if side.in_worktree and os.path.exists(stamp):
        # The baseline's sources never change: a complete earlier build is reused as is.
        try:
            built = set(benchlib.load_json(stamp).get("programs", []))
        except (OSError, ValueError):
            built = set()
        if set(programs) <= built and all(os.path.exists(side.program_path(p))
                                          for p in programs):
            log(f"{side.name}: reusing {side.build_dir}")
            return None
    log_path = os.path.join(side.build_dir, "bench-build.log")
    log(f"{side.name}: building {', '.join(programs)} in {side.build_dir} (log: {log_path})")
    with open(log_path, "w", encoding="utf-8") as logf:
        rc = 0
        if not os.path.exists(os.path.join(side.build_dir, "CMakeCache.txt")):
            rc = run_logged(cmake_configure_cmd(side), logf)
        if rc == 0:
            rc = run_logged(cmake_build_cmd(side, programs, jobs), logf)
    if rc != 0:
        with open(log_path, encoding="utf-8", errors="replace") as f:
            tail = "".join(f.readlines()[-25:])
        return f"build failed in {side.build_dir}:\n{tail}"
    if side.in_worktree:
        benchlib.save_json(stamp, {"sha": side.sha, "programs": sorted(programs)})
    return None


def compiler_of(side):
    """The C compiler of a build folder (from CMakeCache.txt) and its version line."""
    if side.prebuilt or not side.build_dir:
        return None
    cache = os.path.join(side.build_dir, "CMakeCache.txt")
    cc = None
    try:
        with open(cache, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("CMAKE_C_COMPILER:"):
                    cc = line.split("=", 1)[1].strip()
    except OSError:
        return None
    if not cc:
        return None
    try:
        out = subprocess.run([cc, "--version"], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True).stdout
        return {"path": cc, "version": out.splitlines()[0] if out else None}
    except OSError:
        return {"path": cc, "version": None}


# --------------------------------------------------------------------------------------------
# Running the programs

def bench_env():
    """The environment of benchmark runs: the caller's, without OTEL_* variables (the SDK reads
    its configuration from them, so a stray one would change what is measured)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}


class Runner:
    """Runs benchmark programs (optionally pinned to a CPU) and callgrind."""

    def __init__(self, args):
        self.pin = args.pin
        self.valgrind = args.valgrind
        self.env = bench_env()

    def prefix(self):
        return ["taskset", "-c", str(self.pin)] if self.pin is not None else []

    def run(self, cmd, timeout=RUN_TIMEOUT_S):
        try:
            proc = subprocess.run(self.prefix() + cmd, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, env=self.env,
                                  timeout=timeout)
        except subprocess.TimeoutExpired:
            raise BenchError(f"{shlex.join(cmd)}: no result after {timeout} s") from None
        except OSError as e:
            raise BenchError(f"{shlex.join(cmd)}: {e.strerror}") from None
        if proc.returncode != 0:
            raise BenchError(f"{shlex.join(cmd)} exited {proc.returncode}: "
                             f"{proc.stderr.strip()[-800:]}")
        return proc.stdout

    def list_configs(self, program_path):
        out = self.run([program_path, "--list"], timeout=120)
        return [line.strip() for line in out.splitlines() if line.strip()]

    def bench(self, program_path, configs, repetitions=1, iterations=None, min_time_ms=None):
        cmd = bench_cmd(program_path, configs, repetitions, iterations, min_time_ms)
        return benchlib.parse_bench_output(self.run(cmd))

    def callgrind(self, program_path, config, iterations, out_file, all_threads=False):
        """Runs one config under callgrind; returns its result line and the instruction total
        of the main thread (or of all threads)."""
        cmd = callgrind_cmd(self.valgrind, out_file, program_path, config, iterations,
                            all_threads)
        results = benchlib.parse_bench_output(self.run(cmd))
        results = [r for r in results if r.get("config") == config]
        if not results:
            raise BenchError(f"{shlex.join(cmd)}: printed no result for {config}")
        if not all_threads:
            collect_main_thread(out_file)
        return results[0], benchlib.callgrind_total(out_file)


def collect_main_thread(out_file):
    """With --separate-threads=yes callgrind writes <out>-01 (the main thread), <out>-02, ...:
    keeps the main thread's profile as <out> and removes the others."""
    main = out_file + "-01"
    if not os.path.exists(main):
        if os.path.exists(out_file) and os.path.getsize(out_file) > 0:
            return  # a callgrind that ignored --separate-threads: one file, all threads
        raise BenchError(f"callgrind wrote no profile {main}")
    os.replace(main, out_file)
    d, base = os.path.split(out_file)
    for name in os.listdir(d or "."):
        if name.startswith(base + "-") and name[len(base) + 1:].isdigit():
            os.unlink(os.path.join(d, name))


def bench_cmd(program_path, configs, repetitions=1, iterations=None, min_time_ms=None):
    cmd = [program_path, "--configs", ",".join(configs), "--repetitions", str(repetitions)]
    if iterations is not None:
        cmd += ["--iterations", str(iterations)]
    if min_time_ms is not None:
        cmd += ["--min-time-ms", str(min_time_ms)]
    return cmd


def callgrind_cmd(valgrind, out_file, program_path, config, iterations, all_threads=False):
    # One profile per thread unless all threads count: the main thread runs the benchmark; a
    # background thread (the batch processor's exporter) does a varying amount of work
    # depending on how the threads were scheduled, which would make the count noisy.
    threads = [] if all_threads else ["--separate-threads=yes"]
    return [valgrind, "--tool=callgrind", *threads, f"--callgrind-out-file={out_file}",
            program_path, "--configs", config, "--repetitions", "1",
            "--iterations", str(iterations)]


def safe_name(config):
    return "".join(c if c.isalnum() or c in "-_.+" else "_" for c in config)


# --------------------------------------------------------------------------------------------
# The run

class Run:
    """One invocation: the selection, both sides, and the results being collected."""

    def __init__(self, args, repo, mapping, baseline, candidate, why, run_dir):
        self.args = args
        self.repo = repo
        self.mapping = mapping
        self.sides = {"baseline": baseline, "candidate": candidate}
        self.why = why
        self.run_dir = run_dir
        self.runner = Runner(args)
        self.notes = []
        self.results = {}  # (scenario, config, side) -> merged result dict
        self.broken = set()  # (scenario, config) whose baseline program failed
        self.tmp = None      # scratch folder of the callgrind runs
        self.work = []     # [(scenario, program, [configs], {config: [sides]})]

    def note(self, msg):
        self.notes.append(msg)
        log(msg)

    # -- results ----------------------------------------------------------------------------
    def result(self, scenario, config, side):
        key = (scenario, config, side)
        if key not in self.results:
            program = self.mapping.program(scenario)
            identity = self.sides[side].identity(program)
            path = benchlib.result_path(self.run_dir, scenario, side, safe_name(config))
            res = None
            if os.path.exists(path):
                try:
                    old = benchlib.load_json(path)
                except (OSError, ValueError):
                    old = None
                if old and old.get("binary_sha256") == identity["binary_sha256"]:
                    res = old  # the same program: add to its repetitions
                elif old:
                    self.note(f"{scenario}/{config} {side}: the program changed since the "
                              f"earlier results in {path}; replacing them")
            self.results[key] = res or benchlib.new_result(scenario, config, side, identity)
        return self.results[key]

    def save_results(self):
        for (scenario, config, side), res in self.results.items():
            benchlib.refresh_stats(res)
            benchlib.save_json(
                benchlib.result_path(self.run_dir, scenario, side, safe_name(config)), res)

    # -- configs ----------------------------------------------------------------------------
    def resolve_configs(self, items):
        """Fills self.work from the selection and the programs' --list: which configs run on
        which sides. Configs only the candidate has are run there alone and reported."""
        for item in items:
            scenario = item["scenario"]
            program = self.mapping.program(scenario)
            cand, base = self.sides["candidate"], self.sides["baseline"]
            if not cand.has_source(program):
                self.note(f"{scenario}: the candidate has no {program}: skipped")
                continue
            cand_configs = self.runner.list_configs(cand.program_path(program))
            base_configs = []
            if base.build_error is None and base.has_source(program):
                try:
                    base_configs = self.runner.list_configs(base.program_path(program))
                except BenchError as e:
                    self.note(f"{scenario}: the baseline's {program} --list failed, candidate "
                              f"only ({e})")
            elif base.build_error is None:
                self.note(f"{scenario}: new scenario (the baseline has no {program}): "
                          "candidate only")
            if item["configs"] == "all":
                configs = list(cand_configs)
            else:
                patterns = item["configs"]
                configs = [c for c in cand_configs
                           if any(benchlib.config_matches(p, c) for p in patterns)]
                missing = [p for p in patterns
                           if not any(benchlib.config_matches(p, c) for c in cand_configs)]
                if missing:
                    self.note(f"{scenario}: no config {', '.join(missing)} in {program}: "
                              "skipped")
            if self.args.check:
                configs = [c for c in configs if self.mapping.is_gated(scenario, c)]
            gate = self.mapping.scenarios[scenario]["gate"]
            if isinstance(gate, list):
                stale = [g for g in gate if not any(benchlib.config_matches(g, c)
                                                    for c in cand_configs)]
                if stale:
                    self.note(f"{scenario}: mapping gate names unknown configs "
                              f"{', '.join(stale)}")
            if not configs:
                continue
            present = {}
            for c in configs:
                present[c] = ["baseline", "candidate"] if c in base_configs else ["candidate"]
                if base_configs and c not in base_configs:
                    self.note(f"{scenario}/{c}: new config (not in the baseline): candidate only")
            self.work.append((scenario, program, configs, present))

    def baseline_failed(self, scenario, config, error):
        """A baseline program that fails is the old code's problem: its config goes on with
        the candidate only, and the run says so."""
        self.broken.add((scenario, config))
        self.note(f"{scenario}/{config}: the baseline program failed, candidate only ({error})")
        self.results.pop((scenario, config, "baseline"), None)

    # -- wall time --------------------------------------------------------------------------
    def run_wall(self):
        items = []
        iterations = {}
        for scenario, program, configs, present in self.work:
            cand = self.sides["candidate"].program_path(program)
            log(f"{scenario}: calibrating {len(configs)} configs on the candidate")
            for r in self.runner.bench(cand, configs, repetitions=1,
                                       min_time_ms=self.args.min_time_ms):
                iterations[(scenario, r["config"])] = int(r["iterations"])
            for c in configs:
                if (scenario, c) in iterations:
                    items.append((scenario, c, present[c]))
        plan = benchlib.interleaved_plan(items, self.args.repetitions)
        total = len(plan)
        t0 = time.monotonic()
        for i, (rep, scenario, config, side) in enumerate(plan, 1):
            program = self.mapping.program(scenario)
            path = self.sides[side].program_path(program)
            if side == "baseline" and (scenario, config) in self.broken:
                continue
            try:
                runs = self.runner.bench(path, [config], repetitions=1,
                                         iterations=iterations[(scenario, config)])
            except BenchError as e:
                if side != "baseline":
                    raise
                self.baseline_failed(scenario, config, e)
                continue
            runs = [r for r in runs if r.get("config") == config]
            if not runs:
                raise BenchError(f"{path} printed no result for {config}")
            benchlib.add_repetitions(self.result(scenario, config, side), runs)
            if i % 20 == 0 or i == total:
                log(f"wall time: {i}/{total} runs ({time.monotonic() - t0:.0f} s)")

    # -- instruction counts -----------------------------------------------------------------
    def callgrind_iterations(self, scenario):
        if self.args.callgrind_iterations:
            return self.args.callgrind_iterations
        return self.mapping.scenarios[scenario]["callgrind_iterations"]

    def callgrind_plan(self):
        """(scenario, program, config, sides, all_threads) of every config to count."""
        jobs = []
        for scenario, program, configs, present in self.work:
            if not self.mapping.scenarios[scenario]["instructions"]:
                self.note(f"{scenario}: no instruction counts (\"instructions\": false in the "
                          "mapping)")
                continue
            for c in configs:
                jobs.append((scenario, program, c, present[c],
                             self.mapping.all_threads(scenario, c)))
        return jobs

    def measure_pair(self, scenario, program, config, side, lo, hi, all_threads, out_dir,
                     first=None):
        """One callgrind run with lo and one with hi iterations on one side (first: the lo
        run, already made). Returns the instructions record of results (see finish_estimate)."""
        path = self.sides[side].program_path(program)
        stem = os.path.join(out_dir, f"callgrind.{safe_name(config)}")
        if first is None:
            first = self.runner.callgrind(path, config, lo, stem + ".low.out", all_threads)
        r_lo, ir_lo = first
        r_hi, ir_hi = self.runner.callgrind(path, config, hi, stem + ".high.out", all_threads)
        ops = int(r_hi.get("ops_per_iteration") or 1)
        if int(r_lo.get("ops_per_iteration") or 1) != ops:
            raise BenchError(f"{scenario}/{config}: ops_per_iteration differs between runs")
        return benchlib.finish_estimate({
            "iterations": [lo, hi], "ops_per_iteration": ops,
            "threads": "all" if all_threads else "main",
            "runs": {"low": [ir_lo], "high": [ir_hi]},
            "allocs_per_op": r_hi.get("allocs_per_op")})

    def run_instructions(self):
        """Instruction counts of every selected config on both sides (see README: two callgrind
        runs per side, the difference divided by the operations between them)."""
        args = self.args
        target = CALLGRIND_TARGET_QUICK_S if args.quick else CALLGRIND_TARGET_S
        target = float(self.mapping.callgrind.get("target_seconds_quick" if args.quick
                                                  else "target_seconds", target))
        low_default = int(self.mapping.callgrind.get("low_iterations", CALLGRIND_LOW))
        keep = args.profile
        self.tmp = tempfile.mkdtemp(prefix="otel-bench-cg-")
        jobs = self.callgrind_plan()
        log(f"instruction counts: {len(jobs)} configs under callgrind")

        def out_dir(scenario, side):
            d = os.path.join(self.run_dir, scenario, side) if keep else \
                os.path.join(self.tmp, scenario, side)
            os.makedirs(d, exist_ok=True)
            return d

        def one(job):
            scenario, program, config, sides, all_threads = job
            fixed = self.callgrind_iterations(scenario)
            lo = fixed[0] if fixed else low_default
            cand_dir = out_dir(scenario, "candidate")
            first = self.runner.callgrind(
                self.sides["candidate"].program_path(program), config, lo,
                os.path.join(cand_dir, f"callgrind.{safe_name(config)}.low.out"), all_threads)
            if fixed:
                hi = fixed[1]
            else:
                ops = int(first[0].get("ops_per_iteration") or 1)
                hi = lo + benchlib.callgrind_delta(float(first[0].get("median") or 0) * ops,
                                                   target)
            measured, baseline_error = {}, None
            for side in sides:
                if side == "baseline" and (scenario, config) in self.broken:
                    continue
                try:
                    measured[side] = self.measure_pair(
                        scenario, program, config, side, lo, hi, all_threads,
                        out_dir(scenario, side), first if side == "candidate" else None)
                except BenchError as e:
                    if side != "baseline":
                        raise
                    baseline_error = e  # reported by the main thread
            return job, measured, baseline_error

        try:
            with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
                for job, measured, baseline_error in pool.map(one, jobs):
                    scenario, program, config, sides, _ = job
                    if baseline_error is not None:
                        self.baseline_failed(scenario, config, baseline_error)
                    for side, m in measured.items():
                        res = self.result(scenario, config, side)
                        res["instructions"] = m
                        res["instructions_per_op"] = m["instructions_per_op"]
                        if res.get("ops_per_iteration") is None:
                            res["ops_per_iteration"] = m["ops_per_iteration"]
                        if keep:
                            res["profile"] = {
                                "low": f"callgrind.{safe_name(config)}.low.out",
                                "high": f"callgrind.{safe_name(config)}.high.out",
                            }
                    log(f"{scenario}/{config}: " + ", ".join(
                        f"{s} {m['instructions_per_op']:.1f} Ir/op" for s, m in measured.items()))
            if args.callgrind_runs > 1:
                self.remeasure(sorted({(j[0], j[2]) for j in jobs}), args.callgrind_runs - 1)
            if args.check and args.retries > 0:
                self.remeasure(self.suspects(), args.retries, "over the threshold")
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)
        if keep:
            self.annotate()

    def suspects(self):
        """Configs whose candidate count is over the gate's threshold: measured again."""
        out = []
        for (scenario, config, side), res in self.results.items():
            base = self.results.get((scenario, config, "baseline"))
            if side != "candidate" or not base:
                continue
            pct = benchlib.change_pct(base.get("instructions_per_op"),
                                      res.get("instructions_per_op"))
            if pct is not None and pct > self.args.threshold:
                out.append((scenario, config))
        return sorted(out)

    def remeasure(self, configs, retries, why=""):
        """Measures configs retries more times on both sides. Instruction counts are
        deterministic for single-threaded code, but a background thread (the batch processor's
        exporter) changes how often the main thread takes slow paths (pool refills,
        allocations): the median of several estimates is steadier, and their range tells the
        gate how noisy the config is."""
        tasks = []
        for scenario, config in configs:
            for side in benchlib.SIDES:
                res = self.results.get((scenario, config, side))
                if res and res.get("instructions"):
                    tasks += [(scenario, config, side, res, i) for i in range(retries)]
        if not tasks:
            return
        log(f"re-measuring {len(configs)} configs{' ' + why if why else ''}, {retries} more "
            "times per side: " + ", ".join(f"{s}/{c}" for s, c in configs))

        def again(task):
            scenario, config, side, res, i = task
            ins = res["instructions"]
            d = os.path.join(self.tmp, "retry", scenario, side, safe_name(config), str(i))
            os.makedirs(d, exist_ok=True)
            lo, hi = ins["iterations"]
            return task, self.measure_pair(scenario, self.mapping.program(scenario), config,
                                           side, lo, hi, ins["threads"] == "all", d)

        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, self.args.jobs)) as pool:
            for (_, _, _, res, _), m in pool.map(again, tasks):
                res["instructions"]["runs"]["low"] += m["runs"]["low"]
                res["instructions"]["runs"]["high"] += m["runs"]["high"]
        for _, _, _, res, _ in tasks:
            benchlib.finish_estimate(res["instructions"])
            res["instructions_per_op"] = res["instructions"]["instructions_per_op"]

    def annotate(self):
        """callgrind_annotate reports beside the kept profiles (the high runs)."""
        tool = shutil.which("callgrind_annotate")
        if tool is None:
            self.note("callgrind_annotate not found: no annotated reports")
            return
        for (scenario, config, side), res in self.results.items():
            prof = res.get("profile")
            if not prof:
                continue
            d = os.path.join(self.run_dir, scenario, side)
            src = os.path.join(d, prof["high"])
            dst = os.path.join(d, f"callgrind.{safe_name(config)}.txt")
            with open(dst, "w", encoding="utf-8") as f:
                subprocess.run([tool, "--inclusive=no", src], stdout=f,
                               stderr=subprocess.STDOUT)
            prof["annotated"] = os.path.basename(dst)

    # -- meta -------------------------------------------------------------------------------
    def write_meta(self, argv, started, finished):
        path = os.path.join(self.run_dir, "meta.json")
        meta = {}
        if os.path.exists(path):
            try:
                meta = benchlib.load_json(path)
            except (OSError, ValueError):
                meta = {}
        sides = {}
        for name, side in self.sides.items():
            sides[name] = {"ref": side.ref, "sha": side.sha, "source": side.src_dir,
                           "build_dir": side.build_dir, "bin_dir": side.bin_dir,
                           "compiler": compiler_of(side), "build_error": side.build_error}
        invocation = {
            "command": ["scripts/run-benchmarks"] + list(argv),
            "started": started, "finished": finished,
            "check": self.args.check, "repetitions": None if self.args.no_wall
            else self.args.repetitions,
            "min_time_ms": self.args.min_time_ms,
            "scenarios": {s: configs for s, _, configs, _ in self.work},
            "notes": self.notes,
            "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        }
        meta.setdefault("run_id", os.path.basename(self.run_dir))
        meta.setdefault("created", started)
        meta["updated"] = finished
        meta["baseline_why"] = self.why
        meta["sides"] = sides
        meta["machine"] = machine_info(self.args.valgrind)
        meta.setdefault("invocations", []).append(invocation)
        meta["notes"] = sorted(set(meta.get("notes", []) + self.notes))
        benchlib.save_json(path, meta)


def machine_info(valgrind):
    cpu = None
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    governor = None
    try:
        with open("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", encoding="utf-8") as f:
            governor = f.read().strip()
    except OSError:
        pass
    vg = None
    if shutil.which(valgrind):
        vg = subprocess.run([valgrind, "--version"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True).stdout.strip() or None
    u = platform.uname()
    return {"hostname": u.node, "system": f"{u.system} {u.release}", "machine": u.machine,
            "cpu": cpu, "cpus": os.cpu_count(), "governor": governor, "valgrind": vg,
            "python": platform.python_version()}


def now_iso():
    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")


# --------------------------------------------------------------------------------------------
# Dry run and the gate's table

def show_cmd(cmd):
    """A command for the user to read: shell-quoted, except <placeholders>."""
    return " ".join(c if "<" in c and c.endswith(">") else shlex.quote(c)
                    for c in map(str, cmd))


def dry_run_lines(args, baseline, candidate, why, work_items, programs, run_dir, mapping):
    """What a run would do, as lines of text (nothing is built or run)."""
    head = f" (HEAD {candidate.sha})" if candidate.sha else ""
    lines = [f"baseline: {baseline.ref}{' ' + baseline.sha if baseline.sha else ''} ({why})",
             f"candidate: {candidate.ref}{head}"]
    for side in (baseline, candidate):
        progs = [p for p in programs if side.has_source(p)]
        if side.prebuilt:
            lines.append(f"{side.name}: prebuilt programs in {side.bin_dir}")
            continue
        if not progs:
            lines.append(f"{side.name}: nothing to build")
            continue
        if side.in_worktree:
            if os.path.isdir(side.src_dir):
                lines.append(f"{side.name}: reuse worktree {side.src_dir}")
            else:
                lines += [f"{side.name}: {show_cmd(c)}" for c in worktree_cmds(side)]
        if not os.path.exists(os.path.join(side.build_dir, "CMakeCache.txt")):
            lines.append(f"{side.name}: {show_cmd(cmake_configure_cmd(side))}")
        lines.append(f"{side.name}: {show_cmd(cmake_build_cmd(side, progs, args.jobs))}")
    for item in work_items:
        scenario = item["scenario"]
        program = mapping.program(scenario)
        configs = item["configs"] if item["configs"] == "all" else ",".join(item["configs"])
        if not candidate.has_source(program):
            lines.append(f"scenario {scenario}: skipped (the candidate has no {program})")
            continue
        sides = "baseline and candidate" if baseline.has_source(program) else \
            "candidate only (new scenario)"
        gated = " (gated configs only)" if args.check else ""
        lines.append(f"scenario {scenario}: configs {configs}{gated}; {sides}")
        cand_path = candidate.program_path(program)
        if not args.no_wall:
            calibrate = bench_cmd(cand_path, ["<configs>"], 1, None, args.min_time_ms)
            lines.append(f"  calibrate: {show_cmd(calibrate)}")
            lines.append(f"  wall time: {args.repetitions} repetitions per side, interleaved "
                         "baseline/candidate, each: "
                         f"{show_cmd(bench_cmd('<program>', ['<config>'], 1, '<calibrated>'))}")
        if not args.no_instructions:
            fixed = args.callgrind_iterations or mapping.scenarios[scenario]["callgrind_iterations"]
            lo = fixed[0] if fixed else CALLGRIND_LOW
            hi = fixed[1] if fixed else "<low + delta>"
            cg = callgrind_cmd(args.valgrind, "<out>", "<program>", "<config>", lo)
            lines.append(f"  instructions: {show_cmd(cg)} and --iterations {hi}, per side")
    lines.append(f"results: {run_dir}/<scenario>/{{baseline,candidate}}/results.<config>.json")
    return lines


def gate_rows(run, threshold, min_ir_diff=0.0):
    """Rows of the gate's table and whether any config regressed: its median instructions/op
    by more than threshold percent and at least min_ir_diff instructions, and, when a side was
    measured more than once, even its candidate's best estimate against the baseline's worst
    (a config whose runs scatter, e.g. because a background thread changes how often the main
    thread takes slow paths, fails only on a change larger than its noise)."""
    rows, failed = [], False
    for (scenario, config, side), res in sorted(run.results.items()):
        if side != "candidate":
            continue
        base = run.results.get((scenario, config, "baseline"))
        b = base.get("instructions_per_op") if base else None
        c = res.get("instructions_per_op")
        pct = benchlib.change_pct(b, c)
        b_est = ((base or {}).get("instructions") or {}).get("estimates") or [b]
        c_est = (res.get("instructions") or {}).get("estimates") or [c]
        if pct is None:
            status = "new (candidate only)"
        elif pct <= threshold:
            status = "ok"
        elif c - b < min_ir_diff:
            status = f"ok (under {min_ir_diff:g} Ir/op)"
        elif benchlib.change_pct(max(b_est), min(c_est)) <= threshold:
            noise = max(benchlib.summarize(b_est)["max"] / benchlib.summarize(b_est)["min"],
                        benchlib.summarize(c_est)["max"] / benchlib.summarize(c_est)["min"])
            status = f"ok (noisy: runs vary {(noise - 1) * 100:.0f}%)"
        else:
            status, failed = "FAIL", True
        rows.append((f"{scenario}/{config}", b, c, pct, status))
    return rows, failed


def format_gate_table(rows, threshold):
    head = ("config", "baseline Ir/op", "candidate Ir/op", "change", f"gate ({threshold:g}%)")
    body = []
    for name, b, c, pct, status in rows:
        body.append((name, "-" if b is None else f"{b:,.1f}", "-" if c is None else f"{c:,.1f}",
                     "-" if pct is None else f"{pct:+.2f}%", status))
    widths = [max(len(r[i]) for r in [head] + body) for i in range(len(head))]
    fmt = lambda r: "  ".join(  # noqa: E731
        r[i].ljust(widths[i]) if i == 0 else r[i].rjust(widths[i]) for i in range(len(r)))
    return "\n".join([fmt(head), fmt(tuple("-" * w for w in widths))] + [fmt(r) for r in body])


# --------------------------------------------------------------------------------------------

def main(argv):
    try:
        return run_main(argv)
    except BenchError as e:
        print(f"run-benchmarks: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def run_main(argv):
    args = parse_args(argv)
    repo = os.path.abspath(args.repo or REPO_ROOT)
    if benchlib.git(repo, "rev-parse", "--show-toplevel", check=False) is None:
        raise BenchError(f"{repo} is not a git repository")
    build_root = os.path.abspath(args.build_root or os.path.join(repo, "build"))
    mapping = benchlib.Mapping.load(args.mapping or os.path.join(repo, "benchmarks",
                                                                 "mapping.json"))
    for name in benchlib.unmapped_programs(mapping, os.path.join(repo, "benchmarks")):
        log(f"warning: benchmarks/{name} has no entry in the mapping: it is never selected")

    candidate = make_candidate(args, repo, build_root)
    try:
        baseline, why = make_baseline(args, repo, build_root)
    except BenchError as e:
        if args.list and (args.files or args.all_suites):
            baseline, why = None, None  # mapping files needs no baseline
        elif args.check:
            print(f"check: SKIPPED ({e})")
            return 0
        else:
            raise

    items, files, how = select_scenarios(args, mapping, repo, baseline.sha if baseline else None)
    items = apply_config_filter(items, args.configs)

    if args.list:
        print(json.dumps(list_output(mapping, items, files, baseline, why, candidate), indent=2))
        return 0

    artifacts = os.path.abspath(args.artifacts or os.path.join(build_root, "bench-artifacts"))
    run_id = args.run_id or datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = os.path.join(artifacts, run_id)

    if not items:
        if args.check:
            print(f"check: SKIPPED (no benchmark scenario affected by the {how})")
        else:
            log(f"no benchmark scenario affected by the {how}; use --scenario S or --all-suites")
        return 0

    programs = []
    for item in items:
        p = mapping.program(item["scenario"])
        if p not in programs:
            programs.append(p)

    if args.dry_run:
        for line in dry_run_lines(args, baseline, candidate, why, items, programs, run_dir,
                                  mapping):
            print(line)
        return 0

    if not args.no_instructions and shutil.which(args.valgrind) is None:
        if args.check:
            raise BenchError("valgrind is not installed (apt-get install valgrind): the gate "
                             "needs callgrind")
        log("warning: valgrind not found: no instruction counts (apt-get install valgrind)")
        args.no_instructions = True

    started = now_iso()
    log(f"baseline: {baseline.ref}{' ' + baseline.sha[:12] if baseline.sha else ''} ({why})")
    log(f"candidate: {candidate.ref}; results in {run_dir}")
    err = build_side(candidate, [p for p in programs if candidate.has_source(p)], args.jobs)
    if err:
        raise BenchError(f"candidate: {err}")
    base_programs = [p for p in programs if baseline.has_source(p)]
    try:
        err = build_side(baseline, base_programs, args.jobs)
    except BenchError as e:
        err = str(e)
    if err:
        baseline.build_error = err.splitlines()[0]
        log(f"baseline: {err}")
        if args.check:
            print(f"check: SKIPPED (the baseline {baseline.ref} does not build)")
            return 0
        log("warning: continuing with the candidate only")

    os.makedirs(run_dir, exist_ok=True)
    run = Run(args, repo, mapping, baseline, candidate, why, run_dir)
    run.resolve_configs(items)
    if baseline.build_error:
        run.note(f"the baseline did not build: candidate only ({baseline.build_error})")
    if not run.work:
        msg = "nothing to run (no gated config affected)" if args.check else "nothing to run"
        print(f"check: SKIPPED ({msg})" if args.check else msg)
        return 0
    try:
        if not args.no_wall:
            run.run_wall()
        if not args.no_instructions:
            run.run_instructions()
    finally:
        run.save_results()
        run.write_meta(argv, started, now_iso())

    if args.check:
        rows, failed = gate_rows(run, args.threshold, args.min_ir_diff)
        print(format_gate_table(rows, args.threshold))
        compared = sum(1 for r in rows if r[3] is not None)
        if failed:
            bad = [r[0] for r in rows if r[4] == "FAIL"]
            what = (f"{len(bad)} of {compared} configs regressed more than {args.threshold:g}% "
                    f"in instructions/op: {', '.join(bad)}")
            accepted = benchlib.accepting_commits(repo, baseline.sha) if baseline.sha else []
            if accepted:
                print(f"check: ACCEPTED ({what}; accepted by \"{benchlib.ACCEPT_TRAILER}\" in "
                      f"{', '.join(accepted)})")
                return 0
            print(f"check: FAIL ({what})")
            return 1
        if compared == 0:
            print("check: SKIPPED (no config exists on both sides)")
            return 0
        print(f"check: PASS ({compared} configs within {args.threshold:g}%; results in "
              f"{run_dir})")
        return 0

    import perf_analyze  # noqa: E402  (same folder)
    print(perf_analyze.render_text(perf_analyze.analyze(run_dir)))
    return 0
