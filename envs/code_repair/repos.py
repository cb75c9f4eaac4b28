"""Repositories for the code-repair family: the embedded library, PyPI sdists, a user's directory.

A :class:`Repo` is a *pristine snapshot* on disk that nothing writes to; every episode works on
:meth:`Repo.fresh_copy`. Three sources:

* ``"embedded"`` -- ``tallykit``, a small library with a real pytest suite written for this
  project (package data, offline, Apache-2.0). It is copied once into the cache
  (``<cache>/repos/embedded/tallykit-<version>-<fingerprint>/tree``).
* ``"pypi:NAME"`` / :func:`fetch` -- a PyPI project's sdist, downloaded with ``pip download
  --no-deps --no-binary :all:`` (the running interpreter's pip), extracted by a checking extractor
  (no absolute paths, no ``..``, no links leaving the tree, no devices, no owners kept) into
  ``<cache>/repos/pypi/<name>-<version>/tree``, with ``repo.json`` (licence, sdist sha256, layout)
  next to it. The four defaults (inflection, parse, toolz, cachetools) are pinned to the versions
  and sha256 measured for this project; others get a generic layout guess.
* a path -- a user's project directory, snapshotted into ``<cache>/repos/path/``.

The cache is ``$SELFPLAY_GYM_CACHE``, else ``$XDG_CACHE_HOME/selfplay-gym``, else
``~/.cache/selfplay-gym`` (the same root the other families use).

Note that ``pip download`` of an sdist prepares its metadata, which runs the project's build
backend on the host (in pip's isolated build environment). Only fetch projects you trust that
far; the code itself only ever runs in :mod:`selfplay_gym.sandbox`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath

from selfplay_gym.cache import cache_root

__all__ = [
    "KNOWN_PROJECTS",
    "KnownProject",
    "Repo",
    "RepoError",
    "cache_root",
    "detect_license",
    "extract_archive",
    "fetch",
    "load_repo",
    "tree_fingerprint",
]

EMBEDDED_DIR = Path(__file__).resolve().parent / "data" / "embedded"
"""The embedded library's project root inside the installed package."""
EMBEDDED_NAME = "tallykit"
EXCLUDED_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        "__pycache__",
        ".pytest_cache",
        ".mypy_cache",
        ".ruff_cache",
        ".hypothesis",
        ".tox",
        ".nox",
        ".eggs",
        ".venv",
        "build",
        "dist",
    }
)
"""Directory names never copied, fingerprinted or listed (VCS data, caches, build output)."""
EXCLUDED_SUFFIXES = (".pyc", ".pyo", ".egg-info")
MAX_ARCHIVE_BYTES = 256 << 20
"""Refuse an sdist that unpacks to more than this (a decompression bomb)."""
MAX_ARCHIVE_MEMBERS = 20_000
PIP_TIMEOUT_S = 900.0
_NAME_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")
_VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+!_-]*$")
_SCHEMA = 1


class RepoError(RuntimeError):
    """A repository cannot be loaded, fetched or extracted (the message says why)."""


@dataclass(frozen=True)
class KnownProject:
    """Layout of a PyPI project whose sdist this family was measured on.

    Attributes:
        version: the pinned default version.
        sha256: sha256 of that version's sdist; a download that differs is refused.
        test_paths: test files/dirs relative to the project root.
        pythonpath: dirs to put on ``PYTHONPATH``, relative to the root.
        packages: the code under test (dirs or modules), relative to the root.
    """

    version: str
    sha256: str
    test_paths: tuple[str, ...]
    pythonpath: tuple[str, ...]
    packages: tuple[str, ...]


