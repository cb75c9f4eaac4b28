#!/usr/bin/env python
"""Per-execution overhead of each sandbox backend, and snippets/s of the fork server.

In one process, on this host:

* **exec overhead** -- ``python -I -S -c pass`` run as a bare ``subprocess.run`` and through
  ``Sandbox(backend).run`` for every usable backend (bwrap, unshare, unsafe), interleaved round
  by round in a seeded shuffled order so that machine noise hits all of them alike (one warm-up
  each first). Reports median and p90 wall ms and the overhead of each backend's median over the
  bare median. Target: bwrap overhead <= 40 ms.
* **fork server** -- ``SnippetRunner`` (bwrap, else the best isolating backend) after its server
  started: N snippets (``def f(x): return x * 2`` then ``f(21)``), reporting median/p90 ms per
  snippet and snippets/s over the whole loop, plus the server start time. Target: median <= 5 ms.
* **validation** -- :func:`validation_benchmark`, a full validation of one rule-injected bug on
  the embedded repo (and one fetched repo) by the ``code_repair`` family; skipped with a message
  while that family is absent. Target: < 15 s on the embedded repo.

The inner command uses ``-I -S`` so that interpreter start-up (~15-30 ms here) does not hide the
sandbox's own cost; without ``-S`` this image's Python imports certifi from a ``.pth`` (~100 ms).

Usage::

    python benchmarks/sandbox.py                 # ~20 s: 30 rounds, 300 snippets
    python benchmarks/sandbox.py --quick         # ~8 s: 10 rounds, 100 snippets
    python benchmarks/sandbox.py --rounds 40 --snippets 500 --json sandbox.json
    python benchmarks/sandbox.py --skip unshare --skip validation
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from typing import Any

from selfplay_gym.sandbox import (
    Limits,
    Sandbox,
    SnippetRunner,
    UnsafeSandboxWarning,
    available_backends,
)

TARGET_BWRAP_OVERHEAD_MS = 40.0
TARGET_SNIPPET_MS = 5.0
TARGET_VALIDATION_S = 15.0
INNER = ["-I", "-S", "-c", "pass"]


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def exec_overhead(backends: list[str], rounds: int, seed: int) -> dict[str, Any]:
    """Time bare subprocess vs each backend, interleaved; return ms lists and summaries."""
    workdir = tempfile.mkdtemp(prefix="selfplay-bench-sandbox-")
    limits = Limits(timeout_s=30.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnsafeSandboxWarning)
        boxes = {name: Sandbox(name, limits) for name in backends}

    def bare() -> None:
        subprocess.run([sys.executable, *INNER], cwd=workdir, check=True)

    def make(box: Sandbox):
        def call() -> None:
            res = box.run(["python", *INNER], workdir=workdir)
            if not res.ok:
                raise RuntimeError(f"{box.backend}: {res}")

        return call

    workloads = {"bare subprocess": bare, **{name: make(box) for name, box in boxes.items()}}
    times: dict[str, list[float]] = {name: [] for name in workloads}
    rng = random.Random(seed)
    try:
        for fn in workloads.values():
            fn()  # warm-up: page cache, bwrap trial, cgroup probe
        for _ in range(rounds):
            order = list(workloads)
            rng.shuffle(order)
            for name in order:
                start = time.perf_counter()
                workloads[name]()
                times[name].append((time.perf_counter() - start) * 1000)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    bare_median = statistics.median(times["bare subprocess"])
    summary = {}
    for name, ms in times.items():
        median = statistics.median(ms)
        summary[name] = {
            "median_ms": median,
            "p90_ms": _quantile(ms, 0.9),
            "overhead_ms": median - bare_median,
            "runs": len(ms),
        }
    return {"raw_ms": times, "summary": summary}


def snippet_throughput(backend: str, n: int) -> dict[str, Any]:
    """Start a runner, then time ``n`` snippets one after another."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnsafeSandboxWarning)
        runner = SnippetRunner(backend, restart_every=max(1000, n + 10))
    try:
        start = time.perf_counter()
        first = runner.run("", "0")
        start_ms = (time.perf_counter() - start) * 1000
        if not first.ok:
            raise RuntimeError(f"snippet server failed: {first}")
        durations = []
        loop_start = time.perf_counter()
        for _ in range(n):
            res = runner.run("def f(x):\n    return x * 2", "f(21)")
            if res.value != "42":
                raise RuntimeError(f"wrong snippet result: {res}")
            durations.append(res.duration_s * 1000)
        loop_s = time.perf_counter() - loop_start
    finally:
        runner.close()
    return {
        "backend": runner.backend,
        "snippets": n,
        "server_start_ms": start_ms,
        "median_ms": statistics.median(durations),
        "p90_ms": _quantile(durations, 0.9),
        "snippets_per_s": n / loop_s,
    }


