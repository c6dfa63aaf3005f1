"""Fake benchmark programs and a fake valgrind for the tests of scripts/run-benchmarks.

A fake bench is a small Python script with the command line of benchmarks/bench.h (--list,
--configs, --repetitions, --iterations, --min-time-ms) that prints the same JSON lines from
fixed per-config figures, and logs each invocation so tests can check the run order. Run under
the fake valgrind, it writes a callgrind output file whose instruction total is
setup + (warm-up + iterations) * ops * ir_per_op, and two functions, so instructions/op and the
per-function profiles have exact expected values.
"""

import json
import os
import stat
import sys

FAKE_BENCH = r'''#!PYTHON
import json, os, sys
SPEC = json.loads(SPEC_JSON)
args = sys.argv[1:]
configs = None
repetitions = 7
iterations = 0
min_time_ms = 200
do_list = False
i = 0
while i < len(args):
    a = args[i]
    v = args[i + 1] if i + 1 < len(args) else None
    if a == "--list":
        do_list = True
    elif a == "--quick":
        repetitions = 1
        iterations = iterations or 10
    elif a == "--configs" and v is not None:
        configs = v.split(","); i += 1
    elif a == "--repetitions" and v is not None:
        repetitions = int(v); i += 1
    elif a == "--iterations" and v is not None:
        iterations = int(v); i += 1
    elif a == "--min-time-ms" and v is not None:
        min_time_ms = int(v); i += 1
    elif a == "--out-dir" and v is not None:
        i += 1
    else:
        sys.stderr.write("usage: bad argument %s\n" % a)
        sys.exit(2)
    i += 1
if SPEC.get("log"):
    with open(SPEC["log"], "a") as f:
        f.write(json.dumps({"side": SPEC["side"], "program": SPEC["program"], "argv": args,
                            "callgrind": bool(os.environ.get("FAKEBENCH_CALLGRIND_OUT")),
                            "otel_env": sorted(k for k in os.environ if k.startswith("OTEL_"))})
                + "\n")
if SPEC.get("fail") == "all" or (SPEC.get("fail") == "runs" and not do_list):
    sys.stderr.write("fake failure\n")
    sys.exit(1)
total_ir = SPEC.get("setup_ir", 100000)
hot = 0
calls = 0
for name, c in SPEC["configs"].items():
    if do_list:
        print(name)
        continue
    if configs is not None and name not in configs:
        continue
    ops = c.get("ops", 1)
    it = iterations or max(1, int(min_time_ms * 1e6 / (c["ns"] * ops)))
    values = [round(c["ns"] * (1 + 0.01 * ((r % 3) - 1)), 3) for r in range(repetitions)]
    s = sorted(values)
    n = len(s)
    med = s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2
    mean = sum(s) / n
    print(json.dumps({"scenario": SPEC["scenario"], "config": name, "unit": "ns/op",
                      "iterations": it, "ops_per_iteration": ops, "repetitions": values,
                      "median": med, "mean": mean, "stddev": 0.0,
                      "allocs_per_op": c.get("allocs", 0.0)}))
    warm = min(it, 16) if iterations else 0
    done = (warm + it) * ops
    hot += done * c["ir"]
    calls += done
    total_ir += c.get("config_setup_ir", 5000)
out = os.environ.get("FAKEBENCH_CALLGRIND_OUT")
if out and not do_list and SPEC.get("spike_ir") and iterations > 20:
    # Scheduling noise: the first high-iteration callgrind run costs spike_ir more.
    marker = SPEC["program_path"] + ".spiked"
    if not os.path.exists(marker):
        open(marker, "w").close()
        total_ir += SPEC["spike_ir"]
if out and not do_list:
    total_ir += hot
    with open(out, "w") as f:
        f.write("# callgrind format\nversion: 1\ncreator: fake\npositions: line\nevents: Ir\n")
        f.write("summary: %d\n\nob=(1) /fake\nfl=(1) fake.c\n" % total_ir)
        f.write("fn=(1) main\n0 %d\ncfn=(2) hot_function\ncalls=%d 0\n0 %d\n\n"
                % (total_ir - hot, calls, hot))
        f.write("fn=(2)\n0 %d\n\ntotals: %d\n" % (hot, total_ir))
'''

FAKE_VALGRIND = r'''#!PYTHON
import os, random, subprocess, sys
args = sys.argv[1:]
out = "callgrind.out.fake"
separate = False
while args and args[0].startswith("--"):
    if args[0].startswith("--callgrind-out-file="):
        out = args[0].split("=", 1)[1]
    elif args[0] == "--separate-threads=yes":
        separate = True
    elif args[0] == "--version":
        print("valgrind-fake"); sys.exit(0)
    args.pop(0)
# Like callgrind with --separate-threads=yes: the main thread in <out>-01, a background thread
# with a varying count in <out>-02, and an empty <out>.
env = dict(os.environ, FAKEBENCH_CALLGRIND_OUT=out + "-01" if separate else out)
sys.stderr.write("==1== Callgrind, a call-graph generating cache profiler\n")
rc = subprocess.call(args, env=env)
if separate and rc == 0 and "--list" not in args:
    open(out, "w").close()
    with open(out + "-02", "w") as f:
        f.write("events: Ir\nfn=(1) exporter\n0 %d\ntotals: %d\n"
                % ((random.randint(1, 10 ** 6),) * 2))
sys.exit(rc)
'''


def _write_script(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text.replace("#!PYTHON", "#!" + sys.executable, 1))
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def write_fake_bench(directory, scenario, configs, side="candidate", log=None, fail=None,
                     setup_ir=100000, spike_ir=0):
    """Writes directory/bench_<scenario>. configs: {name: {"ns": ns/op, "ir": instructions/op,
    "ops": ops per iteration, "allocs": allocs/op}}. fail: None, "all" (every invocation exits
    1) or "runs" (all but --list). spike_ir: instructions added to the first callgrind run with
    more than 20 iterations (noise from another thread)."""
    os.makedirs(directory, exist_ok=True)
    program = "bench_" + scenario
    spec = {"scenario": scenario, "program": program, "side": side, "configs": configs,
            "log": log, "fail": fail, "setup_ir": setup_ir, "spike_ir": spike_ir,
            "program_path": os.path.join(directory, program)}
    text = FAKE_BENCH.replace("SPEC_JSON", repr(json.dumps(spec)))
    return _write_script(os.path.join(directory, program), text)


def write_fake_valgrind(path):
    return _write_script(path, FAKE_VALGRIND)


def read_log(path):
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
