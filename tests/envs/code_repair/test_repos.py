"""Repositories: the embedded snapshot, fingerprints, fresh copies, user paths, safe extraction,
PyPI fetches (skipped without PyPI) and the ``selfplay-gym repos`` command."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import pytest

from selfplay_gym.envs.code_repair import repos
from selfplay_gym.envs.code_repair.repos import (
    EMBEDDED_DIR,
    KNOWN_PROJECTS,
    RepoError,
    detect_license,
    extract_archive,
    fetch,
    load_repo,
    tree_fingerprint,
)

MODULES = ["intervals", "kvparse", "recurrence", "rle", "textutils", "ttlcache", "vectors"]


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "cache"


@pytest.fixture
def embedded(cache):
    return load_repo("embedded", cache=cache)


# ---------------------------------------------------------------- the embedded library


def test_embedded_is_snapshotted_into_the_cache(embedded, cache):
    assert embedded.source == "embedded" and embedded.name == "tallykit"
    assert embedded.license == "Apache-2.0"
    assert embedded.root.is_relative_to(cache) and embedded.root.is_dir()
    assert embedded.fingerprint == tree_fingerprint(embedded.root) == tree_fingerprint(EMBEDDED_DIR)
    record = json.loads((embedded.root.parent / "repo.json").read_text())
    assert record["license"] == "Apache-2.0" and record["fingerprint"] == embedded.fingerprint
    assert (embedded.root / "LICENSE").read_text().lstrip().startswith("Apache License")


def test_embedded_layout_lists_its_modules_and_tests(embedded):
    assert embedded.test_paths == ("tests",) and embedded.pythonpath == ("src",)
    assert embedded.test_files() == [f"tests/test_{m}.py" for m in MODULES]
    assert embedded.source_files() == ["src/tallykit/__init__.py"] + [
        f"src/tallykit/{m}.py" for m in MODULES
    ]
    lines = sum(len((embedded.root / f).read_text().splitlines()) for f in embedded.source_files())
    assert 600 <= lines <= 1200


def test_embedded_package_data_holds_no_bytecode_or_caches():
    # Committed package data: pytest runs over it in development, so check the tracked files.
    tracked = subprocess.run(
        ["git", "ls-files", str(EMBEDDED_DIR)],
        capture_output=True,
        text=True,
        cwd=EMBEDDED_DIR,
        check=False,
    )
    if tracked.returncode != 0:
        pytest.skip("not a git checkout")
    names = tracked.stdout.split()
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc") or "_cache" in n]


def test_second_load_reuses_the_snapshot(embedded, cache):
    marker = embedded.root / "src" / "tallykit" / "rle.py"
    mtime = marker.stat().st_mtime_ns
    started = time.perf_counter()
    again = load_repo("embedded", cache=cache)
    elapsed = time.perf_counter() - started
    assert again == embedded and marker.stat().st_mtime_ns == mtime
    assert elapsed < 0.5, f"reloading the snapshot took {elapsed:.3f} s"


def test_an_altered_snapshot_is_replaced(embedded, cache):
    target = embedded.root / "src" / "tallykit" / "rle.py"
    target.write_text("broken = True\n")
    again = load_repo("embedded", cache=cache)
    assert again.fingerprint == embedded.fingerprint
    assert "def dumps" in (again.root / "src" / "tallykit" / "rle.py").read_text()


# ---------------------------------------------------------------- fingerprints and copies


def test_fingerprint_is_stable_and_ignores_caches_and_git(embedded, tmp_path):
    copy = embedded.fresh_copy(tmp_path / "copy")
    assert tree_fingerprint(copy) == embedded.fingerprint
    for junk in (".git/objects", "src/tallykit/__pycache__", ".pytest_cache", "build"):
        (copy / junk).mkdir(parents=True, exist_ok=True)
        (copy / junk / "x").write_bytes(b"junk")
    (copy / "src" / "tallykit" / "rle.cpython-311.pyc").write_bytes(b"\0")
    assert tree_fingerprint(copy) == embedded.fingerprint


def test_fingerprint_changes_with_content_and_names(embedded, tmp_path):
    copy = embedded.fresh_copy(tmp_path / "copy")
    rle = copy / "src" / "tallykit" / "rle.py"
    rle.write_text(rle.read_text().replace("MAX_BYTE_RUN = 255", "MAX_BYTE_RUN = 254"))
    changed = tree_fingerprint(copy)
    assert changed != embedded.fingerprint
    rle.rename(copy / "src" / "tallykit" / "rle2.py")
    assert tree_fingerprint(copy) not in (changed, embedded.fingerprint)


def test_fresh_copy_is_independent_writable_and_cheap(embedded, tmp_path):
    timings = []
    for i in range(5):
        started = time.perf_counter()
        copy = embedded.fresh_copy(tmp_path / f"copy{i}")
        timings.append(time.perf_counter() - started)
    copy = tmp_path / "copy0"
    assert sorted(os.listdir(copy)) == ["LICENSE", "README.md", "pyproject.toml", "src", "tests"]
    target = copy / "src" / "tallykit" / "rle.py"
    assert os.stat(target).st_ino != os.stat(embedded.root / "src/tallykit/rle.py").st_ino
    target.write_text("overwritten\n")
    (copy / "new.txt").write_text("new")
    shutil.rmtree(copy / "tests")
    assert tree_fingerprint(embedded.root) == embedded.fingerprint
    median = sorted(timings)[2]
    print(f"fresh_copy of the embedded repo: median {median * 1000:.1f} ms")
    assert median < 0.25


def test_fresh_copy_into_an_empty_dir_but_not_a_full_one(embedded, tmp_path):
    (tmp_path / "empty").mkdir()
    assert embedded.fresh_copy(tmp_path / "empty") == tmp_path / "empty"
    with pytest.raises(RepoError, match="empty"):
        embedded.fresh_copy(tmp_path / "empty")


# ---------------------------------------------------------------- a user's directory


def _write_project(root: Path) -> None:
    (root / "src" / "widget").mkdir(parents=True)
    (root / "src" / "widget" / "__init__.py").write_text("def double(x):\n    return 2 * x\n")
    (root / "tests").mkdir()
    (root / "tests" / "test_widget.py").write_text(
        "from widget import double\n\ndef test_double():\n    assert double(2) == 4\n"
    )
    (root / "tests" / "conftest.py").write_text("")
    (root / "pyproject.toml").write_text('[project]\nname = "widget"\nversion = "2.1"\n')
    (root / "LICENSE").write_text(
        "Copyright (c) 2026\n\nPermission is hereby granted, free of charge, to any person...\n"
    )


def test_load_repo_of_a_path_snapshots_and_detects_the_layout(tmp_path, cache):
    project = tmp_path / "widget-src"
    _write_project(project)
    (project / ".git").mkdir()
    (project / ".git" / "config").write_text("[core]\n")
    (project / "src" / "widget" / "__pycache__").mkdir()
    os.symlink("/etc/hostname", project / "escape")
    os.symlink("src/widget/__init__.py", project / "alias.py")
    repo = load_repo(project, cache=cache)
    assert (repo.name, repo.version, repo.license, repo.source) == ("widget", "2.1", "MIT", "path")
    assert repo.test_paths == ("tests",) and repo.pythonpath == ("src",)
    assert repo.packages == ("src/widget",)
    assert repo.source_files() == ["src/widget/__init__.py"]
    assert repo.test_files() == ["tests/test_widget.py"]
    assert repo.root.is_relative_to(cache) and not repo.root.is_relative_to(project)
    assert not (repo.root / ".git").exists() and not (repo.root / "escape").exists()
    assert not (repo.root / "src" / "widget" / "__pycache__").exists()
    assert os.readlink(repo.root / "alias.py") == "src/widget/__init__.py"
    assert load_repo(str(project), cache=cache).root == repo.root
    (project / "src" / "widget" / "__init__.py").write_text("def double(x):\n    return x\n")
    assert load_repo(project, cache=cache).root != repo.root


def test_load_repo_of_a_flat_project_with_root_level_tests(tmp_path, cache):
    project = tmp_path / "flat"
    project.mkdir()
    (project / "flat.py").write_text("X = 1\n")
    (project / "setup.py").write_text("")
    (project / "test_flat.py").write_text("import flat\n\ndef test_x():\n    assert flat.X\n")
    repo = load_repo(project, cache=cache)
    assert repo.test_paths == ("test_flat.py",) and repo.pythonpath == (".",)
    assert repo.source_files() == ["flat.py"] and repo.test_files() == ["test_flat.py"]
    assert repo.version == "0" and repo.license == "unknown"


def test_load_repo_refuses_missing_dirs_and_projects_without_tests(tmp_path, cache):
    with pytest.raises(RepoError, match="directory"):
        load_repo(tmp_path / "nowhere", cache=cache)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "code.py").write_text("")
    with pytest.raises(RepoError, match="no tests"):
        load_repo(tmp_path / "empty", cache=cache)


def test_cache_root_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SELFPLAY_GYM_CACHE", str(tmp_path / "c"))
    assert repos.cache_root() == tmp_path / "c"
    monkeypatch.delenv("SELFPLAY_GYM_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert repos.cache_root() == tmp_path / "x" / "selfplay-gym"


# ---------------------------------------------------------------- licences


@pytest.mark.parametrize(
    ("pkg_info", "license_text", "expected"),
    [
        ("License-Expression: BSD-3-Clause\n", None, "BSD-3-Clause"),
        ("License: MIT\nClassifier: License :: OSI Approved :: MIT License\n", None, "MIT"),
        ("License: UNKNOWN\nClassifier: License :: OSI Approved :: BSD License\n", None, "BSD"),
        (
            None,
            "Redistribution and use in source and binary forms... Neither the name",
            "BSD-3-Clause",
        ),
        (None, "Apache License\nVersion 2.0, January 2004", "Apache-2.0"),
        (None, "All rights reserved.", "unknown"),
    ],
)
def test_detect_license(tmp_path, pkg_info, license_text, expected):
    if pkg_info is not None:
        (tmp_path / "PKG-INFO").write_text("Metadata-Version: 2.4\nName: x\n" + pkg_info + "\nbody")
    if license_text is not None:
        (tmp_path / "LICENSE.txt").write_text(license_text)
    name, path = detect_license(tmp_path)
    assert name == expected
    assert path == ("LICENSE.txt" if license_text is not None else None)


# ---------------------------------------------------------------- hostile archives


def _tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
    return path


def _member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "", mode: int = 0o644):
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, link, mode
    info.uid, info.gid, info.uname, info.gname = 4242, 4242, "mallory", "mallory"
    return info


def test_extract_archive_unpacks_files_links_and_drops_owner_and_special_bits(tmp_path):
    archive = _tar(
        tmp_path / "ok-1.0.tar.gz",
        [
            (_member("ok-1.0", tarfile.DIRTYPE, mode=0o777), None),
            (_member("ok-1.0/run.sh", mode=0o4777), b"#!/bin/sh\n"),
            (_member("ok-1.0/pkg/a.py"), b"A = 1\n"),
            (_member("ok-1.0/pkg/b.py", tarfile.SYMTYPE, link="a.py"), None),
            (_member("ok-1.0/pkg/c.py", tarfile.LNKTYPE, link="ok-1.0/pkg/a.py"), None),
        ],
    )
    extract_archive(archive, tmp_path / "out")
    root = tmp_path / "out" / "ok-1.0"
    assert (root / "pkg" / "b.py").read_text() == "A = 1\n"
    assert (root / "pkg" / "b.py").is_symlink() and not (root / "pkg" / "c.py").is_symlink()
    assert (root / "pkg" / "c.py").read_text() == "A = 1\n"
    assert (root / "run.sh").stat().st_mode & 0o7777 == 0o755
    assert (root / "pkg" / "a.py").stat().st_uid == os.getuid()


@pytest.mark.parametrize(
    ("member", "reason"),
    [
        (_member("/etc/evil"), "absolute"),
        (_member("x/../../evil"), "leaving"),
        (_member("x/link", tarfile.SYMTYPE, link="/etc/passwd"), "absolute"),
        (_member("x/link", tarfile.SYMTYPE, link="../../outside"), "outside"),
        (_member("x/hard", tarfile.LNKTYPE, link="../etc/passwd"), "outside"),
        (_member("x/dev", tarfile.CHRTYPE), "device"),
        (_member("x/fifo", tarfile.FIFOTYPE), "device or fifo"),
    ],
)
def test_extract_archive_refuses_hostile_members(tmp_path, member, reason):
    archive = _tar(tmp_path / "bad.tar.gz", [(_member("x/ok.py"), b"")] + [(member, None)])
    with pytest.raises(RepoError, match=reason):
        extract_archive(archive, tmp_path / "out")
    assert not (tmp_path / "evil").exists() and not Path("/etc/evil").exists()


def test_extract_archive_refuses_bombs_and_bad_zips(tmp_path, monkeypatch):
    archive = _tar(tmp_path / "big.tar.gz", [(_member("x/big.bin"), b"\0" * 4096)])
    monkeypatch.setattr(repos, "MAX_ARCHIVE_BYTES", 1024)
    with pytest.raises(RepoError, match="size limit"):
        extract_archive(archive, tmp_path / "out")
    with zipfile.ZipFile(tmp_path / "bad.zip", "w") as zf:
        zf.writestr("x/../../evil.py", "")
    with pytest.raises(RepoError, match="leaving"):
        extract_archive(tmp_path / "bad.zip", tmp_path / "out2")
    (tmp_path / "junk.tar.gz").write_bytes(b"not an archive")
    with pytest.raises(RepoError, match="not a readable archive"):
        extract_archive(tmp_path / "junk.tar.gz", tmp_path / "out3")


# ---------------------------------------------------------------- fetch errors without network


@pytest.mark.parametrize(
    ("name", "version"), [("--index-url=http://evil", None), ("a b", None), ("toolz", "1; rm")]
)
def test_fetch_refuses_names_that_are_not_project_names(name, version, cache):
    with pytest.raises(RepoError, match="expected"):
        fetch(name, version, cache=cache)


def test_fetch_reports_an_unreachable_index_clearly(tmp_path, cache, monkeypatch):
    fake = tmp_path / "fake-python"
    fake.write_text(
        '#!/bin/sh\necho "WARNING: Retrying after connection broken by '
        "'NewConnectionError: [Errno -3] Temporary failure in name resolution'\" >&2\nexit 1\n"
    )
    fake.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(fake))
    with pytest.raises(RepoError, match="PyPI is unreachable"):
        fetch("inflection", cache=cache)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-such-python"))
    with pytest.raises(RepoError, match="cannot run pip"):
        fetch("parse", cache=cache)


def test_known_projects_are_pinned_with_sha256():
    assert set(KNOWN_PROJECTS) == {"inflection", "parse", "toolz", "cachetools"}
    for known in KNOWN_PROJECTS.values():
        assert len(known.sha256) == 64 and known.test_paths and known.pythonpath


# ---------------------------------------------------------------- PyPI (network) and the CLI


@pytest.fixture(scope="module")
def pypi_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("pypi-cache")


@pytest.fixture(scope="module")
def inflection_repo(pypi_cache):
    try:
        return fetch("inflection", cache=pypi_cache, timeout_s=180)
    except RepoError as exc:
        pytest.skip(f"pip download failed (no PyPI here?): {exc}")


def test_fetch_inflection_records_licence_and_sha256(inflection_repo, pypi_cache):
    repo = inflection_repo
    assert (repo.name, repo.version, repo.source, repo.license) == (
        "inflection",
        "0.5.1",
        "pypi",
        "MIT",
    )
    folder = repo.root.parent
    record = json.loads((folder / "repo.json").read_text())
    assert record["sdist_sha256"] == KNOWN_PROJECTS["inflection"].sha256
    assert record["license_file"] == "LICENSE" and (repo.root / "LICENSE").is_file()
    assert (folder / record["sdist"]).is_file()
    assert repo.test_files() == ["test_inflection.py"]
    assert repo.source_files() == ["inflection/__init__.py"]
    assert not list(repo.root.rglob("__pycache__"))  # the sdist ships docs/__pycache__
    # Cached: a second fetch and load_repo("pypi:...") do not run pip.
    started = time.perf_counter()
    assert load_repo("pypi:inflection", cache=pypi_cache) == repo
    assert time.perf_counter() - started < 1.0


def test_fetched_inflection_passes_in_the_sandbox(inflection_repo, tmp_path):
    from selfplay_gym.envs.code_repair.testing import run_tests
    from selfplay_gym.sandbox import Sandbox, SandboxUnavailable

    try:
        sandbox = Sandbox()
    except SandboxUnavailable as exc:
        pytest.skip(f"no sandbox backend: {exc}")
    run = run_tests(sandbox, inflection_repo.fresh_copy(tmp_path / "w"), inflection_repo)
    assert run.ok, run.error
    assert len(run.results) >= 400 and set(run.results.values()) == {"passed"}
    print(f"inflection suite in the sandbox ({run.backend}): {run.duration_s:.2f} s")


def _cli(*args: str, cache: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "SELFPLAY_GYM_CACHE": str(cache)}
    return subprocess.run(
        [sys.executable, "-m", "selfplay_gym", "repos", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def test_cli_list_shows_the_embedded_repo_and_the_known_projects(tmp_path):
    proc = _cli("list", "--json", cache=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert rows[0]["source"] == "embedded" and rows[0]["cached"] is True
    assert Path(rows[0]["root"]).is_relative_to(tmp_path)
    assert {r["name"] for r in rows if not r["cached"]} == set(KNOWN_PROJECTS)
    text = _cli("list", cache=tmp_path).stdout
    assert "tallykit" in text and "selfplay-gym repos fetch toolz" in text


def test_cli_fetch_uses_the_cache_and_lists_it(inflection_repo, pypi_cache):
    proc = _cli("fetch", "inflection", "--json", cache=pypi_cache)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["root"] == str(inflection_repo.root)
    rows = json.loads(_cli("list", "--json", cache=pypi_cache).stdout)
    (row,) = [r for r in rows if r["name"] == "inflection"]
    assert row["cached"] and row["license"] == "MIT"


def test_cli_fetch_bad_name_exits_2(tmp_path):
    proc = _cli("fetch", "--", "--evil", cache=tmp_path)
    assert proc.returncode == 2 and "expected a PyPI project name" in proc.stderr
    assert _cli("fetch", "embedded", cache=tmp_path).returncode == 0
