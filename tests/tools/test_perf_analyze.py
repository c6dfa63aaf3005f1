"""Tests of scripts/perf-analyze (scripts/lib/perf_analyze.py) on a run folder written by hand:
finding the latest run, the comparison arithmetic and verdicts, filtering and sorting, the
text/Markdown/JSON output, and the per-function profiles."""

import contextlib
import io
import json
import os
import shutil
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "scripts", "lib"))

import benchlib  # noqa: E402
import perf_analyze  # noqa: E402
from benchlib import BenchError  # noqa: E402


def result(scenario, config, side, reps, ir=None, allocs=None, profile=False):
    res = benchlib.new_result(scenario, config, side, {"ref": side, "sha": side[0] * 40})
    res["repetitions"] = list(reps)
    res["allocs"] = [allocs] * len(reps) if allocs is not None else []
    res["iterations"] = 100
    res["ops_per_iteration"] = 10
    if ir is not None:
        res["instructions_per_op"] = ir
        res["instructions"] = {"iterations": [20, 120], "ops_per_iteration": 10,
                               "Ir": [0, 0], "instructions_per_op": ir}
    if profile:
        res["profile"] = {"low": f"callgrind.{config}.low.out",
                          "high": f"callgrind.{config}.high.out"}
    benchlib.refresh_stats(res)
    return res


def callgrind_file(path, functions):
    """functions: {name: (self Ir, calls)}; main calls all the others."""
    lines = ["# callgrind format", "positions: line", "events: Ir", "fl=(1) x.c", "fn=(1) main",
             "1 7"]
    for i, (name, (_, calls)) in enumerate(functions.items(), start=2):
        lines += [f"cfn=({i}) {name}", f"calls={calls} 1", "1 0"]
    for i, (name, (cost, _)) in enumerate(functions.items(), start=2):
        lines += [f"fn=({i})", f"1 {cost}"]
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


class RunFolder:
    """A fixed artifacts folder with two runs; the second is the latest."""

    def __init__(self, root):
        self.root = root
        self.old = os.path.join(root, "20250101-000000")
        self.run = os.path.join(root, "20250102-000000")
        benchlib.save_json(os.path.join(self.old, "meta.json"),
                           {"run_id": "20250101-000000", "updated": "2025-01-01T00:00:00+00:00"})
        benchlib.save_json(os.path.join(self.old, "span", "candidate", "results.old.json"),
                           result("span", "old", "candidate", [1.0]))
        meta = {"run_id": "20250102-000000", "updated": "2025-01-02T00:00:00+00:00",
                "sides": {"baseline": {"ref": "main", "sha": "a" * 40},
                          "candidate": {"ref": "working tree", "sha": "c" * 40,
                                        "compiler": {"version": "gcc 12"}}},
                "machine": {"cpu": "Test CPU", "cpus": 2},
                "notes": ["propagation: new scenario"]}
        benchlib.save_json(os.path.join(self.run, "meta.json"), meta)
        rows = [
            ("span", "start", [100, 102, 98, 100, 100], [110, 111, 109, 110, 110], 500, 520,
             1.0, 2.0),
            ("span", "finish", [50, 60, 40, 55, 45], [51, 61, 41, 56, 46], None, None, None,
             None),
            ("span", "get-context", [10, 10, 10], [8, 8, 8], 100, 100, 0.0, 0.0),
        ]
        for scenario, config, b, c, bir, cir, ba, ca in rows:
            for side, reps, ir, allocs in (("baseline", b, bir, ba), ("candidate", c, cir, ca)):
                benchlib.save_json(
                    benchlib.result_path(self.run, scenario, side, config),
                    result(scenario, config, side, reps, ir, allocs,
                           profile=(config == "start")))
        benchlib.save_json(benchlib.result_path(self.run, "propagation", "candidate", "inject"),
                           result("propagation", "inject", "candidate", [80, 81, 79], 300))
        # Profiles of span/start: low and high runs 100 iterations x 10 ops apart.
        d = os.path.join(self.run, "span")
        callgrind_file(os.path.join(d, "baseline", "callgrind.start.low.out"),
                       {"hot": (20000, 2000), "gone": (3000, 100)})
        callgrind_file(os.path.join(d, "baseline", "callgrind.start.high.out"),
                       {"hot": (120000, 12000), "gone": (13000, 1100)})
        callgrind_file(os.path.join(d, "candidate", "callgrind.start.low.out"),
                       {"hot": (22000, 2000), "new": (1000, 10)})
        callgrind_file(os.path.join(d, "candidate", "callgrind.start.high.out"),
                       {"hot": (132000, 12000), "new": (6000, 60)})


class PerfAnalyzeTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="otel-perf-test-")
        self.f = RunFolder(self.tmp)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def rows(self, **kw):
        return {r["name"]: r for r in perf_analyze.analyze(self.f.run, **kw)["rows"]}

    def main(self, *argv):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = perf_analyze.main(list(argv))
        return rc, out.getvalue(), err.getvalue()

    def test_latest_run_is_found(self):
        self.assertEqual(perf_analyze.find_run(self.tmp), self.f.run)
        self.assertEqual(perf_analyze.find_run(self.f.old), self.f.old)
        with self.assertRaises(BenchError):
            perf_analyze.find_run(os.path.join(self.tmp, "missing"))
        empty = os.path.join(self.tmp, "empty")
        os.makedirs(empty)
        with self.assertRaisesRegex(BenchError, "no runs"):
            perf_analyze.find_run(empty)

    def test_clear_regression(self):
        r = self.rows()["span/start"]
        self.assertEqual(r["baseline"]["median"], 100)
        self.assertEqual(r["candidate"]["median"], 110)
        self.assertAlmostEqual(r["baseline"]["stddev"], 1.4142135623730951)
        self.assertAlmostEqual(r["wall"]["change_pct"], 10.0)
        self.assertAlmostEqual(r["wall"]["ratio"], 1.1)
        self.assertEqual(r["wall"]["verdict"], "REGRESSION")
        self.assertFalse(r["wall"]["within_noise"])
        self.assertAlmostEqual(r["instructions"]["change_pct"], 4.0)
        self.assertEqual(r["instructions"]["verdict"], "small regression")
        self.assertEqual(r["allocs"]["change"], 1.0)

    def test_small_change_inside_the_spread_is_marked_noise(self):
        r = self.rows()["span/finish"]
        self.assertAlmostEqual(r["wall"]["change_pct"], 2.0)
        self.assertTrue(r["wall"]["within_noise"])
        self.assertEqual(r["wall"]["verdict"], "small regression (within noise)")
        self.assertIsNone(r["instructions"])

    def test_improvement_and_unchanged_instructions(self):
        r = self.rows()["span/get-context"]
        self.assertAlmostEqual(r["wall"]["change_pct"], -20.0)
        self.assertAlmostEqual(r["wall"]["ratio"], 0.8)
        self.assertEqual(r["wall"]["verdict"], "improvement")
        self.assertEqual(r["instructions"]["verdict"], "not significant")

    def test_instruction_change_within_the_runs_scatter(self):
        path = benchlib.result_path(self.f.run, "span", "candidate", "get-context")
        res = benchlib.load_json(path)
        res["instructions_per_op"] = 104.0
        res["instructions"]["spread_pct"] = 6.0
        benchlib.save_json(path, res)
        r = self.rows()["span/get-context"]
        self.assertEqual(r["instructions"]["verdict"], "small regression (within noise)")
        rc, out, _ = self.main(self.f.run, "--filter", "get-context")
        self.assertIn("104.0 ±3%", out)

    def test_mean_statistic(self):
        r = self.rows(stat="mean")["span/finish"]
        self.assertAlmostEqual(r["wall"]["change_pct"], 2.0)
        self.assertEqual(r["wall"]["stat"], "mean")

    def test_candidate_only(self):
        r = self.rows()["propagation/inject"]
        self.assertIsNone(r["baseline"])
        self.assertIsNone(r["wall"])
        self.assertEqual(r["note"], "candidate only (new)")

    def test_filter(self):
        self.assertEqual(sorted(self.rows(pattern="span/")),
                         ["span/finish", "span/get-context", "span/start"])
        self.assertEqual(sorted(self.rows(pattern="span/*t")), ["span/get-context",
                                                                "span/start"])
        self.assertEqual(sorted(self.rows(pattern="*inj*")), ["propagation/inject"])
        self.assertEqual(sorted(self.rows(pattern="span/start")), ["span/start"])
        self.assertEqual(self.rows(pattern="nothing"), {})

    def test_sort_orders(self):
        def names(sort):
            return [r["name"] for r in perf_analyze.analyze(self.f.run, sort=sort)["rows"]]
        self.assertEqual(names("name"), ["propagation/inject", "span/finish",
                                         "span/get-context", "span/start"])
        self.assertEqual(names("change"), ["span/start", "span/finish", "span/get-context",
                                           "propagation/inject"])
        self.assertEqual(names("ir-change"), ["span/start", "span/get-context",
                                              "propagation/inject", "span/finish"])
        self.assertEqual(names("time"), ["span/start", "propagation/inject", "span/finish",
                                         "span/get-context"])

    def test_text_output(self):
        rc, out, _ = self.main(self.tmp)
        self.assertEqual(rc, 0)
        self.assertIn("run 20250102-000000: baseline main (aaaaaaaaaaaa) vs candidate working "
                      "tree (cccccccccccc)", out)
        self.assertIn("machine: Test CPU; 2 CPUs; gcc 12", out)
        line = next(l for l in out.splitlines() if l.startswith("span/start"))
        for cell in ("100.0 ± 1.4", "110.0 ± 0.7", "+10.0% (1.10×)", "REGRESSION", "500.0",
                     "520.0", "+4.0% (1.04×)", "small regression", "1.00 → 2.00"):
            self.assertIn(cell, line)
        self.assertIn("propagation/inject [candidate only (new)]", out)
        self.assertIn("- propagation: new scenario", out)

    def test_markdown_output(self):
        rc, out, _ = self.main(self.f.run, "--markdown", "--filter", "span/start")
        self.assertEqual(rc, 0)
        lines = out.splitlines()
        self.assertTrue(lines[0].startswith("#### Benchmarks: run 20250102-000000"))
        self.assertIn("| config | baseline ns/op |", out)
        self.assertIn("|---|---:|", out)
        row = next(l for l in lines if l.startswith("| span/start"))
        self.assertEqual(row.count("|"), len(perf_analyze.COLUMNS) + 1)

    def test_json_output(self):
        rc, out, _ = self.main(self.f.run, "--json", "--sort", "change")
        self.assertEqual(rc, 0)
        doc = json.loads(out)
        self.assertEqual(doc["run_id"], "20250102-000000")
        self.assertEqual(doc["rows"][0]["name"], "span/start")
        self.assertAlmostEqual(doc["rows"][0]["wall"]["change_pct"], 10.0)
        self.assertEqual(doc["rows"][0]["candidate"]["values"], [110, 111, 109, 110, 110])
        self.assertNotIn("_pair", doc["rows"][0])

    def test_profile_top_and_compare(self):
        report = perf_analyze.analyze(self.f.run, pattern="span/start")
        perf_analyze.add_profiles(report, top=5, compare=True, min_calls=0, sort="change")
        prof = report["rows"][0]["profile"]
        top = prof["top"]["candidate"]
        self.assertEqual([t["function"] for t in top], ["hot", "new"])
        self.assertEqual(top[0]["self_per_op"], 110.0)
        self.assertEqual(top[0]["calls_per_op"], 10.0)
        self.assertAlmostEqual(top[0]["share_pct"], 110 / 115 * 100)
        self.assertEqual([t["function"] for t in prof["top"]["baseline"]], ["hot", "gone"])
        cmp_rows = prof["compare"]
        self.assertEqual([(r["function"], r["diff_per_op"], r["status"]) for r in cmp_rows],
                         [("hot", 10.0, ""), ("gone", -10.0, "gone"), ("new", 5.0, "new")])
        self.assertAlmostEqual(cmp_rows[0]["change_pct"], 10.0)
        self.assertEqual(cmp_rows[1]["baseline_calls_per_op"], 1.0)
        self.assertIsNone(cmp_rows[2]["change_pct"])

    def test_min_calls_drops_rarely_called_functions(self):
        report = perf_analyze.analyze(self.f.run, pattern="span/start")
        perf_analyze.add_profiles(report, top=5, compare=True, min_calls=100, sort="change")
        prof = report["rows"][0]["profile"]
        self.assertEqual([r["function"] for r in prof["compare"]], ["hot", "gone"])
        self.assertEqual([t["function"] for t in prof["top"]["candidate"]], ["hot"])

    def test_profile_cli_and_missing_profiles(self):
        rc, out, _ = self.main(self.f.run, "--profile-compare", "--profile-top", "3",
                               "--min-calls", "10")
        self.assertEqual(rc, 0)
        self.assertIn("span/start candidate: top functions", out)
        self.assertIn("span/start: per-function change", out)
        rc, out, _ = self.main(self.f.run, "--profile-top", "3", "--filter", "finish")
        self.assertIn("no callgrind profiles in this run", out)

    def test_missing_folder_is_an_error(self):
        rc, _, err = self.main(os.path.join(self.tmp, "nope"))
        self.assertEqual(rc, 2)
        self.assertIn("no such folder", err)


if __name__ == "__main__":
    unittest.main()
