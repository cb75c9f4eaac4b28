"""``selfplay-gym search``: build an index, query it, or serve it with Search-R1's API.

Examples::

    selfplay-gym search index fixture                 # tantivy index of the embedded corpus
    selfplay-gym search index wordnet --backend sqlite
    selfplay-gym search query fixture "capital of Drahurnane" -k 3
    selfplay-gym search serve --corpus fixture --port 8000
    # then, from any Search-R1 / verl / SSP setup: POST http://127.0.0.1:8000/retrieve

The core program (:mod:`selfplay_gym.cli`) adds this command by name; nothing here is imported
until ``selfplay-gym search`` runs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(commands: Any) -> None:
    """Add the ``search`` command and its subcommands to ``commands`` (an argparse subparsers)."""
    search = commands.add_parser(
        "search", help="search corpora: index, query, serve (Search-R1 API)"
    )
    sub = search.add_subparsers(dest="search_command", metavar="SUBCOMMAND", required=True)
    corpus_help = (
        'corpus: "fixture" (embedded), "factbook", "wikipedia-vital", "wordnet", "offline-kb", '
        "or a Search-R1 JSONL path"
    )

    index = sub.add_parser(
        "index", help="build (or reopen) the index of a corpus, with a progress bar"
    )
    index.add_argument("corpus", metavar="CORPUS", help=corpus_help)
    index.add_argument("--backend", default="tantivy", choices=("tantivy", "sqlite"))

    query = sub.add_parser("query", help="search a corpus and print the hits")
    query.add_argument("corpus", metavar="CORPUS", help=corpus_help)
    query.add_argument("text", metavar="QUERY", nargs="+", help="one or more queries")
    query.add_argument("-k", type=int, default=3, help="hits per query (default 3)")
    query.add_argument("--backend", default="tantivy", help="tantivy, sqlite, or a server URL")
    query.add_argument("--json", action="store_true", help="print the hits as JSON")

    serve = sub.add_parser("serve", help="serve a corpus at POST /retrieve (Search-R1's API)")
    serve.add_argument("--corpus", default="fixture", help=corpus_help)
    serve.add_argument("--backend", default="tantivy", help="tantivy, sqlite, or a server URL")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000, 0 = any free)")
    serve.add_argument("--topk", type=int, default=3, help="hits when a request gives none (3)")
    serve.add_argument("--verbose", action="store_true", help="log every request")


def _backend(name: str, corpus_name: str | None, **kwargs: Any) -> Any:
    from selfplay_gym.envs.search.backends import make_backend
    from selfplay_gym.envs.search.corpora import load_corpus

    if name.startswith(("http://", "https://")):
        return make_backend(name)
    return make_backend(name, load_corpus(corpus_name or "fixture"), **kwargs)


def run(args: argparse.Namespace) -> int:
    """Run ``selfplay-gym search SUBCOMMAND``; returns the exit code (2 for bad arguments)."""
    try:
        if args.search_command == "index":
            return _index(args)
        if args.search_command == "query":
            return _query(args)
        return _serve(args)
    except (ValueError, ImportError, FileNotFoundError) as exc:
        print(f"selfplay-gym search: {exc}", file=sys.stderr)
        return 2


def _index(args: argparse.Namespace) -> int:
    from selfplay_gym.envs.search.corpora import load_corpus

    start = time.perf_counter()
    corpus = load_corpus(args.corpus)
    loaded = time.perf_counter()
    from selfplay_gym.envs.search.backends import make_backend

    backend = make_backend(args.backend, corpus)
    if args.backend == "tantivy":
        backend.ensure_index(progress=True)
    else:
        backend.ensure_index()
    built = time.perf_counter()
    info = backend.describe()
    print(
        f"{corpus.name}: {len(corpus)} passages (loaded in {loaded - start:.2f} s), "
        f"{args.backend} index ready in {built - loaded:.2f} s"
    )
    for key in ("index_dir", "path"):
        if info.get(key):
            print(f"index: {info[key]}")
    if corpus.license:
        print(f"licence: {corpus.license}")
    return 0


def _query(args: argparse.Namespace) -> int:
    backend = _backend(args.backend, args.corpus)
    results = backend.search(args.text, args.k)
    if args.json:
        out = [
            [{"id": h.doc_id, "title": h.title, "text": h.text, "score": h.score} for h in hits]
            for hits in results
        ]
        print(json.dumps(out, ensure_ascii=False, indent=1))
        return 0
    for query, hits in zip(args.text, results, strict=True):
        print(f"# {query}")
        for rank, h in enumerate(hits, 1):
            print(f"{rank}. [{h.doc_id}] {h.title} ({h.score:.3f}): {h.text[:200]}")
        if not hits:
            print("(no hits)")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from selfplay_gym.envs.search.server import serve

    backend = _backend(args.backend, args.corpus)
    if hasattr(backend, "ensure_index"):
        backend.ensure_index()
    server = serve(backend, args.host, args.port, default_topk=args.topk, verbose=args.verbose)
    print(f"serving {json.dumps(backend.describe())} at {server.url}/retrieve (Ctrl-C stops)")
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
    return 0
