"""The harness's test runner: pytest in the sandbox, configured and read by the harness alone.

:func:`run_tests` runs, inside a :class:`~selfplay_gym.sandbox.Sandbox` over an episode copy::

    python -m pytest -p no:cacheprovider -q -c <harness ini> -o addopts= --rootdir=/work
        --confcutdir=/work --continue-on-collection-errors --junitxml=/work/<random>.xml
        <test files, or the repo's test paths>

with ``PYTEST_DISABLE_PLUGIN_AUTOLOAD=1`` and ``PYTHONPATH`` from :attr:`Repo.pythonpath`.

What this guards, and what it does not:

* ``-c <harness ini>`` makes pytest read *only* the harness's ini file, written fresh for every run
  to a host temp dir that the sandbox binds read-only (outside the writable tree), so a
  ``pytest.ini``, ``tox.ini``, ``setup.cfg`` or ``pyproject.toml`` planted in the copy cannot
  add options, deselect tests or change collection; ``-o addopts=`` empties addopts even so, and
  plugin autoload is off, so no installed plugin joins in.
* ``conftest.py`` files in the copy still load (pytest has no switch against them, and the
  repositories need theirs): resetting test infrastructure to the pristine snapshot before a
  scored run is the environment's job, not this layer's.
* The results come only from the JUnit XML report, never from the output: the report is written
  to a random name in the work dir (deleted before the run), opened with ``O_NOFOLLOW`` (a
  planted symlink cannot point the harness at a host file), size-capped, and parsed by
  :func:`parse_junit` with DOCTYPE and entity declarations refused. A run that dies before
  writing it (``os._exit(0)`` at import, a timeout) gives ``ok=False``. Code under test runs in
  the pytest process and could rewrite the report at exit: an expected test id missing or odd in
  the report counts as failed for callers, and the environment resets the code it scores.
* The :class:`~selfplay_gym.sandbox.Sandbox` interface mounts only ``/work`` writable, so the
  report cannot live outside the model-writable tree (a second read-write mount would allow it).
"""

from __future__ import annotations

import os
import secrets
import shutil
import stat
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING
from xml.parsers import expat

if TYPE_CHECKING:
    from selfplay_gym.envs.code_repair.repos import Repo
    from selfplay_gym.sandbox import Sandbox

__all__ = ["HARNESS_INI", "JUnitError", "TestRun", "parse_junit", "pytest_command", "run_tests"]

MAX_REPORT_BYTES = 16 << 20
"""A report larger than this is refused unread (pytest writes ~200 bytes per test)."""
MAX_TESTCASES = 200_000
OUTPUT_TAIL_CHARS = 8_000
WORK = "/work"
HARNESS_INI = """\
[pytest]
junit_family = xunit1
junit_logging = no
junit_log_passing_tests = false
python_files = test_*.py *_test.py
python_classes = Test
python_functions = test
norecursedirs = .* build dist *.egg venv __pycache__ node_modules
console_output_style = classic
"""
"""The only pytest configuration a harness run reads (``-c``); the repo's own ini files are
ignored. ``xunit1`` adds the ``file`` attribute that :func:`parse_junit` uses to name tests."""
_STATUS_RANK = {"passed": 0, "skipped": 1, "error": 2, "failed": 3}
_MAX_NAME_PARTS = 64
"""Dots of a ``classname`` that :func:`parse_junit` splits at (the rest stays in the last part)."""


class JUnitError(ValueError):
    """A JUnit report that is missing, too large, malformed or hostile."""


