"""A rule-based bug injector: seeded AST mutations and code removal, programmatic weakening.

:class:`RuleInjector` makes a complete SSR artifact with no language model, for CI, smoke tests
and a solver-only curriculum. One attempt:

1. pick a site in one source file of the pristine repo (seeded, see below) and edit the source
   *text* at the AST node's span, so the bug diff is a few lines, not a reformatted file;
2. run the whole suite on the buggy copy in the sandbox; the tests that passed on the original
   (the cached original run of :mod:`~selfplay_gym.envs.code_repair.artifact`) and no longer pass
   are the red tests -- none means the mutant survived, try another site;
3. weaken: delete the red test functions (with their decorators; a class left empty gets
   ``pass``) from the test modules that hold them -- those modules are the oracle ``test_files``;
4. :func:`~selfplay_gym.envs.code_repair.artifact.validate_artifact`; return the first artifact
   that validates, else try another site, up to ``max_attempts`` sandboxed attempts.

Mutation kinds (strategy ``"mutate"``): ``binop`` (``+``/``-``, ``*``/``//``... and augmented
assignments), ``compare`` (``<``/``<=``, ``==``/``!=``, ``in``/``not in``, ``is``/``is not``),
``boolop`` (``and``/``or``), ``constant`` (integers 0->1, 1->0, n->n+1; ``True``/``False``),
``swap`` (operands of a non-commutative operator or comparison), ``condition`` (drop one operand
of a two-operand ``and``/``or`` in an ``if``, or negate an ``if`` test). Removal kinds
(``"remove"``): ``body`` (a function body, docstring kept, becomes ``raise
NotImplementedError``) and ``statement`` (one statement on its own lines inside a function is
deleted; ``pass`` keeps an emptied block valid).

Seeding: the attempt order comes from ``random.Random`` seeded with a draw from the ``rng``
argument (``random.Random`` or ``numpy.random.Generator``) combined with the constructor's
``seed``; the same seed and repo give the same artifacts. Sites are listed in sorted file order
and AST order; a strategy, then a kind, then a site are drawn uniformly, so rare kinds are not
drowned by frequent ones.
"""

from __future__ import annotations

import ast
import random
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from selfplay_gym.envs.code_repair.artifact import (
    BugArtifact,
    SSRConfig,
    ValidationReport,
    _original_runs,
    _passed,
    _run,
    validate_artifact,
)
from selfplay_gym.envs.code_repair.diffs import make_diff, read_file, write_file

if TYPE_CHECKING:
    from selfplay_gym.envs.code_repair.repos import Repo
    from selfplay_gym.sandbox import Sandbox

__all__ = ["KINDS", "Mutation", "RuleInjector", "find_mutations", "remove_tests"]

KINDS = {
    "mutate": ("binop", "compare", "boolop", "constant", "swap", "condition"),
    "remove": ("body", "statement"),
}
"""Mutation kinds per strategy (see the module docstring)."""

_BINOP_FLIP = {
    ast.Add: ("+", "-"),
    ast.Sub: ("-", "+"),
    ast.Mult: ("*", "//"),
    ast.Div: ("/", "*"),
    ast.FloorDiv: ("//", "*"),
    ast.Mod: ("%", "//"),
    ast.Pow: ("**", "*"),
    ast.BitAnd: ("&", "|"),
    ast.BitOr: ("|", "&"),
    ast.BitXor: ("^", "&"),
    ast.LShift: ("<<", ">>"),
    ast.RShift: (">>", "<<"),
}
_NON_COMMUTATIVE = (ast.Sub, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow, ast.LShift, ast.RShift)
_COMPARE_FLIP = {
    ast.Lt: ("<", "<="),
    ast.LtE: ("<=", "<"),
    ast.Gt: (">", ">="),
    ast.GtE: (">=", ">"),
    ast.Eq: ("==", "!="),
    ast.NotEq: ("!=", "=="),
    ast.In: ("in", "not in"),
    ast.NotIn: ("not in", "in"),
    ast.Is: ("is", "is not"),
    ast.IsNot: ("is not", "is"),
}
_SWAPPABLE_COMPARE = (ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn)
_DELETABLE = (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr, ast.If, ast.For, ast.Return)