# ============================================================================ VALIDATION (code_repair)
def validation_benchmark() -> dict[str, Any] | None:
    """Full validation of one rule-injected bug on the embedded repo and on one fetched repo.

    Per repo (``load_repo("embedded")``, then ``pypi:inflection``, skipped with a message when it
    is neither cached nor fetchable): load it, let ``RuleInjector(seed=0)`` make a validated
    artifact (its own suite runs included), then time one **cold** ``validate_artifact`` of that
    artifact -- the cached original-suite runs are dropped first, so the seconds include the
    original suite twice (``reruns=2``), the buggy oracle runs twice, the weakened run and inverse
    mutation -- and one ``score_repair`` of the reversed bug patch. ``validation_s`` is the cold
    validation; the target (< 15 s) is on the embedded repo.
    """
    try:  # lazy: a sibling family
        from selfplay_gym.envs.code_repair import artifact as ssr
        from selfplay_gym.envs.code_repair.diffs import apply_diff, reverse_diff
        from selfplay_gym.envs.code_repair.injector import RuleInjector
        from selfplay_gym.envs.code_repair.repos import RepoError, load_repo
    except ImportError as exc:
        print(f"validation: skipped, the code_repair family is not available ({exc})")
        return None
    sandbox = Sandbox("auto")
    out: dict[str, Any] = {"backend": sandbox.backend}
    for label, spec in (("embedded", "embedded"), ("fetched", "pypi:inflection")):
        start = time.perf_counter()
        try:
            repo = load_repo(spec)
        except RepoError as exc:
            print(f"validation ({spec}): skipped, the repo cannot be loaded or fetched ({exc})")
            out[label] = {"skipped": str(exc)}
            continue
        load_s = time.perf_counter() - start
        start = time.perf_counter()
        try:
            art, _ = RuleInjector(seed=0).make_artifact(repo, sandbox, random.Random(0))
        except RuntimeError as exc:
            print(f"validation ({spec}): the injector found no valid bug ({exc})")
            out[label] = {"repo": f"{repo.name} {repo.version}", "error": str(exc)}
            continue
        inject_s = time.perf_counter() - start
        ssr.clear_original_cache()
        start = time.perf_counter()
        report = ssr.validate_artifact(art, repo, sandbox)
        validation_s = time.perf_counter() - start
        start = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="selfplay-bench-validate-") as tmp:
            tree = ssr.solver_workspace(art, repo, os.path.join(tmp, "solver"))
            apply_diff(tree, reverse_diff(art.bug_inject_diff))
            score = ssr.score_repair(art, report, repo, sandbox, tree)
        score_s = time.perf_counter() - start
        out[label] = {
            "repo": f"{repo.name} {repo.version}",
            "bug": art.meta.get("description"),
            "attempts": art.meta.get("attempt"),
            "valid": report.valid,
            "f2p": len(report.fail_to_pass),
            "p2p": len(report.pass_to_pass),
            "load_s": round(load_s, 3),
            "inject_s": round(inject_s, 3),
            "validation_s": round(validation_s, 3),
            "phases_s": {k: round(v, 3) for k, v in report.timings_s.items()},
            "reverse_patch_solves": score.solved,
            "score_s": round(score_s, 3),
        }
        mark = "PASS" if validation_s < TARGET_VALIDATION_S else "FAIL"
        target = f" (target < {TARGET_VALIDATION_S:.0f} s: {mark})" if label == "embedded" else ""
        print(
            f"validation ({repo.name}): inject {inject_s:.1f} s, cold validation "
            f"{validation_s:.1f} s{target}, score {score_s:.1f} s"
        )
    return out