@dataclass(frozen=True)
class TestRun:
    """The outcome of one harness test run.

    Attributes:
        results: test id (``"tests/test_x.py::test_y"``, ``"tests/test_x.py::TestC::test_y"``)
            -> ``"passed"``, ``"failed"``, ``"error"`` or ``"skipped"`` (xfail counts as
            skipped); a module that failed to import appears under its path as ``"error"``.
        ok: the run completed and produced a harness report that parsed.
        duration_s: wall time of the sandboxed run.
        error: why ``ok`` is False (``None`` when it is True).
        backend: the sandbox backend.
        returncode: pytest's exit code (None on timeout).
        output: the tail of pytest's stdout and stderr, for logs and observations (never scored).
    """

    __test__ = False  # not a pytest test class, despite the name

    results: dict[str, str]
    ok: bool
    duration_s: float
    error: str | None
    backend: str
    returncode: int | None = None
    output: str = field(default="", repr=False)

    def ids_with(self, status: str) -> list[str]:
        """The test ids whose status is ``status``, sorted."""
        return sorted(test_id for test_id, value in self.results.items() if value == status)


# ---------------------------------------------------------------- the JUnit parser


def _module_map(files: Iterable[str]) -> dict[str, str]:
    """``{"tests.test_x": "tests/test_x.py"}`` for every ``.py`` path."""
    mapping = {}
    for path in files:
        if path.endswith(".py"):
            mapping[path[:-3].replace("/", ".")] = path
    return mapping


def _case_id(attrs: dict[str, str], modules: dict[str, str]) -> str | None:
    name = attrs.get("name")
    if not name:
        return None
    classname = attrs.get("classname") or ""
    file = attrs.get("file") or ""
    if not classname:  # a module that failed to collect: name is its dotted path
        return modules.get(name) or file or name.replace(".", "/") + ".py"
    # At most _MAX_NAME_PARTS cuts, each joining at most that many parts: linear in the name
    # (a report can hold a classname of millions of dots; trying every cut was quadratic).
    parts = classname.split(".", _MAX_NAME_PARTS)
    for cut in range(len(parts), 0, -1):
        path = modules.get(".".join(parts[:cut]))
        if path is not None:
            return "::".join([path, *parts[cut:], name])
    # No known module: the classes start at the first capitalised part.
    cut = next((i for i, part in enumerate(parts) if part[:1].isupper()), len(parts))
    path = "/".join(parts[:cut]) + ".py" if cut else file or "?"
    return "::".join([path, *parts[cut:], name])


def parse_junit(
    xml_bytes: bytes,
    *,
    test_files: Sequence[str] | None = None,
    max_bytes: int = MAX_REPORT_BYTES,
) -> dict[str, str]:
    """Map a pytest JUnit XML report to ``{test id: status}``.

    Test ids are ``path::name`` or ``path::Class::name``. The path is found by matching the
    ``classname`` against the known test modules -- ``test_files`` plus every ``file`` attribute
    in the report -- so tests inherited from a base class in another file still get the module
    pytest collected them from. When a test appears twice (a failure and a teardown error), the
    worse status wins. A ``testcase`` without a ``name`` is left out (callers count a missing
    id as failed).

    Hostile input is refused with :class:`JUnitError`: more than ``max_bytes``, any DOCTYPE,
    entity declaration or external entity (no billion laughs, no file reads), malformed XML, a
    root other than ``testsuites``/``testsuite``, or more than :data:`MAX_TESTCASES` cases.
    """
    if not isinstance(xml_bytes, bytes | bytearray):
        raise JUnitError(f"expected the report as bytes, got {type(xml_bytes).__name__}")
    if len(xml_bytes) > max_bytes:
        raise JUnitError(f"report of {len(xml_bytes)} bytes is over the {max_bytes}-byte limit")
    if not xml_bytes.strip():
        raise JUnitError("the report is empty")

    def forbid(*_args: object) -> None:
        raise JUnitError("the report declares a DOCTYPE or entities, which are refused")

    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = forbid
    parser.EntityDeclHandler = forbid
    parser.UnparsedEntityDeclHandler = forbid
    parser.ExternalEntityRefHandler = forbid
    parser.NotationDeclHandler = forbid

    cases: list[tuple[dict[str, str], str]] = []
    state: dict = {"depth": 0, "root": None, "case": None, "case_depth": 0}

    def start(name: str, attrs: dict[str, str]) -> None:
        state["depth"] += 1
        if state["root"] is None:
            if name not in ("testsuites", "testsuite"):
                raise JUnitError(f"expected a <testsuites> or <testsuite> root, got <{name}>")
            state["root"] = name
        if name == "testcase":
            if state["case"] is not None:
                raise JUnitError("nested <testcase> elements")
            if len(cases) >= MAX_TESTCASES:
                raise JUnitError(f"more than {MAX_TESTCASES} test cases")
            state["case"] = [dict(attrs), "passed"]
            state["case_depth"] = state["depth"]
        elif state["case"] is not None and state["depth"] == state["case_depth"] + 1:
            outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}.get(name)
            if outcome and _STATUS_RANK[outcome] > _STATUS_RANK[state["case"][1]]:
                state["case"][1] = outcome

    def end(name: str) -> None:
        if name == "testcase" and state["case"] is not None:
            cases.append((state["case"][0], state["case"][1]))
            state["case"] = None
        state["depth"] -= 1

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    try:
        parser.Parse(bytes(xml_bytes), True)
    except expat.ExpatError as exc:
        raise JUnitError(f"the report is not well-formed XML: {exc}") from exc
    if state["root"] is None:
        raise JUnitError("the report has no root element")

    known = list(test_files or ())
    known += [attrs["file"] for attrs, _ in cases if attrs.get("file")]
    modules = _module_map(known)
    results: dict[str, str] = {}
    for attrs, status in cases:
        test_id = _case_id(attrs, modules)
        if test_id is None:
            continue
        previous = results.get(test_id)
        if previous is None or _STATUS_RANK[status] > _STATUS_RANK[previous]:
            results[test_id] = status
    return results


