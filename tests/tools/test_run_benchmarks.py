"""Tests of scripts/run-benchmarks (scripts/lib/bench_run.py): the default baseline and changed
files in throw-away git repositories, --list, --dry-run, argument checks, and whole runs and
--check gates on fake benchmark programs under a fake valgrind (tests/tools/fakebench.py)."""

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import types
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "scripts", "lib"))
sys.path.insert(0, HERE)

import bench_run  # noqa: E402
import benchlib  # noqa: E402
import fakebench  # noqa: E402
import perf_analyze  # noqa: E402
from benchlib import BenchError  # noqa: E402

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com",
           "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}

MAPPING = {
    "global_paths": ["benchmarks/bench.h"],
    "scenarios": {
        "span": {"paths": ["sdk/src/"], "gate": ["start", "finish"],
                 "callgrind_all_threads": ["slow"]},
        "propagation": {"paths": ["propagators/"], "gate": True},
        "batch_processor": {"paths": ["sdk/src/processors.c"], "instructions": False},
    },
}


def sh(cwd, *args):
    env = dict(os.environ, **GIT_ENV)
    subprocess.run(args, cwd=cwd, check=True, env=env, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def write(root, rel, text=""):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def make_repo(root):
    """A repository on main with two commits: the first has the span benchmark, the second
    changes sdk/src/span.c and adds the propagation benchmark."""
    sh(root, "git", "init", "-q", "-b", "main")
    write(root, "benchmarks/mapping.json", json.dumps(MAPPING))
    write(root, "benchmarks/bench_span.c", "/* span */\n")
    write(root, "sdk/src/span.c", "int a;\n")
    write(root, "README.md", "readme\n")
    sh(root, "git", "add", "-A")
    sh(root, "git", "commit", "-q", "-m", "one")
    write(root, "sdk/src/span.c", "int a, b;\n")
    write(root, "benchmarks/bench_propagation.c", "/* propagation */\n")
    write(root, "propagators/src/b3.c", "int b3;\n")
    sh(root, "git", "add", "-A")
    sh(root, "git", "commit", "-q", "-m", "two")


def run_tool(argv):
    """Runs bench_run.main; returns (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = bench_run.main(argv)
        except SystemExit as e:  # argparse errors
            rc = e.code
    return rc, out.getvalue(), err.getvalue()


class GitBaselineTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="otel-tools-test-")
        self.repo = os.path.join(self.tmp, "repo")
        os.makedirs(self.repo)
        make_repo(self.repo)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_clean_main_compares_the_last_commit(self):
        ref, sha, why = benchlib.default_baseline(self.repo)
        self.assertEqual(ref, "HEAD~1")
        self.assertEqual(sha, benchlib.rev_parse(self.repo, "HEAD~1"))
        self.assertIn("clean", why)
        self.assertEqual(benchlib.changed_files(self.repo, sha),
                         ["benchmarks/bench_propagation.c", "propagators/src/b3.c",
                          "sdk/src/span.c"])

    def test_main_with_changes_compares_against_head(self):
        write(self.repo, "README.md", "changed\n")
        write(self.repo, "new/untracked.c", "x\n")
        ref, sha, _ = benchlib.default_baseline(self.repo)
        self.assertEqual((ref, sha), ("HEAD", benchlib.rev_parse(self.repo, "HEAD")))
        self.assertEqual(benchlib.changed_files(self.repo, sha),
                         ["README.md", "new/untracked.c"])

    def test_branch_compares_against_the_merge_base_with_main(self):
        base = benchlib.rev_parse(self.repo, "HEAD")
        sh(self.repo, "git", "checkout", "-q", "-b", "feature")
        write(self.repo, "sdk/src/tracer.c", "t\n")
        sh(self.repo, "git", "add", "-A")
        sh(self.repo, "git", "commit", "-q", "-m", "three")
        ref, sha, _ = benchlib.default_baseline(self.repo)
        self.assertEqual(sha, base)
        self.assertIn("merge-base", ref)
        self.assertEqual(benchlib.changed_files(self.repo, sha), ["sdk/src/tracer.c"])

    def test_renames_list_both_names(self):
        sh(self.repo, "git", "mv", "sdk/src/span.c", "sdk/src/span2.c")
        self.assertEqual(benchlib.changed_files(self.repo, benchlib.rev_parse(self.repo, "HEAD")),
                         ["sdk/src/span.c", "sdk/src/span2.c"])

    def test_ignored_files_are_not_changes(self):
        write(self.repo, ".gitignore", "/build/\n")
        sh(self.repo, "git", "add", ".gitignore")
        sh(self.repo, "git", "commit", "-q", "-m", "ignore")
        write(self.repo, "build/bench-candidate/x.o", "")
        self.assertFalse(benchlib.worktree_dirty(self.repo))

    def test_single_clean_commit_has_no_baseline(self):
        single = os.path.join(self.tmp, "single")
        os.makedirs(single)
        sh(single, "git", "init", "-q", "-b", "main")
        write(single, "a.c", "a\n")
        sh(single, "git", "add", "-A")
        sh(single, "git", "commit", "-q", "-m", "only")
        with self.assertRaisesRegex(BenchError, "no baseline"):
            benchlib.default_baseline(single)
        # The gate skips rather than fails.
        rc, out, _ = run_tool(["--repo", single, "--check", "--mapping",
                               os.path.join(self.repo, "benchmarks", "mapping.json")])
        self.assertEqual(rc, 0)
        self.assertIn("check: SKIPPED (no baseline", out)

    def test_worktree_is_created_at_the_baseline_and_reused(self):
        sha = benchlib.rev_parse(self.repo, "HEAD~1")
        side = bench_run.Side("baseline", "HEAD~1", sha,
                              src_dir=os.path.join(self.tmp, "wt", sha),
                              build_dir=os.path.join(self.tmp, "b"), repo=self.repo,
                              in_worktree=True)
        self.assertTrue(side.has_source("bench_span"))
        self.assertFalse(side.has_source("bench_propagation"))
        bench_run.ensure_worktree(side)
        self.assertEqual(benchlib.git(side.src_dir, "rev-parse", "HEAD"), sha)
        with open(os.path.join(side.src_dir, "sdk", "src", "span.c"), encoding="utf-8") as f:
            self.assertEqual(f.read(), "int a;\n")
        marker = os.path.join(side.src_dir, "marker")
        write(side.src_dir, "marker", "kept\n")
        bench_run.ensure_worktree(side)  # reused, not recreated
        self.assertTrue(os.path.exists(marker))
        # A plain folder in its place (inside the repository) is replaced by a worktree.
        inside = bench_run.Side("baseline", "HEAD", benchlib.rev_parse(self.repo, "HEAD"),
                                src_dir=os.path.join(self.repo, "build", "wt"),
                                build_dir=os.path.join(self.tmp, "b2"), repo=self.repo,
                                in_worktree=True)
        write(self.repo, "build/wt/stray.txt", "x\n")
        bench_run.ensure_worktree(inside)
        self.assertFalse(os.path.exists(os.path.join(inside.src_dir, "stray.txt")))
        self.assertTrue(os.path.exists(os.path.join(inside.src_dir, "sdk", "src", "span.c")))
        # The main working tree is untouched.
        with open(os.path.join(self.repo, "sdk", "src", "span.c"), encoding="utf-8") as f:
            self.assertEqual(f.read(), "int a, b;\n")


class ListAndDryRunTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="otel-tools-test-")
        self.repo = os.path.join(self.tmp, "repo")
        os.makedirs(self.repo)
        make_repo(self.repo)
        self.common = ["--repo", self.repo, "--build-root", os.path.join(self.tmp, "build")]

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def list_json(self, *argv):
        rc, out, err = run_tool(self.common + ["--list", *argv])
        self.assertEqual(rc, 0, err)
        return json.loads(out)

    def test_list_given_files(self):
        doc = self.list_json("propagators/src/b3.c", "docs/x.md")
        self.assertEqual(doc["files"], ["docs/x.md", "propagators/src/b3.c"])
        self.assertEqual(doc["scenarios"], [{
            "scenario": "propagation", "program": "bench_propagation", "configs": "all",
            "gate": True, "files": ["propagators/src/b3.c"]}])

    def test_list_defaults_to_the_changes_against_the_baseline(self):
        doc = self.list_json()
        self.assertEqual(doc["baseline"]["ref"], "HEAD~1")
        self.assertEqual([s["scenario"] for s in doc["scenarios"]], ["span", "propagation"])
        self.assertEqual(doc["scenarios"][0]["gate"], ["start", "finish"])
        # batch_processor is affected by sdk/src/processors.c only, which did not change.
        self.assertNotIn("not_built", doc)

    def test_list_reports_scenarios_without_a_program(self):
        doc = self.list_json("sdk/src/processors.c")
        self.assertEqual([s["scenario"] for s in doc["scenarios"]], ["span"])
        self.assertEqual(doc["not_built"], ["batch_processor"])

    def test_list_all_suites(self):
        doc = self.list_json("--all-suites")
        self.assertEqual([s["scenario"] for s in doc["scenarios"]], ["span", "propagation"])

    def test_list_with_config_filter(self):
        doc = self.list_json("--configs", "span:start", "sdk/src/span.c", "propagators/x.c")
        self.assertEqual([(s["scenario"], s["configs"]) for s in doc["scenarios"]],
                         [("span", ["start"])])

    def test_dry_run_prints_builds_and_runs_without_doing_them(self):
        rc, out, err = run_tool(self.common + ["--dry-run", "--jobs", "3"])
        self.assertEqual(rc, 0, err)
        base = benchlib.rev_parse(self.repo, "HEAD~1")
        build = os.path.join(self.tmp, "build")
        self.assertIn(f"baseline: HEAD~1 {base}", out)
        self.assertIn(f"git -C {self.repo} worktree add --detach "
                      f"{build}/bench-worktrees/{base} {base}", out)
        self.assertIn(f"cmake -S {build}/bench-worktrees/{base} -B "
                      f"{build}/bench-baseline-{base[:12]} -G Ninja -DCMAKE_BUILD_TYPE=Release "
                      "-DOTEL_BUILD_BENCHMARKS=ON -DOTEL_BUILD_TESTS=OFF "
                      "-DOTEL_BUILD_EXAMPLES=OFF", out)
        # The baseline has no bench_propagation: built and run on the candidate only.
        self.assertIn(f"cmake --build {build}/bench-baseline-{base[:12]} -j 3 --target "
                      "bench_span\n", out)
        self.assertIn(f"cmake --build {build}/bench-candidate -j 3 --target bench_span "
                      "--target bench_propagation", out)
        self.assertIn("scenario propagation: configs all; candidate only (new scenario)", out)
        self.assertIn("scenario span: configs all; baseline and candidate", out)
        self.assertIn("7 repetitions per side, interleaved", out)
        self.assertIn("--tool=callgrind", out)
        self.assertFalse(os.path.exists(build), "a dry run must not create anything")

    def test_check_dry_run_says_gated_only(self):
        rc, out, _ = run_tool(self.common + ["--dry-run", "--check", "--scenario", "span"])
        self.assertEqual(rc, 0)
        self.assertIn("(gated configs only)", out)
        self.assertNotIn("wall time:", out)

    def test_nothing_affected(self):
        write(self.repo, "README.md", "only docs\n")
        sh(self.repo, "git", "commit", "-q", "-am", "docs")
        rc, out, err = run_tool(self.common + ["--check"])
        self.assertEqual(rc, 0)
        self.assertIn("check: SKIPPED (no benchmark scenario affected by the files changed", out)
        rc, out, err = run_tool(self.common)
        self.assertEqual(rc, 0)
        self.assertIn("no benchmark scenario affected", err)

    def test_unknown_scenario_and_bad_baseline(self):
        rc, _, err = run_tool(self.common + ["--scenario", "nope", "--dry-run"])
        self.assertEqual(rc, 2)
        self.assertIn("unknown scenario nope", err)
        rc, _, err = run_tool(self.common + ["--baseline", "no-such-ref", "--dry-run"])
        self.assertEqual(rc, 2)
        self.assertIn("not a commit", err)


class ArgumentTest(unittest.TestCase):
    def test_rejected_combinations(self):
        for argv in (["some/file.c"], ["--check", "--no-instructions"],
                     ["--callgrind-iterations", "10,40"], ["--callgrind-iterations", "40,20"],
                     ["--callgrind-iterations", "x"], ["--repetitions", "0"]):
            with self.subTest(argv=argv):
                rc, _, _ = run_tool(argv)
                self.assertEqual(rc, 2)

    def test_defaults_and_quick(self):
        args = bench_run.parse_args([])
        self.assertEqual((args.repetitions, args.min_time_ms, args.threshold), (7, 200, 3.0))
        args = bench_run.parse_args(["--quick"])
        self.assertEqual((args.repetitions, args.min_time_ms), (3, 50))
        args = bench_run.parse_args(["--quick", "--repetitions", "5"])
        self.assertEqual(args.repetitions, 5)
        args = bench_run.parse_args(["--check"])
        self.assertTrue(args.no_wall)
        self.assertEqual(bench_run.parse_args(["--callgrind-iterations", "20,70"])
                         .callgrind_iterations, (20, 70))

    def test_config_filter(self):
        self.assertEqual(bench_run.parse_config_filter("a, b,span:c"),
                         ({"a", "b"}, {"span": {"c"}}))
        items = [{"scenario": "span", "configs": "all", "files": []},
                 {"scenario": "enc", "configs": ["*gzip*"], "files": []}]
        got = bench_run.apply_config_filter(items, "proto_gzip,span:start")
        self.assertEqual([(i["scenario"], i["configs"]) for i in got],
                         [("span", ["proto_gzip", "start"]), ("enc", ["proto_gzip"])])
        self.assertEqual(bench_run.apply_config_filter(items, "enc:json"), [])


class GateRowsTest(unittest.TestCase):
    @staticmethod
    def res(*estimates):
        est = list(estimates)
        return {"instructions_per_op": benchlib.summarize(est)["median"],
                "instructions": {"estimates": est}}

    def rows(self, results, threshold=3.0, min_ir_diff=1.0):
        run = types.SimpleNamespace(results=results)
        return bench_run.gate_rows(run, threshold, min_ir_diff)

    def test_statuses(self):
        r = self.res
        results = {
            ("s", "same", "baseline"): r(100.0), ("s", "same", "candidate"): r(100.0),
            ("s", "worse", "baseline"): r(100.0), ("s", "worse", "candidate"): r(104.0),
            ("s", "tiny", "baseline"): r(5.0), ("s", "tiny", "candidate"): r(5.5),
            # Medians +8%, but the candidate's best run is within 3% of the baseline's worst.
            ("s", "noisy", "baseline"): r(100.0, 98.0, 101.0),
            ("s", "noisy", "candidate"): r(108.0, 103.0, 110.0),
            ("s", "new", "candidate"): r(7.0),
        }
        rows, failed = self.rows(results)
        self.assertTrue(failed)
        status = {row[0]: row[4] for row in rows}
        self.assertEqual(status, {"s/same": "ok", "s/worse": "FAIL",
                                  "s/tiny": "ok (under 1 Ir/op)",
                                  "s/noisy": "ok (noisy: runs vary 7%)",
                                  "s/new": "new (candidate only)"})
        pct = {row[0]: row[3] for row in rows}
        self.assertAlmostEqual(pct["s/worse"], 4.0)
        self.assertAlmostEqual(pct["s/noisy"], 8.0)
        self.assertIsNone(pct["s/new"])
        _, failed = self.rows(results, threshold=5.0)
        self.assertFalse(failed)

    def test_regression_beyond_the_noise_fails(self):
        results = {("s", "c", "baseline"): self.res(100.0, 97.0, 102.0),
                   ("s", "c", "candidate"): self.res(120.0, 118.0, 125.0)}
        rows, failed = self.rows(results)
        self.assertTrue(failed)
        table = bench_run.format_gate_table(rows, 3.0)
        self.assertIn("s/c", table)
        self.assertIn("+20.00%", table)
        self.assertIn("FAIL", table)


class FakeRunTest(unittest.TestCase):
    """Whole runs on fake programs: --baseline-bin/--candidate-bin skip the builds."""

    SPAN_BASE = {"start": {"ns": 100.0, "ir": 500, "ops": 1000, "allocs": 1.0},
                 "finish": {"ns": 50.0, "ir": 200, "ops": 1000},
                 "slow": {"ns": 1000.0, "ir": 9000}}
    SPAN_CAND = {"start": {"ns": 110.0, "ir": 520, "ops": 1000, "allocs": 2.0},
                 "finish": {"ns": 50.0, "ir": 200, "ops": 1000},
                 "slow": {"ns": 1000.0, "ir": 9000},
                 "newone": {"ns": 5.0, "ir": 20}}

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="otel-tools-test-")
        self.repo = os.path.join(self.tmp, "repo")
        os.makedirs(self.repo)
        make_repo(self.repo)
        self.log = os.path.join(self.tmp, "log")
        self.base = os.path.join(self.tmp, "base")
        self.cand = os.path.join(self.tmp, "cand")
        fakebench.write_fake_bench(self.base, "span", self.SPAN_BASE, "baseline", self.log)
        fakebench.write_fake_bench(self.cand, "span", self.SPAN_CAND, "candidate", self.log)
        fakebench.write_fake_bench(self.cand, "propagation",
                                   {"inject": {"ns": 80.0, "ir": 300}}, "candidate", self.log)
        self.valgrind = fakebench.write_fake_valgrind(os.path.join(self.tmp, "valgrind"))
        self.artifacts = os.path.join(self.tmp, "artifacts")
        self.common = ["--repo", self.repo, "--baseline-bin", self.base, "--candidate-bin",
                       self.cand, "--valgrind", self.valgrind, "--artifacts", self.artifacts,
                       "--min-time-ms", "1", "--jobs", "2", "--retries", "1"]

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def result(self, run_id, scenario, side, config):
        return benchlib.load_json(benchlib.result_path(
            os.path.join(self.artifacts, run_id), scenario, side, config))

    def test_run_interleaves_and_saves_merged_results(self):
        os.environ["OTEL_TRACES_SAMPLER"] = "always_off"
        try:
            rc, out, err = run_tool(self.common + ["--scenario", "span", "--scenario",
                                                   "propagation", "--repetitions", "3",
                                                   "--run-id", "r1"])
        finally:
            del os.environ["OTEL_TRACES_SAMPLER"]
        self.assertEqual(rc, 0, err)
        calls = fakebench.read_log(self.log)
        self.assertTrue(all(c["otel_env"] == [] for c in calls), "OTEL_* must not leak")
        wall = [c for c in calls if not c["callgrind"] and "--list" not in c["argv"]]
        calibration = [c for c in wall if "--min-time-ms" in c["argv"]]
        timed = [c for c in wall if "--min-time-ms" not in c["argv"]]
        self.assertEqual(len(calibration), 2)  # one per scenario, on the candidate
        self.assertTrue(all(c["side"] == "candidate" for c in calibration))
        # span: 3 configs on both sides, 1 new config; propagation: candidate only.
        self.assertEqual(len(timed), 3 * (3 * 2 + 1 + 1))
        # Each baseline run is immediately followed by the candidate run of the same config,
        # with the same fixed iteration count.
        for i, c in enumerate(timed):
            if c["side"] == "baseline":
                nxt = timed[i + 1]
                self.assertEqual(nxt["side"], "candidate")
                self.assertEqual(nxt["argv"], c["argv"])
                self.assertIn("--iterations", c["argv"])
                self.assertEqual(c["argv"][c["argv"].index("--repetitions") + 1], "1")
        # Repetition 1 of every config comes before repetition 2 of any.
        firsts = [c["argv"][1] for c in timed[:8]]
        self.assertEqual(sorted(set(firsts)), ["finish", "inject", "newone", "slow", "start"])

        run_dir = os.path.join(self.artifacts, "r1")
        b = self.result("r1", "span", "baseline", "start")
        c = self.result("r1", "span", "candidate", "start")
        self.assertEqual(len(b["repetitions"]), 3)
        self.assertEqual(len(c["repetitions"]), 3)
        self.assertEqual(b["instructions_per_op"], 500.0)
        self.assertEqual(c["instructions_per_op"], 520.0)
        self.assertEqual(c["instructions"]["ops_per_iteration"], 1000)
        lo, hi = c["instructions"]["iterations"]
        self.assertEqual(lo, 20)
        self.assertGreater(hi, lo)
        self.assertEqual(b["instructions"]["iterations"], [lo, hi])  # same counts both sides
        self.assertEqual(c["allocs_per_op"], 2.0)
        self.assertEqual(c["instructions"]["threads"], "main")
        slow = self.result("r1", "span", "candidate", "slow")
        self.assertEqual(slow["instructions"]["threads"], "all")
        self.assertEqual(slow["instructions_per_op"], 9000.0)
        self.assertEqual(c["sha"], None)
        self.assertEqual(c["binary"], os.path.join(self.cand, "bench_span"))
        self.assertFalse(os.path.exists(benchlib.result_path(run_dir, "span", "baseline",
                                                             "newone")))
        self.assertFalse(os.path.exists(benchlib.result_path(run_dir, "propagation",
                                                             "baseline", "inject")))
        self.assertEqual(self.result("r1", "propagation", "candidate",
                                     "inject")["instructions_per_op"], 300.0)
        meta = benchlib.load_json(os.path.join(run_dir, "meta.json"))
        self.assertEqual(meta["run_id"], "r1")
        self.assertEqual(meta["sides"]["baseline"]["bin_dir"], self.base)
        self.assertEqual(len(meta["invocations"]), 1)
        self.assertEqual(meta["invocations"][0]["repetitions"], 3)
        self.assertIn("machine", meta)
        self.assertTrue(any("new scenario" in n and "propagation" in n for n in meta["notes"]))
        self.assertTrue(any("span/newone: new config" in n for n in meta["notes"]))
        # The summary printed at the end is perf-analyze's table.
        self.assertIn("span/start", out)
        self.assertIn("REGRESSION", out)            # +10% wall time
        self.assertIn("small regression", out)      # +4% instructions

    def test_run_id_adds_repetitions_to_an_earlier_run(self):
        argv = self.common + ["--scenario", "span", "--configs", "start", "--repetitions", "2",
                              "--run-id", "r2", "--no-instructions"]
        self.assertEqual(run_tool(argv)[0], 0)
        self.assertEqual(run_tool(argv)[0], 0)
        res = self.result("r2", "span", "candidate", "start")
        self.assertEqual(len(res["repetitions"]), 4)
        self.assertIsNone(res["instructions_per_op"])
        meta = benchlib.load_json(os.path.join(self.artifacts, "r2", "meta.json"))
        self.assertEqual(len(meta["invocations"]), 2)
        # A changed program replaces the earlier results instead of mixing them.
        fakebench.write_fake_bench(self.cand, "span", dict(self.SPAN_CAND, extra={"ns": 1.0,
                                                                                  "ir": 1}),
                                   "candidate", self.log)
        rc, _, err = run_tool(argv)
        self.assertEqual(rc, 0)
        self.assertIn("program changed", err)
        self.assertEqual(len(self.result("r2", "span", "candidate", "start")["repetitions"]), 2)

    def test_check_fails_on_an_instruction_regression_beyond_the_threshold(self):
        argv = self.common + ["--check", "--scenario", "span", "--run-id", "c1"]
        rc, out, err = run_tool(argv)
        self.assertEqual(rc, 1, err)
        self.assertIn("span/start", out)
        self.assertIn("+4.00%", out)
        self.assertIn("FAIL", out)
        self.assertIn("check: FAIL (1 of 2 configs regressed more than 3% in instructions/op: "
                      "span/start)", out)
        # Only the gated configs ran, and no wall-time runs.
        calls = fakebench.read_log(self.log)
        configs = {c["argv"][c["argv"].index("--configs") + 1] for c in calls
                   if "--configs" in c["argv"]}
        self.assertEqual(configs, {"start", "finish"})
        self.assertTrue(all(c["callgrind"] for c in calls if "--list" not in c["argv"]))
        # The gate's results can be read by perf-analyze.
        report = perf_analyze.analyze(os.path.join(self.artifacts, "c1"))
        self.assertEqual([r["name"] for r in report["rows"]], ["span/finish", "span/start"])

    def test_check_remeasures_suspects_and_allows_for_their_noise(self):
        # The candidate's finish costs the same as the baseline's, but its first high run
        # carries 10 instructions per op (5%) of noise; the retry shows it is noise.
        cand = dict(self.SPAN_CAND, start=self.SPAN_BASE["start"])
        fakebench.write_fake_bench(self.cand, "span", cand, "candidate", self.log,
                                   spike_ir=10 * 1000 * 10000)
        rc, out, err = run_tool(self.common + ["--check", "--scenario", "span", "--configs",
                                               "finish", "--callgrind-iterations", "20,10020",
                                               "--run-id", "n1"])
        self.assertEqual(rc, 0, out + err)
        self.assertIn("re-measuring 1 configs over the threshold, 1 more times per side", err)
        res = self.result("n1", "span", "candidate", "finish")
        self.assertEqual(len(res["instructions"]["runs"]["high"]), 2)
        self.assertEqual(res["instructions"]["estimates"], [210.0, 200.0])
        self.assertEqual(res["instructions_per_op"], 205.0)
        self.assertIn("+2.50%", out)  # the median of the two estimates
        self.assertEqual(len(self.result("n1", "span", "baseline",
                                         "finish")["instructions"]["runs"]["high"]), 2)
        self.assertIn("check: PASS", out)

    def test_callgrind_runs_measures_every_config_several_times(self):
        rc, _, err = run_tool(self.common + ["--scenario", "span", "--configs", "finish",
                                             "--no-wall", "--callgrind-runs", "3",
                                             "--run-id", "n2"])
        self.assertEqual(rc, 0, err)
        for side in ("baseline", "candidate"):
            ins = self.result("n2", "span", side, "finish")["instructions"]
            self.assertEqual((len(ins["runs"]["low"]), len(ins["runs"]["high"])), (3, 3))
            self.assertEqual(ins["spread_pct"], 0.0)

    def test_check_passes_under_a_higher_threshold(self):
        rc, out, err = run_tool(self.common + ["--check", "--scenario", "span", "--threshold",
                                               "5"])
        self.assertEqual(rc, 0, err)
        self.assertIn("check: PASS (2 configs within 5%", out)

    def test_check_ignores_increases_under_the_minimum_instruction_difference(self):
        # start: 500 -> 520 Ir/op, +4%, 20 instructions.
        rc, out, _ = run_tool(self.common + ["--check", "--scenario", "span", "--min-ir-diff",
                                             "25"])
        self.assertEqual(rc, 0)
        self.assertIn("ok (under 25 Ir/op)", out)
        rc, out, _ = run_tool(self.common + ["--check", "--scenario", "span", "--min-ir-diff",
                                             "20"])
        self.assertEqual(rc, 1)

    def test_check_regression_accepted_by_a_commit_trailer(self):
        write(self.repo, "sdk/src/span.c", "int a, b, c;\n")
        sh(self.repo, "git", "commit", "-q", "-am",
           "Record links\n\nCosts 4% more per span.\n\nBench-Gate: accept\n")
        rc, out, err = run_tool(self.common + ["--check", "--baseline", "HEAD~1"])
        self.assertEqual(rc, 0, err)
        head = benchlib.git(self.repo, "rev-parse", "--short", "HEAD")
        self.assertIn(f'check: ACCEPTED (1 of 2 configs regressed more than 3% in '
                      f'instructions/op: span/start; accepted by "Bench-Gate: accept" in {head})',
                      out)
        # Without the trailer in the compared range, the same change fails.
        rc, out, _ = run_tool(self.common + ["--check", "--scenario", "span", "--baseline",
                                             "HEAD"])
        self.assertEqual(rc, 1)
        self.assertIn("check: FAIL", out)

    def test_check_with_fixed_callgrind_iterations(self):
        rc, out, err = run_tool(self.common + ["--check", "--scenario", "span", "--configs",
                                               "finish", "--callgrind-iterations", "16,26",
                                               "--run-id", "c2"])
        self.assertEqual(rc, 0, err)
        res = self.result("c2", "span", "baseline", "finish")
        self.assertEqual(res["instructions"]["iterations"], [16, 26])
        self.assertEqual(res["instructions_per_op"], 200.0)

    def test_check_skips_scenarios_without_gated_configs(self):
        fakebench.write_fake_bench(self.cand, "batch_processor", {"one": {"ns": 1, "ir": 1}})
        rc, out, _ = run_tool(self.common + ["--check", "--scenario", "batch_processor"])
        self.assertEqual(rc, 0)
        self.assertIn("check: SKIPPED", out)

    def test_failing_baseline_program_leaves_the_candidate_alone(self):
        for fail, message in (("runs", "the baseline program failed, candidate only"),
                              ("all", "--list failed, candidate only")):
            with self.subTest(fail=fail):
                fakebench.write_fake_bench(self.base, "span", self.SPAN_BASE, "baseline",
                                           self.log, fail=fail)
                rc, _, err = run_tool(self.common + ["--scenario", "span", "--configs",
                                                     "finish", "--repetitions", "2",
                                                     "--run-id", "f-" + fail])
                self.assertEqual(rc, 0, err)
                self.assertIn(message, err)
                res = self.result("f-" + fail, "span", "candidate", "finish")
                self.assertEqual(len(res["repetitions"]), 2)
                self.assertEqual(res["instructions_per_op"], 200.0)
                self.assertFalse(os.path.exists(benchlib.result_path(
                    os.path.join(self.artifacts, "f-" + fail), "span", "baseline", "finish")))

    def test_failing_candidate_program_is_an_error(self):
        fakebench.write_fake_bench(self.cand, "span", self.SPAN_CAND, "candidate", self.log,
                                   fail="runs")
        rc, _, err = run_tool(self.common + ["--scenario", "span", "--repetitions", "1"])
        self.assertEqual(rc, 2)
        self.assertIn("fake failure", err)

    def test_profile_keeps_callgrind_files_for_perf_analyze(self):
        rc, _, err = run_tool(self.common + ["--scenario", "span", "--configs", "start",
                                             "--no-wall", "--profile", "--run-id", "p1"])
        self.assertEqual(rc, 0, err)
        d = os.path.join(self.artifacts, "p1", "span", "candidate")
        self.assertTrue(os.path.exists(os.path.join(d, "callgrind.start.low.out")))
        self.assertTrue(os.path.exists(os.path.join(d, "callgrind.start.high.out")))
        # Only the main thread's profile is kept (the fake valgrind adds a thread -02).
        self.assertEqual(sorted(f for f in os.listdir(d) if ".out" in f),
                         ["callgrind.start.high.out", "callgrind.start.low.out"])
        report = perf_analyze.analyze(os.path.join(self.artifacts, "p1"))
        perf_analyze.add_profiles(report, top=5, compare=True, min_calls=0, sort="change")
        prof = report["rows"][0]["profile"]
        top = prof["top"]["candidate"][0]
        self.assertEqual(top["function"], "hot_function")
        self.assertEqual(top["self_per_op"], 520.0)
        self.assertEqual(top["calls_per_op"], 1.0)
        cmp_row = prof["compare"][0]
        self.assertEqual((cmp_row["function"], cmp_row["baseline_self_per_op"],
                          cmp_row["candidate_self_per_op"], cmp_row["diff_per_op"]),
                         ("hot_function", 500.0, 520.0, 20.0))


if __name__ == "__main__":
    unittest.main()