KNOWN_PROJECTS: dict[str, KnownProject] = {
    "inflection": KnownProject(
        "0.5.1",
        "1a29730d366e996aaacffb2f1f1cb9593dc38e2ddd30c91250c6dde09ea9b417",
        ("test_inflection.py",),
        (".",),
        ("inflection",),
    ),
    "parse": KnownProject(
        "1.22.4",
        "706d458feed5a81b02768d3156e8070baf6cee7d150a3a3c0cd43101a875c3b5",
        ("tests",),
        (".",),
        ("parse",),
    ),
    "toolz": KnownProject(
        "1.2.0",
        "9667a038e9d6ecba37995e26cb2f59ec6420b6ad8dd9677de59db9b956b08490",
        ("toolz/tests", "toolz/sandbox/tests"),
        (".",),
        ("toolz", "tlz"),
    ),
    "cachetools": KnownProject(
        "8.0.1",
        "deb1d376d4d28c2f33f3e3058043b005e0af75c35c094bd54053e27d2906ad95",
        ("tests",),
        ("src",),
        ("src/cachetools",),
    ),
}
"""The default PyPI projects (pure Python, tests in the sdist, suites of 1.7-4 s sandboxed)."""


def _excluded(name: str) -> bool:
    return name in EXCLUDED_DIRS or name.endswith(EXCLUDED_SUFFIXES)


def _walk(root: Path) -> Iterator[tuple[str, Path]]:
    """``(relative posix path, path)`` of every file and symlink under ``root``.

    Sorted; :data:`EXCLUDED_DIRS` are skipped and symlinked directories are not followed.
    """
    for current, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not _excluded(d))
        base = Path(current)
        for d in list(dirs):
            if (base / d).is_symlink():
                dirs.remove(d)
                files.append(d)
        for name in sorted(files):
            if _excluded(name):
                continue
            path = base / name
            yield path.relative_to(root).as_posix(), path


def tree_fingerprint(root: str | os.PathLike) -> str:
    """sha256 over the sorted relative paths and contents of the files under ``root``.

    Excluded directories (``.git``, caches, build output) and bytecode do not count; a symlink
    counts by its target text. Stable across copies, machines and mtimes.
    """
    digest = hashlib.sha256()
    for rel, path in sorted(_walk(Path(root))):
        digest.update(rel.encode("utf-8", "surrogateescape") + b"\0")
        if path.is_symlink():
            digest.update(b"L" + os.readlink(path).encode("utf-8", "surrogateescape"))
        else:
            digest.update(b"F")
            with open(path, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 16), b""):
                    digest.update(block)
        digest.update(b"\0")
    return digest.hexdigest()


def _link_stays_inside(link: Path, root: Path) -> bool:
    target = os.readlink(link)
    if os.path.isabs(target):
        return False
    resolved = os.path.normpath(os.path.join(os.path.dirname(link), target))
    root_text = os.path.normpath(root)
    return resolved == root_text or resolved.startswith(root_text + os.sep)


def _copy_tree(source: Path, dest: Path) -> None:
    """Copy ``source`` into the existing empty dir ``dest``.

    Files keep their executable bit; relative symlinks that stay inside are recreated; excluded
    dirs, bytecode and links that escape are left out.
    """
    for rel, path in _walk(source):
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink():
            if _link_stays_inside(path, source):
                os.symlink(os.readlink(path), target)
            continue
        if not path.is_file():
            continue  # sockets, fifos, devices: never part of a repo
        shutil.copyfile(path, target)
        mode = path.stat().st_mode
        os.chmod(target, 0o755 if mode & stat.S_IXUSR else 0o644)