# ---------------------------------------------------------------- running


def _check_relative(path: str, what: str) -> str:
    pure = PurePosixPath(path)
    if not path or pure.is_absolute() or ".." in pure.parts or path.startswith("-"):
        raise ValueError(f"{what}: expected a relative path inside the repo, got {path!r}")
    if "\0" in path or "\n" in path:
        raise ValueError(f"{what}: expected a plain path, got {path!r}")
    return pure.as_posix()


def pytest_command(
    repo: Repo,
    *,
    ini_path: str,
    report_path: str,
    root: str = WORK,
    test_files: Sequence[str] | None = None,
) -> tuple[list[str], dict[str, str]]:
    """The harness's pytest argv and the environment it adds, for a tree mounted at ``root``."""
    targets = [
        _check_relative(p, "test_files") for p in (test_files if test_files else repo.test_paths)
    ]
    argv = ["python", "-m", "pytest", "-p", "no:cacheprovider", "-q", "--tb=short", "-rN",
            "-c", ini_path, "-o", "addopts=", f"--rootdir={root}", f"--confcutdir={root}",
            "--continue-on-collection-errors", f"--junitxml={report_path}", *targets]  # fmt: skip
    paths = []
    for entry in repo.pythonpath:
        rel = _check_relative(entry, "pythonpath") if entry not in (".", "") else "."
        paths.append(root if rel == "." else f"{root}/{rel}")
    env = {
        "PYTHONPATH": ":".join(paths),
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        "PYTEST_ADDOPTS": "",
        "PYTHONDONTWRITEBYTECODE": "1",
        "COLUMNS": "100",
    }
    return argv, env