@dataclass(frozen=True)
class Mutation:
    """One candidate edit: replace ``text[start:end]`` of ``path`` with ``replacement``."""

    path: str
    strategy: str
    kind: str
    line: int
    start: int
    end: int
    replacement: str
    description: str

    def apply(self, text: str) -> str:
        """The mutated source text."""
        return text[: self.start] + self.replacement + text[self.end :]


class _Source:
    """Source text with (line, byte column) -> character offset conversion."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lines = text.split("\n")
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line) + 1)

    def offset(self, lineno: int, col: int) -> int:
        line = self.lines[lineno - 1]
        return self.starts[lineno - 1] + len(line.encode("utf-8")[:col].decode("utf-8", "replace"))

    def span(self, node: ast.AST) -> tuple[int, int]:
        return (
            self.offset(node.lineno, node.col_offset),  # type: ignore[attr-defined]
            self.offset(node.end_lineno, node.end_col_offset),  # type: ignore[attr-defined]
        )

    def seg(self, node: ast.AST) -> str:
        start, end = self.span(node)
        return self.text[start:end]


def _gap_token(src: _Source, left: ast.AST, right: ast.AST) -> tuple[int, int, str]:
    """(start, end, normalised token) of the text between two adjacent nodes."""
    start, end = src.span(left)[1], src.span(right)[0]
    gap = src.text[start:end]
    return start, end, " ".join(gap.split())


def _functions(tree: ast.AST) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


def _is_docstring(stmt: ast.stmt) -> bool:
    return (
        isinstance(stmt, ast.Expr)
        and isinstance(stmt.value, ast.Constant)
        and isinstance(stmt.value.value, str)
    )


def find_mutations(path: str, text: str, *, check_syntax: bool = True) -> list[Mutation]:
    """Every candidate mutation of one source file, in a deterministic order.

    Only sites inside function bodies are used (module-level constants and class bodies stay as
    they are, so the package still imports). With ``check_syntax`` only edits that still parse
    are kept (the injector checks lazily instead, on the sites it draws).
    """
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return []
    src = _Source(text)
    found: list[Mutation] = []

    def add(strategy: str, kind: str, node: ast.AST, start: int, end: int, new: str, what: str):
        found.append(
            Mutation(path, strategy, kind, getattr(node, "lineno", 0), start, end, new, what)
        )

    seen: set[int] = set()
    for func in _functions(tree):
        body = [s for s in func.body if not _is_docstring(s)]
        # removal: the whole body
        if body and body[0].lineno > func.lineno:
            first = body[0]
            line_start = src.starts[first.lineno - 1]
            indent = src.lines[first.lineno - 1][: len(src.lines[first.lineno - 1]) - len(
                src.lines[first.lineno - 1].lstrip())]  # fmt: skip
            end = src.starts[func.end_lineno]  # type: ignore[index]
            add("remove", "body", func, line_start, end, f"{indent}raise NotImplementedError\n",
                f"{func.name}: body replaced by raise NotImplementedError")  # fmt: skip
        _statement_removals(src, func, func.body, add, func.name)
        for node in ast.walk(func):
            if id(node) in seen or node is func:
                continue
            seen.add(id(node))
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                continue
            _node_mutations(src, node, add, func.name)
    if not check_syntax:
        return found
    return [m for m in found if _parses(m.apply(text))]


def _parses(text: str) -> bool:
    try:
        ast.parse(text)
    except SyntaxError:
        return False
    return True


def _node_mutations(src: _Source, node: ast.AST, add: Any, where: str) -> None:
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOP_FLIP:
        old, new = _BINOP_FLIP[type(node.op)]
        start, end, token = _gap_token(src, node.left, node.right)
        if token == old:
            gap = src.text[start:end]
            add("mutate", "binop", node, start, end, gap.replace(old, new, 1),
                f"{where}: {old} -> {new}")  # fmt: skip
            if isinstance(node.op, _NON_COMMUTATIVE):
                s, e = src.span(node)
                add("mutate", "swap", node, s, e, src.seg(node.right) + gap + src.seg(node.left),
                    f"{where}: operands of {old} swapped")  # fmt: skip
    elif isinstance(node, ast.AugAssign) and type(node.op) in _BINOP_FLIP:
        old, new = _BINOP_FLIP[type(node.op)]
        start, end, token = _gap_token(src, node.target, node.value)
        if token == old + "=":
            gap = src.text[start:end]
            add("mutate", "binop", node, start, end, gap.replace(old + "=", new + "=", 1),
                f"{where}: {old}= -> {new}=")  # fmt: skip
    elif isinstance(node, ast.Compare):
        left = node.left
        for op, right in zip(node.ops, node.comparators, strict=True):
            if type(op) in _COMPARE_FLIP:
                old, new = _COMPARE_FLIP[type(op)]
                start, end, token = _gap_token(src, left, right)
                if token == old:
                    gap = src.text[start:end]
                    lead = gap[: len(gap) - len(gap.lstrip())]
                    trail = gap[len(gap.rstrip()) :]
                    add("mutate", "compare", node, start, end, f"{lead}{new}{trail}",
                        f"{where}: {old} -> {new}")  # fmt: skip
                    if len(node.ops) == 1 and isinstance(op, _SWAPPABLE_COMPARE):
                        s, e = src.span(node)
                        add("mutate", "swap", node, s, e,
                            src.seg(right) + gap + src.seg(left),
                            f"{where}: operands of {old} swapped")  # fmt: skip
            left = right
    elif isinstance(node, ast.BoolOp):
        old = "and" if isinstance(node.op, ast.And) else "or"
        new = "or" if old == "and" else "and"
        start, end, token = _gap_token(src, node.values[0], node.values[1])
        if token == old:
            gap = src.text[start:end]
            add("mutate", "boolop", node, start, end, gap.replace(old, new, 1),
                f"{where}: {old} -> {new}")  # fmt: skip
    elif isinstance(node, ast.Constant) and type(node.value) in (int, bool):
        text = src.seg(node)
        if isinstance(node.value, bool):
            new_text = "False" if node.value else "True"
        elif text.isdigit():
            new_text = {0: "1", 1: "0"}.get(node.value, str(node.value + 1))
        else:
            return
        s, e = src.span(node)
        add("mutate", "constant", node, s, e, new_text, f"{where}: {text} -> {new_text}")
    elif isinstance(node, ast.If):
        test = node.test
        s, e = src.span(test)
        if isinstance(test, ast.BoolOp) and len(test.values) == 2:
            for keep in test.values:
                add("mutate", "condition", node, s, e, src.seg(keep),
                    f"{where}: condition reduced to {src.seg(keep)[:40]!r}")  # fmt: skip
        add("mutate", "condition", node, s, e, f"not ({src.seg(test)})",
            f"{where}: if condition negated")  # fmt: skip
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Module):
        return
    for name in ("body", "orelse", "finalbody"):
        block = getattr(node, name, None)
        if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
            _statement_removals(src, node, block, add, where)


def _own_lines(src: _Source, stmt: ast.stmt) -> bool:
    before = src.lines[stmt.lineno - 1][: stmt.col_offset]
    after = src.lines[stmt.end_lineno - 1].encode()[stmt.end_col_offset :].decode()  # type: ignore[index]
    return not before.strip() and (not after.strip() or after.strip().startswith("#"))


def _statement_removals(src: _Source, owner: ast.AST, block: list[ast.stmt], add: Any, where: str):
    for stmt in block:
        if not isinstance(stmt, _DELETABLE) or _is_docstring(stmt) or not _own_lines(src, stmt):
            continue
        start = src.starts[stmt.lineno - 1]
        end = src.starts[stmt.end_lineno]  # type: ignore[index]
        replacement = ""
        if len(block) == 1:
            replacement = " " * stmt.col_offset + "pass\n"
        add("remove", "statement", stmt, start, end, replacement,
            f"{where}: line {stmt.lineno} ({type(stmt).__name__}) deleted")  # fmt: skip


def remove_tests(text: str, names: Sequence[tuple[str, ...]]) -> str:
    """``text`` with the named test functions deleted (decorators and trailing blank lines too).

    ``names`` are ``("test_f",)`` for module-level functions or ``("TestC", "test_m")`` for
    methods (nested classes: more parts). A class left with no statements gets ``pass``.
    """
    tree = ast.parse(text)
    src = _Source(text)
    wanted = {tuple(n) for n in names}
    cuts: list[tuple[int, int, str]] = []

    def visit(body: list[ast.stmt], prefix: tuple[str, ...], owner: ast.ClassDef | None) -> None:
        kept = 0
        removed: list[tuple[int, int, str]] = []
        for stmt in body:
            if isinstance(stmt, ast.ClassDef):
                visit(stmt.body, (*prefix, stmt.name), stmt)
            name = getattr(stmt, "name", None)
            if (
                isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef)
                and (*prefix, name) in wanted
            ):
                first = min([stmt.lineno] + [d.lineno for d in stmt.decorator_list])
                last = stmt.end_lineno or stmt.lineno
                while last < len(src.lines) and not src.lines[last].strip() and last - (
                    stmt.end_lineno or 0) < 2:  # fmt: skip
                    last += 1
                removed.append((src.starts[first - 1], src.starts[last], ""))
            else:
                kept += 1
        if owner is not None and removed and kept == 0:
            indent = " " * (owner.body[0].col_offset)
            start, end, _ = removed[0]
            removed[0] = (start, end, f"{indent}pass\n\n")
        cuts.extend(removed)

    visit(tree.body, (), None)
    for start, end, replacement in sorted(cuts, reverse=True):
        text = text[:start] + replacement + text[end:]
    return text


def _test_name(test_id: str) -> tuple[str, tuple[str, ...]]:
    path, _, rest = test_id.partition("::")
    parts = rest.split("::")
    parts[-1] = parts[-1].split("[", 1)[0]
    return path, tuple(parts)


class RuleInjector:
    """Makes SSR artifacts by seeded AST mutation or code removal (see the module docstring).

    Args:
        strategies: any of ``"mutate"`` and ``"remove"``.
        max_attempts: sandboxed attempts (a test run each, plus a validation when tests go red).
        seed: combined with the ``rng`` of :meth:`make_artifact`; the same pair gives the same
            artifacts.
    """

    def __init__(
        self,
        *,
        strategies: Sequence[str] = ("mutate", "remove"),
        max_attempts: int = 8,
        seed: int | None = None,
    ) -> None:
        unknown = [s for s in strategies if s not in KINDS]
        if unknown or not strategies:
            raise ValueError(f"expected strategies from {sorted(KINDS)}, got {list(strategies)}")
        if max_attempts < 1:
            raise ValueError(f"expected max_attempts >= 1, got {max_attempts}")
        self.strategies = tuple(strategies)
        self.max_attempts = max_attempts
        self.seed = seed

    def _random(self, rng: Any) -> tuple[random.Random, int]:
        if rng is None:
            draw = 0
        elif isinstance(rng, random.Random):
            draw = rng.getrandbits(63)
        elif hasattr(rng, "integers"):
            draw = int(rng.integers(0, 2**63 - 1))
        else:
            raise TypeError(f"expected random.Random or numpy Generator, got {type(rng).__name__}")
        seed = draw if self.seed is None else int.from_bytes(
            f"{self.seed}:{draw}".encode(), "little") % (2**63)  # fmt: skip
        return random.Random(seed), seed

    def candidates(self, repo: Repo, rng: random.Random) -> Iterator[Mutation]:
        """Mutations of ``repo``'s source files in the seeded attempt order (without repeats)."""
        pools: dict[str, dict[str, list[Mutation]]] = {s: {} for s in self.strategies}
        sources: dict[str, str] = {}
        for rel in repo.source_files():
            data = read_file(repo.root, rel)
            if data is None:
                continue
            sources[rel] = data.decode("utf-8")
            for mutation in find_mutations(rel, sources[rel], check_syntax=False):
                if mutation.strategy in pools:
                    pools[mutation.strategy].setdefault(mutation.kind, []).append(mutation)
        while True:
            strategies = [s for s in self.strategies if any(pools[s].values())]
            if not strategies:
                return
            strategy = rng.choice(strategies)
            kinds = [k for k in KINDS[strategy] if pools[strategy].get(k)]
            kind = rng.choice(kinds)
            pool = pools[strategy][kind]
            mutation = pool.pop(rng.randrange(len(pool)))
            if _parses(mutation.apply(sources[mutation.path])):
                yield mutation

    def make_artifact(
        self,
        repo: Repo,
        sandbox: Sandbox,
        rng: random.Random | Any,
        config: SSRConfig = SSRConfig(),  # noqa: B008 -- frozen, so a shared default is safe
    ) -> tuple[BugArtifact, ValidationReport]:
        """Inject one bug into ``repo``, weaken its tests, validate; the first valid artifact.

        Raises:
            RuntimeError: no artifact validated within ``max_attempts`` sandboxed attempts (or
                the original suite does not run).
        """
        local, seed = self._random(rng)
        scratch = Path(tempfile.mkdtemp(prefix="selfplay-ssr-inject-"))
        reasons: list[str] = []
        try:
            original, _, _, _ = _original_runs(repo, sandbox, config, scratch)
            if not original.ok:
                raise RuntimeError(f"the original suite does not run: {original.error}")
            original_pass = _passed(original.results)
            timeout = min(config.test_timeout_s, max(10.0, 5.0 * original.duration_s))
            pristine = scratch / "pristine"
            repo.fresh_copy(pristine)
            work = repo.fresh_copy(scratch / "work")
            attempts = 0
            for mutation in self.candidates(repo, local):
                if attempts >= self.max_attempts:
                    break
                attempts += 1
                before = read_file(pristine, mutation.path)
                assert before is not None
                write_file(work, mutation.path, mutation.apply(before.decode()).encode())
                try:
                    run = _run(sandbox, work, repo, None, timeout)
                finally:
                    write_file(work, mutation.path, before)
                red = sorted(t for t in original_pass if run.results.get(t) != "passed")
                if not red:
                    reasons.append(f"{mutation.description}: no test fails")
                    continue
                if any("::" not in t for t in red) or not run.results:
                    reasons.append(f"{mutation.description}: whole modules fail")
                    continue
                artifact = self._artifact(repo, pristine, scratch, mutation, red, seed, attempts)
                report = validate_artifact(artifact, repo, sandbox, config)
                if report.valid:
                    return artifact, report
                reasons.append(f"{mutation.description}: {report.first_failure}")
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        raise RuntimeError(
            f"no valid artifact in {self.max_attempts} attempts on {repo.name}: "
            + "; ".join(reasons[-5:])
        )

    def _artifact(
        self,
        repo: Repo,
        pristine: Path,
        scratch: Path,
        mutation: Mutation,
        red: list[str],
        seed: int,
        attempt: int,
    ) -> BugArtifact:
        after = scratch / f"after-{attempt}"
        after.mkdir()
        source = read_file(pristine, mutation.path)
        assert source is not None
        write_file(after, mutation.path, mutation.apply(source.decode()).encode())
        by_file: dict[str, list[tuple[str, ...]]] = {}
        for test_id in red:
            path, name = _test_name(test_id)
            by_file.setdefault(path, []).append(name)
        for path, names in by_file.items():
            text = read_file(pristine, path)
            assert text is not None
            write_file(after, path, remove_tests(text.decode(), names).encode())
        bug = make_diff(pristine, after, [mutation.path])
        weaken = make_diff(pristine, after, sorted(by_file))
        meta = {
            "injector": "rule",
            "strategy": mutation.strategy,
            "kind": mutation.kind,
            "site": f"{mutation.path}:{mutation.line}",
            "description": mutation.description,
            "seed": seed,
            "attempt": attempt,
            "order": 1,
            "repo": f"{repo.name}-{repo.version}",
        }
        return BugArtifact(tuple(sorted(by_file)), bug, weaken, meta=meta)