@dataclass(frozen=True)
class Repo:
    """A pristine repository snapshot and how to test it.

    Attributes:
        name: project name (``"tallykit"``, ``"toolz"``, a directory name).
        version: its version (``"0"`` when a path gives none).
        license: SPDX-like licence name (``"Apache-2.0"``, ``"MIT"``), or ``"unknown"``.
        source: ``"embedded"``, ``"pypi"`` or ``"path"``.
        root: the snapshot directory (never written; episodes use :meth:`fresh_copy`).
        test_paths: test files/dirs relative to ``root``, e.g. ``("tests",)``.
        pythonpath: dirs to put on ``PYTHONPATH``, relative to ``root``, e.g. ``("src",)``.
        fingerprint: :func:`tree_fingerprint` of ``root``.
        packages: the code under test (dirs or modules relative to ``root``); empty means every
            non-test ``.py`` file counts as source.
    """

    name: str
    version: str
    license: str
    source: str
    root: Path
    test_paths: tuple[str, ...]
    pythonpath: tuple[str, ...]
    fingerprint: str
    packages: tuple[str, ...] = ()

    def fresh_copy(self, dest: str | os.PathLike) -> Path:
        """Copy the snapshot to ``dest`` (created, or an existing empty dir); returns it.

        The copy has no ``.git``, ``__pycache__``, ``.pytest_cache`` or build dirs, and is
        independent of the snapshot (no hard links).
        """
        target = Path(dest)
        if target.exists():
            if not target.is_dir() or any(target.iterdir()):
                raise RepoError(f"fresh_copy: expected a new or empty directory, got {target}")
        else:
            target.mkdir(parents=True)
        _copy_tree(self.root, target)
        return target

    def _is_test_path(self, rel: str) -> bool:
        return any(rel == t or rel.startswith(t.rstrip("/") + "/") for t in self.test_paths)

    def test_files(self) -> list[str]:
        """The test modules pytest collects, relative and sorted.

        ``test_*.py`` / ``*_test.py`` under :attr:`test_paths`, plus test paths naming a file.
        """
        found = []
        for rel, path in _walk(self.root):
            if path.is_symlink() or not rel.endswith(".py") or not self._is_test_path(rel):
                continue
            base = rel.rsplit("/", 1)[-1]
            if rel in self.test_paths or base.startswith("test_") or base.endswith("_test.py"):
                found.append(rel)
        return found

    def source_files(self) -> list[str]:
        """The non-test ``.py`` files of the code under test (:attr:`packages`), sorted."""
        found = []
        for rel, path in _walk(self.root):
            if path.is_symlink() or not rel.endswith(".py") or self._is_test_path(rel):
                continue
            base = rel.rsplit("/", 1)[-1]
            if base == "conftest.py" or base.startswith("test_") or "/tests/" in f"/{rel}":
                continue
            if self.packages:
                if not any(rel == p or rel.startswith(p.rstrip("/") + "/") for p in self.packages):
                    continue
            elif base in ("setup.py", "noxfile.py") or rel.startswith(("docs/", "doc/")):
                continue
            found.append(rel)
        return found

    def as_dict(self) -> dict:
        """JSON-ready description (``root`` as a string)."""
        data = asdict(self)
        data["root"] = str(self.root)
        data["test_paths"] = list(self.test_paths)
        data["pythonpath"] = list(self.pythonpath)
        data["packages"] = list(self.packages)
        return data


# ---------------------------------------------------------------- snapshots and repo.json


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def _repo_from_record(record: dict, tree: Path) -> Repo:
    return Repo(
        name=str(record["name"]),
        version=str(record["version"]),
        license=str(record.get("license") or "unknown"),
        source=str(record["source"]),
        root=tree,
        test_paths=tuple(record["test_paths"]),
        pythonpath=tuple(record["pythonpath"]),
        fingerprint=str(record["fingerprint"]),
        packages=tuple(record.get("packages", ())),
    )


def _load_snapshot(directory: Path) -> Repo | None:
    """The repo recorded in ``directory/repo.json``, if its ``tree`` is intact.

    None when absent, unreadable, or when the tree's fingerprint differs from the recorded one.
    """
    try:
        record = json.loads((directory / "repo.json").read_text(encoding="utf-8"))
        tree = directory / "tree"
        if record.get("schema") != _SCHEMA or not tree.is_dir():
            return None
        if tree_fingerprint(tree) != record["fingerprint"]:
            return None
        return _repo_from_record(record, tree)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _publish(staging: Path, final: Path) -> None:
    """Move a finished staging dir into place with an atomic rename.

    When ``final`` already holds a valid snapshot (a concurrent writer won), it is kept and the
    staging dir dropped; a broken one is moved aside first, so readers never see a half tree.
    """
    try:
        os.rename(staging, final)
        return
    except OSError:
        if not final.exists():
            raise
    if _load_snapshot(final) is not None:
        shutil.rmtree(staging, ignore_errors=True)
        return
    aside = Path(tempfile.mkdtemp(prefix=f".{final.name}.old-", dir=final.parent))
    os.rename(final, aside / "snapshot")
    os.rename(staging, final)
    shutil.rmtree(aside, ignore_errors=True)