# ============================================================================ report
def _table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for k, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the tables (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=30, help="interleaved exec rounds")
    parser.add_argument("--snippets", type=int, default=300, help="snippets through the runner")
    parser.add_argument("--quick", action="store_true", help="10 rounds, 100 snippets")
    parser.add_argument("--seed", type=int, default=0, help="seed of the round order")
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=["bwrap", "unshare", "unsafe", "snippets", "validation"],
        help="leave a part out (repeatable)",
    )
    parser.add_argument("--json", help="also write every number to this JSON file")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.snippets = 10, 100

    backends = [b for b in available_backends() if b not in args.skip]
    print(
        f"host: {platform.platform()}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, uid {os.geteuid()}; backends: {', '.join(backends)}"
    )
    report: dict[str, Any] = {"backends": backends}
    verdicts: list[tuple[str, ...]] = [("check", "measured", "target", "result")]

    exec_part = exec_overhead(backends, args.rounds, args.seed)
    report["exec"] = exec_part
    rows = [("python -I -S -c pass", "median ms", "p90 ms", "overhead ms")]
    for name, s in exec_part["summary"].items():
        over = "-" if name == "bare subprocess" else f"{s['overhead_ms']:+.1f}"
        rows.append((name, f"{s['median_ms']:.1f}", f"{s['p90_ms']:.1f}", over))
    print(f"\nPer-exec cost, {args.rounds} interleaved rounds:\n{_table(rows)}")
    if "bwrap" in exec_part["summary"]:
        over = exec_part["summary"]["bwrap"]["overhead_ms"]
        ok = over <= TARGET_BWRAP_OVERHEAD_MS
        verdicts.append(
            (
                "bwrap overhead",
                f"{over:.1f} ms",
                f"<= {TARGET_BWRAP_OVERHEAD_MS:.0f} ms",
                "PASS" if ok else "FAIL",
            )
        )

    if "snippets" not in args.skip:
        isolating = [b for b in backends if b != "unsafe"]
        backend = isolating[0] if isolating else "unsafe"
        snip = snippet_throughput(backend, args.snippets)
        report["snippets"] = snip
        rows = [
            ("runner", "snippets", "start ms", "median ms", "p90 ms", "snippets/s"),
            (
                snip["backend"],
                str(snip["snippets"]),
                f"{snip['server_start_ms']:.0f}",
                f"{snip['median_ms']:.2f}",
                f"{snip['p90_ms']:.2f}",
                f"{snip['snippets_per_s']:.0f}",
            ),
        ]
        print(f"\nFork server (SnippetRunner):\n{_table(rows)}")
        ok = snip["median_ms"] <= TARGET_SNIPPET_MS
        verdicts.append(
            (
                f"snippet median ({snip['backend']})",
                f"{snip['median_ms']:.2f} ms",
                f"<= {TARGET_SNIPPET_MS:.0f} ms",
                "PASS" if ok else "FAIL",
            )
        )

    if "validation" not in args.skip:
        print()
        val = validation_benchmark()
        report["validation"] = val
        if val is not None:
            print(f"validation: {json.dumps(val, indent=2)}")
            seconds = val.get("embedded", {}).get("validation_s")
            if seconds is not None:
                verdicts.append(
                    (
                        "validation (embedded)",
                        f"{seconds:.1f} s",
                        f"< {TARGET_VALIDATION_S:.0f} s",
                        "PASS" if seconds < TARGET_VALIDATION_S else "FAIL",
                    )
                )

    print(f"\nTargets:\n{_table(verdicts)}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=2)
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