def _read_report(workdir: Path, name: str) -> bytes:
    """Read ``workdir/name`` without following symlinks; size-capped; deletes it afterwards."""
    dir_fd = os.open(workdir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
        except FileNotFoundError as exc:
            raise JUnitError("pytest wrote no report (did the run exit early?)") from exc
        except OSError as exc:
            raise JUnitError(f"the report cannot be opened safely: {exc}") from exc
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise JUnitError("the report is not a regular file")
            if info.st_size > MAX_REPORT_BYTES:
                raise JUnitError(f"report of {info.st_size} bytes is over the limit")
            chunks = []
            remaining = MAX_REPORT_BYTES + 1
            while remaining > 0:
                chunk = os.read(fd, min(remaining, 1 << 20))
                if not chunk:
                    break
                chunks.append(chunk)
                remaining -= len(chunk)
            data = b"".join(chunks)
        finally:
            os.close(fd)
        if len(data) > MAX_REPORT_BYTES:
            raise JUnitError("the report grew over the limit while being read")
        return data
    finally:
        try:
            os.unlink(name, dir_fd=dir_fd)
        except OSError:
            pass
        os.close(dir_fd)


def _collect_modules(workdir: Path, repo: Repo, test_files: Sequence[str] | None) -> list[str]:
    """Test modules under the run's targets in the episode copy (for naming report entries)."""
    if test_files:
        return list(test_files)
    found = []
    for target in repo.test_paths:
        base = workdir / target
        if base.is_file() or base.suffix == ".py":
            found.append(target)
            continue
        for current, dirs, files in os.walk(base):
            dirs[:] = [d for d in dirs if not d.startswith(".") and d != "__pycache__"]
            for name in files:
                if name.endswith(".py"):
                    found.append((Path(current) / name).relative_to(workdir).as_posix())
    return found


def run_tests(
    sandbox: Sandbox,
    workdir: str | os.PathLike,
    repo: Repo,
    *,
    test_files: Sequence[str] | None = None,
    timeout_s: float = 120.0,
) -> TestRun:
    """Run the repo's tests (or ``test_files``) over ``workdir`` inside ``sandbox``.

    ``workdir`` is an episode copy (see :meth:`Repo.fresh_copy`). The results come from the
    harness's own JUnit report (see the module docstring); ``ok`` is False, with the reason in
    ``error``, when the run timed out, pytest could not start or was interrupted, or the report
    is missing or garbled.

    Raises:
        ValueError: a test file or pythonpath entry that is absolute, contains ``..`` or starts
            with ``-``.
    """
    host_dir = Path(workdir).resolve()
    root = str(host_dir) if sandbox.backend == "unsafe" else WORK
    report_name = f".selfplay-report-{secrets.token_hex(8)}.xml"
    ini_dir = Path(tempfile.mkdtemp(prefix="selfplay-pytest-ini-"))
    try:
        os.chmod(ini_dir, 0o755)  # readable by a per-slot uid inside the sandbox
        ini_path = ini_dir / "pytest.ini"
        ini_path.write_text(HARNESS_INI, encoding="utf-8")
        os.chmod(ini_path, 0o644)
        argv, env = pytest_command(
            repo,
            ini_path=str(ini_path),
            report_path=f"{root}/{report_name}",
            root=root,
            test_files=test_files,
        )
        stale = host_dir / report_name
        if os.path.lexists(stale):
            os.unlink(stale)
        started = time.perf_counter()
        result = sandbox.run(
            argv, workdir=host_dir, timeout_s=timeout_s, env=env, ro_binds=[str(ini_dir)]
        )
        duration = time.perf_counter() - started
    finally:
        shutil.rmtree(ini_dir, ignore_errors=True)
    output = (result.stdout + ("\n" + result.stderr if result.stderr else ""))[-OUTPUT_TAIL_CHARS:]
    base = {"duration_s": duration, "backend": result.backend, "output": output}
    base["returncode"] = result.returncode
    try:
        report = _read_report(host_dir, report_name)
    except JUnitError as exc:
        report, missing = None, str(exc)
    if result.timed_out:
        return TestRun({}, False, error=f"the test run timed out after {timeout_s:g} s", **base)
    if report is None:
        return TestRun({}, False, error=f"{missing}; pytest exit code {result.returncode}", **base)
    try:
        results = parse_junit(report, test_files=_collect_modules(host_dir, repo, test_files))
    except JUnitError as exc:
        return TestRun({}, False, error=str(exc), **base)
    if result.returncode not in (0, 1, 5):
        error = f"pytest exited with code {result.returncode} (interrupted or usage error)"
        return TestRun(results, False, error=error, **base)
    return TestRun(results, True, error=None, **base)