def _staging_dir(parent: Path, name: str) -> Path:
    parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{name}.staging-", dir=parent))


def _snapshot(
    source_dir: Path, dest: Path, record: dict, extra_files: dict[str, Path] | None = None
) -> Repo:
    """Copy ``source_dir`` to ``dest/tree`` with ``record`` as ``dest/repo.json``."""
    staging = _staging_dir(dest.parent, dest.name)
    try:
        tree = staging / "tree"
        tree.mkdir()
        _copy_tree(source_dir, tree)
        for name, path in (extra_files or {}).items():
            shutil.copyfile(path, staging / name)
        record = {**record, "schema": _SCHEMA, "fingerprint": tree_fingerprint(tree)}
        _write_json(staging / "repo.json", record)
        _publish(staging, dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    repo = _load_snapshot(dest)
    if repo is None:
        raise RepoError(f"the snapshot at {dest} did not verify after writing it")
    return repo


def _embedded_version() -> str:
    text = (EMBEDDED_DIR / "pyproject.toml").read_text(encoding="utf-8")
    match = re.search(r'^version\s*=\s*"([^"]+)"', text, re.MULTILINE)
    return match.group(1) if match else "0"


def embedded_repo(cache: Path | None = None) -> Repo:
    """The embedded ``tallykit`` library, snapshotted into the cache on first use."""
    if not (EMBEDDED_DIR / "pyproject.toml").is_file():
        raise RepoError(f"the embedded repository is missing from the package ({EMBEDDED_DIR})")
    version = _embedded_version()
    fingerprint = tree_fingerprint(EMBEDDED_DIR)
    dest = (
        (cache or cache_root())
        / "repos"
        / "embedded"
        / (f"{EMBEDDED_NAME}-{version}-{fingerprint[:12]}")
    )
    repo = _load_snapshot(dest)
    if repo is not None:
        return repo
    record = {
        "name": EMBEDDED_NAME,
        "version": version,
        "license": "Apache-2.0",
        "license_file": "LICENSE",
        "source": "embedded",
        "test_paths": ["tests"],
        "pythonpath": ["src"],
        "packages": [f"src/{EMBEDDED_NAME}"],
    }
    return _snapshot(EMBEDDED_DIR, dest, record)


# ---------------------------------------------------------------- layout and licence detection

_NON_PACKAGE_DIRS = frozenset({"tests", "test", "testing", "docs", "doc", "examples", "benchmarks",
                               "bench", "scripts", "tools", "ci"})  # fmt: skip
_NON_SOURCE_MODULES = frozenset({"setup.py", "conftest.py", "noxfile.py", "tasks.py", "fabfile.py"})


def detect_layout(root: Path) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """Guess ``(test_paths, pythonpath, packages)`` of a project without a known layout.

    Tests: ``tests/`` or ``test/`` at the root, else root-level ``test_*.py`` / ``*_test.py``,
    else ``tests``/``test`` dirs up to three levels down. Import root: ``src`` when it holds
    code, else the project root. Packages: the dirs with ``__init__.py`` and the modules at the
    import root that are not tests, docs or tooling.
    """
    test_paths: tuple[str, ...] = ()
    for name in ("tests", "test"):
        if (root / name).is_dir():
            test_paths = (name,)
            break
    if not test_paths:
        test_paths = tuple(
            sorted(
                p.name
                for p in root.glob("*.py")
                if p.name.startswith("test_") or p.name.endswith("_test.py")
            )
        )
    if not test_paths:
        nested = [
            rel
            for rel, _ in _walk_dirs(root, depth=3)
            if rel.rsplit("/", 1)[-1] in ("tests", "test")
        ]
        test_paths = tuple(nested)
    src = root / "src"
    has_src = src.is_dir() and (
        any(src.glob("*/__init__.py")) or any(p.suffix == ".py" for p in src.iterdir())
    )
    import_root = src if has_src else root
    prefix = "src/" if has_src else ""
    packages = []
    for entry in sorted(import_root.iterdir()):
        if _excluded(entry.name) or entry.name.startswith("."):
            continue
        if entry.is_dir() and (entry / "__init__.py").is_file():
            if entry.name not in _NON_PACKAGE_DIRS:
                packages.append(prefix + entry.name)
        elif entry.suffix == ".py" and entry.name not in _NON_SOURCE_MODULES:
            if not (entry.name.startswith("test_") or entry.name.endswith("_test.py")):
                packages.append(prefix + entry.name)
    return test_paths, (("src",) if has_src else (".",)), tuple(packages)


def _walk_dirs(root: Path, depth: int) -> Iterator[tuple[str, Path]]:
    for current, dirs, _ in os.walk(root):
        base = Path(current)
        level = len(base.relative_to(root).parts)
        dirs[:] = sorted(d for d in dirs if not _excluded(d) and not (base / d).is_symlink())
        if level >= depth:
            dirs[:] = []
        for d in dirs:
            yield (base / d).relative_to(root).as_posix(), base / d


_CLASSIFIER_LICENSES = {
    "MIT License": "MIT",
    "BSD License": "BSD",
    "Apache Software License": "Apache-2.0",
    "ISC License (ISCL)": "ISC",
    "Python Software Foundation License": "PSF-2.0",
    "Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
}
_LICENSE_FILES = ("LICENSE", "LICENSE.txt", "LICENSE.md", "LICENSE.rst", "LICENCE", "COPYING")


def _license_from_text(text: str) -> str | None:
    if "Permission is hereby granted, free of charge" in text:
        return "MIT"
    if "Redistribution and use in source and binary forms" in text:
        return "BSD-3-Clause" if "Neither the name" in text else "BSD-2-Clause"
    if "Apache License" in text and "Version 2.0" in text:
        return "Apache-2.0"
    if "Mozilla Public License" in text and "2.0" in text:
        return "MPL-2.0"
    if "ISC License" in text or "Permission to use, copy, modify, and/or distribute" in text:
        return "ISC"
    return None


def detect_license(root: str | os.PathLike) -> tuple[str, str | None]:
    """``(licence, licence file)`` of a project.

    From ``PKG-INFO`` (``License-Expression``, a short ``License`` field, or a licence
    classifier), else from the licence file's text; ``"unknown"`` when neither says.
    """
    root = Path(root)
    license_file = next((n for n in _LICENSE_FILES if (root / n).is_file()), None)
    pkg_info = root / "PKG-INFO"
    if pkg_info.is_file():
        headers = pkg_info.read_text(encoding="utf-8", errors="replace").split("\n\n", 1)[0]
        fields: dict[str, list[str]] = {}
        for line in headers.splitlines():
            key, sep, value = line.partition(":")
            if sep and not line[:1].isspace():
                fields.setdefault(key.strip().lower(), []).append(value.strip())
        for value in fields.get("license-expression", []):
            if value:
                return value, license_file
        for value in fields.get("license", []):
            if value and value.upper() != "UNKNOWN" and len(value) <= 40:
                return value, license_file
        for value in fields.get("classifier", []):
            if value.startswith("License :: OSI Approved :: "):
                name = value.rsplit(" :: ", 1)[-1]
                return _CLASSIFIER_LICENSES.get(name, name), license_file
    if license_file is not None:
        text = (root / license_file).read_text(encoding="utf-8", errors="replace")
        found = _license_from_text(text)
        if found:
            return found, license_file
    return "unknown", license_file


# ---------------------------------------------------------------- extraction


def _check_member_name(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    drive_like = bool(path.parts) and ":" in path.parts[0]
    if not name or name.startswith(("/", "\\")) or path.is_absolute() or drive_like:
        raise RepoError(f"archive member with an absolute path: {name!r}")
    if ".." in path.parts or "\0" in name:
        raise RepoError(f"archive member leaving the tree: {name!r}")
    return path


def _link_target_inside(member_path: PurePosixPath, target: str, *, hard: bool) -> PurePosixPath:
    if target.startswith("/") or PurePosixPath(target).is_absolute():
        raise RepoError(f"archive link {member_path} points to an absolute path {target!r}")
    base = PurePosixPath() if hard else member_path.parent
    parts: list[str] = []
    for part in (base / target).parts:
        if part == "..":
            if not parts:
                raise RepoError(f"archive link {member_path} points outside the tree: {target!r}")
            parts.pop()
        elif part != ".":
            parts.append(part)
    return PurePosixPath(*parts)


def extract_archive(archive: str | os.PathLike, dest: str | os.PathLike) -> None:
    """Unpack an sdist (``.tar.gz``, ``.tgz``, ``.tar.bz2``, ``.tar.xz``, ``.tar``, ``.zip``).

    Like ``tar --no-same-owner`` with checks: absolute paths, ``..``, links that leave the tree,
    devices and fifos raise :class:`RepoError`, as do more than :data:`MAX_ARCHIVE_MEMBERS`
    members or :data:`MAX_ARCHIVE_BYTES` bytes. Files get mode 0644 (0755 if executable), owned
    by whoever runs this; symlinks inside the tree are recreated, hard links copied.
    """
    archive = Path(archive)
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    if archive.name.endswith(".zip"):
        _extract_zip(archive, dest)
        return
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            if len(members) > MAX_ARCHIVE_MEMBERS:
                raise RepoError(f"{archive.name}: {len(members)} members, over the limit")
            total = 0
            links: list[tuple[tarfile.TarInfo, PurePosixPath]] = []
            for member in members:
                path = _check_member_name(member.name)
                if member.isdir():
                    (dest / path).mkdir(parents=True, exist_ok=True)
                elif member.isreg():
                    total += member.size
                    if total > MAX_ARCHIVE_BYTES:
                        raise RepoError(f"{archive.name} unpacks to more than the size limit")
                    target = dest / path
                    target.parent.mkdir(parents=True, exist_ok=True)
                    source = tar.extractfile(member)
                    assert source is not None
                    with source, open(target, "wb") as out:
                        shutil.copyfileobj(source, out)
                    os.chmod(target, 0o755 if member.mode & 0o100 else 0o644)
                elif member.issym() or member.islnk():
                    links.append((member, path))
                else:
                    raise RepoError(f"archive member {member.name!r} is a device or fifo")
            for member, path in links:  # after the files, so hard links have their source
                hard = member.islnk()
                inside = _link_target_inside(path, member.linkname, hard=hard)
                target = dest / path
                target.parent.mkdir(parents=True, exist_ok=True)
                if hard:
                    if not (dest / inside).is_file():
                        raise RepoError(f"hard link {member.name!r} to a missing file")
                    shutil.copyfile(dest / inside, target)
                else:
                    os.symlink(member.linkname, target)
    except tarfile.TarError as exc:
        raise RepoError(f"{archive.name} is not a readable archive: {exc}") from exc


def _extract_zip(archive: Path, dest: Path) -> None:
    try:
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_ARCHIVE_MEMBERS:
                raise RepoError(f"{archive.name}: {len(infos)} members, over the limit")
            if sum(i.file_size for i in infos) > MAX_ARCHIVE_BYTES:
                raise RepoError(f"{archive.name} unpacks to more than the size limit")
            for info in infos:
                path = _check_member_name(info.filename)
                mode = info.external_attr >> 16
                if stat.S_ISLNK(mode):
                    raise RepoError(f"zip member {info.filename!r} is a symlink")
                target = dest / path
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as source, open(target, "wb") as out:
                    shutil.copyfileobj(source, out)
                os.chmod(target, 0o755 if mode & 0o100 else 0o644)
    except zipfile.BadZipFile as exc:
        raise RepoError(f"{archive.name} is not a readable zip: {exc}") from exc


# ---------------------------------------------------------------- PyPI


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pip_download(spec: str, dest: Path, timeout_s: float) -> Path:
    """Run ``pip download`` for one sdist into ``dest``; returns the archive's path."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
           "--disable-pip-version-check", "--no-input", "--dest", str(dest), spec]  # fmt: skip
    env = {**os.environ, "PIP_NO_INPUT": "1"}
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout_s, env=env, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise RepoError(
            f"pip download {spec} took longer than {timeout_s:.0f} s (is PyPI reachable?)"
        ) from exc
    except OSError as exc:
        raise RepoError(f"cannot run pip ({sys.executable} -m pip): {exc}") from exc
    if proc.returncode != 0:
        output = (proc.stderr or proc.stdout or "").strip()
        tail = "\n".join(output.splitlines()[-6:])
        if "No module named pip" in output:
            hint = "pip is not installed in this interpreter"
        elif re.search(r"NewConnectionError|Max retries|Name or service|resolution|"
                       r"Network is unreachable|timed out|ProxyError|SSLError", output):  # fmt: skip
            hint = "PyPI is unreachable from here"
        elif "No matching distribution" in output or "Could not find a version" in output:
            hint = "no sdist of that name/version on the index (or the index is unreachable)"
        else:
            hint = "see pip's output"
        raise RepoError(f"pip download {spec} failed (exit {proc.returncode}): {hint}.\n{tail}")
    archives = [
        p
        for p in dest.iterdir()
        if p.name.endswith((".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar", ".zip"))
    ]
    if len(archives) != 1:
        names = sorted(p.name for p in dest.iterdir())
        raise RepoError(f"pip download {spec}: expected one sdist, got {names}")
    return archives[0]


def _sdist_version(archive: Path, name: str) -> str:
    stem = archive.name
    for suffix in (".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar", ".zip"):
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    base, _, version = stem.rpartition("-")
    if not base or _canonical(base) != _canonical(name) or not _VERSION_RE.match(version):
        raise RepoError(f"cannot read the version of {name} from the sdist name {archive.name!r}")
    return version


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(
    name: str,
    version: str | None = None,
    *,
    cache: Path | None = None,
    timeout_s: float = PIP_TIMEOUT_S,
) -> Repo:
    """A PyPI project's sdist as a :class:`Repo`, downloaded once into the cache.

    Args:
        name: the project (``"inflection"``, ``"parse"``, ``"toolz"``, ``"cachetools"`` have
            known layouts and pinned versions; others get :func:`detect_layout`).
        version: a version; None means the pinned one for a known project, else the latest.
        cache: cache root (default :func:`cache_root`).
        timeout_s: limit on the ``pip download`` run.

    Raises:
        RepoError: a bad name, pip or PyPI unavailable, a sha256 that differs from the pinned
            one, an unsafe or unreadable archive, or an sdist without tests.
    """
    if not _NAME_RE.match(name):
        raise RepoError(f"expected a PyPI project name, got {name!r}")
    if version is not None and not _VERSION_RE.match(version):
        raise RepoError(f"expected a version like '1.2.0', got {version!r}")
    key = _canonical(name)
    known = KNOWN_PROJECTS.get(key)
    if version is None and known is not None:
        version = known.version
    base = Path(cache or cache_root()) / "repos" / "pypi"
    if version is not None:
        cached = _load_snapshot(base / f"{key}-{version}")
        if cached is not None:
            return cached
    base.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".download-", dir=base) as tmp:
        spec = f"{name}=={version}" if version is not None else name
        archive = _pip_download(spec, Path(tmp) / "sdist", timeout_s)
        found_version = _sdist_version(archive, name)
        if version is not None and found_version != version:
            raise RepoError(f"asked pip for {spec}, got {archive.name}")
        version = found_version
        sha256 = _sha256(archive)
        if known is not None and version == known.version and sha256 != known.sha256:
            raise RepoError(
                f"{archive.name}: sha256 {sha256} differs from the pinned {known.sha256}"
            )
        dest = base / f"{key}-{version}"
        cached = _load_snapshot(dest)
        if cached is not None:
            return cached
        unpacked = Path(tmp) / "unpacked"
        extract_archive(archive, unpacked)
        tops = [p for p in unpacked.iterdir()]
        project = tops[0] if len(tops) == 1 and tops[0].is_dir() else unpacked
        if known is not None and version == known.version:
            test_paths, pythonpath, packages = known.test_paths, known.pythonpath, known.packages
        else:
            test_paths, pythonpath, packages = detect_layout(project)
        if not test_paths:
            raise RepoError(f"{archive.name} ships no tests (no tests/, test/ or test_*.py)")
        license_name, license_file = detect_license(project)
        record = {
            "name": key,
            "version": version,
            "license": license_name,
            "license_file": license_file,
            "source": "pypi",
            "test_paths": list(test_paths),
            "pythonpath": list(pythonpath),
            "packages": list(packages),
            "sdist": archive.name,
            "sdist_sha256": sha256,
            "fetched_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        return _snapshot(project, dest, record, {archive.name: archive})


def cached_repos(cache: Path | None = None) -> list[dict]:
    """The ``repo.json`` records of every snapshot in the cache (with ``dir``), sorted."""
    found = []
    root = Path(cache or cache_root()) / "repos"
    for record_path in sorted(root.glob("*/*/repo.json")):
        try:
            record = json.loads(record_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(record, dict):
            found.append({**record, "dir": str(record_path.parent)})
    return found


# ---------------------------------------------------------------- user paths and load_repo


def _project_name_and_version(root: Path) -> tuple[str, str]:
    name, version = root.name, "0"
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        text = pyproject.read_text(encoding="utf-8", errors="replace")
        section = re.search(r"^\[project\]\s*$(.*?)(?=^\[|\Z)", text, re.MULTILINE | re.DOTALL)
        if section:
            found = re.search(r'^name\s*=\s*"([^"]+)"', section.group(1), re.MULTILINE)
            name = found.group(1) if found else name
            found = re.search(r'^version\s*=\s*"([^"]+)"', section.group(1), re.MULTILINE)
            version = found.group(1) if found else version
    return name, version


def repo_from_path(path: str | os.PathLike, *, cache: Path | None = None) -> Repo:
    """Snapshot a user's project directory into the cache and describe it.

    The layout comes from :func:`detect_layout`; the snapshot is keyed by the tree's fingerprint,
    so an edited project gets a new snapshot and an unchanged one is reused.
    """
    root = Path(path).expanduser().resolve()
    if not root.is_dir():
        raise RepoError(f"expected 'embedded', 'pypi:NAME[==VERSION]' or a directory, got {path}")
    test_paths, pythonpath, packages = detect_layout(root)
    if not test_paths:
        raise RepoError(f"{root} has no tests (no tests/, test/ or test_*.py)")
    name, version = _project_name_and_version(root)
    license_name, license_file = detect_license(root)
    fingerprint = tree_fingerprint(root)
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name)[:60] or "project"
    dest = Path(cache or cache_root()) / "repos" / "path" / f"{safe}-{fingerprint[:16]}"
    repo = _load_snapshot(dest)
    if repo is not None:
        return repo
    record = {
        "name": name,
        "version": version,
        "license": license_name,
        "license_file": license_file,
        "source": "path",
        "origin": str(root),
        "test_paths": list(test_paths),
        "pythonpath": list(pythonpath),
        "packages": list(packages),
    }
    return _snapshot(root, dest, record)


def load_repo(spec: str | os.PathLike = "embedded", *, cache: Path | None = None) -> Repo:
    """A repository by spec.

    ``"embedded"``; ``"pypi:NAME"`` or ``"pypi:NAME==VERSION"`` (fetched once, then from the
    cache); or a path to a project directory (snapshotted into the cache).
    """
    if isinstance(spec, str) and spec == "embedded":
        return embedded_repo(cache)
    if isinstance(spec, str) and spec.startswith("pypi:"):
        name, _, version = spec[len("pypi:") :].partition("==")
        return fetch(name.strip(), version.strip() or None, cache=cache)
    return repo_from_path(spec, cache=cache)
