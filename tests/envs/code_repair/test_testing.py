"""The harness test runner: pytest in the sandbox with the harness's config, and the JUnit parser
on real, odd and hostile reports."""

from __future__ import annotations

import os
import time

import pytest

from selfplay_gym.envs.code_repair import testing
from selfplay_gym.envs.code_repair.repos import load_repo
from selfplay_gym.envs.code_repair.testing import JUnitError, parse_junit, pytest_command, run_tests

# ---------------------------------------------------------------- parse_junit

REPORT = b"""<?xml version="1.0" encoding="utf-8"?>
<testsuites name="pytest tests"><testsuite name="pytest" errors="2" failures="2" skipped="2"
 tests="9" time="0.2">
<testcase classname="" name="tests.test_b" file="tests/test_b.py" time="0.000">
 <error message="collection failure">ImportError</error></testcase>
<testcase classname="tests.test_a.TestK" name="test_x" file="tests/test_a.py" line="2" time="0"/>
<testcase classname="tests.test_a.TestK.TestInner" name="test_y" file="tests/test_a.py" line="4"
 time="0"><failure message="assert 0">assert 0</failure></testcase>
<testcase classname="tests.test_a" name="test_p[a::b]" file="tests/test_a.py" line="5" time="0"/>
<testcase classname="tests.test_a" name="test_skip" file="tests/test_a.py" line="7" time="0">
 <skipped type="pytest.skip" message="no">no</skipped></testcase>
<testcase classname="tests.test_a" name="test_td" file="tests/test_a.py" line="12" time="0">
 <failure message="assert 0">bad = 1</failure></testcase>
<testcase classname="tests.test_a" name="test_td" file="tests/test_a.py" line="12" time="0">
 <error message="failed on teardown">teardown</error></testcase>
<testcase classname="tests.test_a" name="test_passes_then_teardown_fails" file="tests/test_a.py">
 <system-out>hello</system-out></testcase>
<testcase classname="tests.test_a" name="test_passes_then_teardown_fails" file="tests/test_a.py">
 <error message="failed on teardown">teardown</error></testcase>
<testcase classname="tests.test_a" name="test_xf" file="tests/test_a.py" line="13" time="0">
 <skipped type="pytest.xfail" message=""/></testcase>
</testsuite></testsuites>
"""


def test_parse_junit_maps_ids_statuses_and_merges_duplicates():
    assert parse_junit(REPORT) == {
        "tests/test_b.py": "error",
        "tests/test_a.py::TestK::test_x": "passed",
        "tests/test_a.py::TestK::TestInner::test_y": "failed",
        "tests/test_a.py::test_p[a::b]": "passed",
        "tests/test_a.py::test_skip": "skipped",
        "tests/test_a.py::test_td": "failed",
        "tests/test_a.py::test_passes_then_teardown_fails": "error",
        "tests/test_a.py::test_xf": "skipped",
    }


def test_parse_junit_names_inherited_tests_by_their_collecting_module():
    # cachetools style: the test method lives in tests/__init__.py, collected in test_lru.py.
    xml = (
        b'<testsuites><testsuite><testcase classname="tests.test_lru.LRUTest" name="test_get" '
        b'file="tests/__init__.py" line="9"/></testsuite></testsuites>'
    )
    assert parse_junit(xml, test_files=["tests/test_lru.py"]) == {
        "tests/test_lru.py::LRUTest::test_get": "passed"
    }
    # Without the module list the capitalised class still marks where the path ends.
    assert parse_junit(xml) == {"tests/test_lru.py::LRUTest::test_get": "passed"}


def test_parse_junit_without_file_attributes_and_with_missing_names():
    xml = (
        b'<testsuite><testcase classname="pkg.tests.test_m" name="test_a"/>'
        b'<testcase classname="pkg.tests.test_m.TestC" name="test_b"><failure/></testcase>'
        b'<testcase classname="pkg.tests.test_m"/><testcase name="orphan"/></testsuite>'
    )
    assert parse_junit(xml, test_files=["pkg/tests/test_m.py"]) == {
        "pkg/tests/test_m.py::test_a": "passed",
        "pkg/tests/test_m.py::TestC::test_b": "failed",
        "orphan.py": "passed",
    }


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<testsuites><testsuite><testcase classname="t" name="&lol3;"/></testsuite></testsuites>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<testsuites><testsuite><testcase classname="t" name="&secret;"/></testsuite></testsuites>"""


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (BILLION_LAUGHS, "DOCTYPE"),
        (EXTERNAL_ENTITY, "DOCTYPE"),
        (BILLION_LAUGHS.decode().encode("utf-16"), "DOCTYPE"),
        (b"<!DOCTYPE testsuites SYSTEM 'http://x/y.dtd'><testsuites/>", "DOCTYPE"),
        (b"<testsuites><testsuite><testcase name='a'>", "well-formed"),
        (b"\x00\xff garbage", "well-formed"),
        (b"", "empty"),
        (b"<html><testcase name='fake'/></html>", "root"),
        (b"<testsuite><testcase name='a'><testcase name='b'/></testcase></testsuite>", "nested"),
        (b"<testsuite><testcase name='&undefined;'/></testsuite>", "well-formed"),
    ],
)
def test_parse_junit_refuses_hostile_or_garbled_reports(data, reason):
    started = time.perf_counter()
    with pytest.raises(JUnitError, match=reason):
        parse_junit(data)
    assert time.perf_counter() - started < 1.0


def test_parse_junit_refuses_huge_reports_unparsed():
    huge = b"<testsuite>" + b"<testcase classname='m' name='t'/>" * 600_000 + b"</testsuite>"
    assert len(huge) > testing.MAX_REPORT_BYTES
    started = time.perf_counter()
    with pytest.raises(JUnitError, match="limit"):
        parse_junit(huge)
    assert time.perf_counter() - started < 0.1
    with pytest.raises(JUnitError, match="limit"):
        parse_junit(REPORT, max_bytes=100)
    with pytest.raises(JUnitError, match="bytes"):
        parse_junit(REPORT.decode())


def test_parse_junit_is_linear_in_a_classname_of_many_dots():
    # Code under test can rewrite the report: a 12 MB one of such names took minutes.
    name = ".".join(["a"] * 3000)
    case = f'<testcase classname="{name}" name="t"/>'.encode()
    report = b"<testsuites>" + case * 2000 + b"</testsuites>"
    assert len(report) < testing.MAX_REPORT_BYTES
    started = time.perf_counter()
    assert len(parse_junit(report, test_files=["tests/test_a.py"])) == 1
    assert time.perf_counter() - started < 5.0


def test_read_report_does_not_follow_a_planted_symlink(tmp_path):
    secret = tmp_path / "secret.xml"
    secret.write_bytes(REPORT)
    work = tmp_path / "work"
    work.mkdir()
    os.symlink(secret, work / "report.xml")
    with pytest.raises(JUnitError, match="safely"):
        testing._read_report(work, "report.xml")
    assert not os.path.lexists(work / "report.xml")  # deleted after the attempt
    os.mkfifo(work / "fifo.xml")
    with pytest.raises(JUnitError, match="regular file"):
        testing._read_report(work, "fifo.xml")


# ---------------------------------------------------------------- the command


def test_pytest_command_is_the_harness_own(tmp_path):
    repo = load_repo("embedded", cache=tmp_path)
    argv, env = pytest_command(repo, ini_path="/h/pytest.ini", report_path="/work/r.xml")
    assert argv[:5] == ["python", "-m", "pytest", "-p", "no:cacheprovider"]
    for flag in (
        "-c",
        "/h/pytest.ini",
        "-o",
        "addopts=",
        "--rootdir=/work",
        "--junitxml=/work/r.xml",
    ):
        assert flag in argv
    assert argv[-1] == "tests"
    assert env["PYTHONPATH"] == "/work/src" and env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] == "1"
    for bad in (["-p evil"], ["../outside.py"], ["/etc/passwd"], [""]):
        with pytest.raises(ValueError, match="relative path"):
            pytest_command(repo, ini_path="i", report_path="r", test_files=bad)


# ---------------------------------------------------------------- runs in the sandbox


@pytest.fixture(scope="module")
def sandbox():
    from selfplay_gym.sandbox import Sandbox, SandboxUnavailable

    try:
        return Sandbox()
    except SandboxUnavailable as exc:
        pytest.skip(f"no sandbox backend here (bwrap or unshare): {exc}")


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    return load_repo("embedded", cache=tmp_path_factory.mktemp("cache"))


@pytest.fixture
def copy(embedded, tmp_path):
    return embedded.fresh_copy(tmp_path / "work")


def test_embedded_suite_passes_in_the_sandbox(sandbox, embedded, copy):
    run = run_tests(sandbox, copy, embedded)
    assert run.ok and run.error is None and run.returncode == 0
    assert 80 <= len(run.results) <= 150
    assert set(run.results.values()) == {"passed"}
    modules = {test_id.split("::")[0] for test_id in run.results}
    assert modules == set(embedded.test_files())
    assert run.backend == sandbox.backend
    assert run.duration_s < 10
    print(f"embedded suite: {len(run.results)} tests in {run.duration_s:.2f} s ({run.backend})")
    # The run leaves the copy as it found it: no report, no ini, no bytecode, no cache.
    assert sorted(os.listdir(copy)) == ["LICENSE", "README.md", "pyproject.toml", "src", "tests"]
    assert not list(copy.rglob("__pycache__"))


@pytest.mark.parametrize("backend", ["bwrap", "unshare", "unsafe"])
def test_every_backend_runs_the_harness_config(backend, embedded, tmp_path):
    import warnings

    from selfplay_gym.sandbox import Sandbox, available_backends

    if backend not in available_backends():
        pytest.skip(f"backend {backend} is not usable here")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # unsafe warns that it does not isolate
        sandbox = Sandbox(backend)
    copy = embedded.fresh_copy(tmp_path / "work")
    (copy / "pytest.ini").write_text("[pytest]\naddopts = -k nothing\n")
    run = run_tests(sandbox, copy, embedded, test_files=["tests/test_intervals.py"])
    assert run.ok and run.backend == backend, run.error
    assert len(run.results) >= 10 and set(run.results.values()) == {"passed"}


def test_a_broken_copy_fails_exactly_the_tests_that_cover_the_bug(sandbox, embedded, copy):
    source = copy / "src" / "tallykit" / "textutils.py"
    text = source.read_text()
    assert "if 11 <= last_two <= 13:" in text
    source.write_text(text.replace("if 11 <= last_two <= 13:", "if 11 <= last_two <= 12:"))
    run = run_tests(sandbox, copy, embedded)
    assert run.ok and run.returncode == 1
    assert run.ids_with("failed") == ["tests/test_textutils.py::test_ordinal[13-13th]"]
    assert len(run.ids_with("passed")) == len(run.results) - 1


def test_test_files_select_what_runs(sandbox, embedded, copy):
    run = run_tests(sandbox, copy, embedded, test_files=["tests/test_rle.py"])
    assert run.ok and run.results
    assert {test_id.split("::")[0] for test_id in run.results} == {"tests/test_rle.py"}


PLANTED_CONFIG = {
    "pytest.ini": "[pytest]\naddopts = -k nothing_matches --co\npython_files = nomatch_*.py\n",
    "tox.ini": "[pytest]\naddopts = --deselect tests/test_rle.py\n",
    "setup.cfg": "[tool:pytest]\naddopts = -x -k nothing\ntestpaths = nowhere\n",
    "tests/pytest.ini": "[pytest]\naddopts = -k nothing\n",
}


@pytest.mark.parametrize("planted", sorted(PLANTED_CONFIG))
def test_planted_pytest_config_cannot_deselect_tests(sandbox, embedded, copy, planted):
    (copy / planted).write_text(PLANTED_CONFIG[planted])
    run = run_tests(sandbox, copy, embedded)
    assert run.ok, run.error
    assert len(run.results) == 150 and set(run.results.values()) == {"passed"}


def test_planted_pyproject_addopts_and_plugins_are_ignored(sandbox, embedded, copy):
    pyproject = copy / "pyproject.toml"
    text = pyproject.read_text()
    assert 'testpaths = ["tests"]' in text
    planted = 'testpaths = ["tests"]\naddopts = "-p evil_plugin -k nothing"'
    pyproject.write_text(text.replace('testpaths = ["tests"]', planted))
    (copy / "evil_plugin.py").write_text("raise SystemExit('the planted plugin was loaded')\n")
    run = run_tests(sandbox, copy, embedded)
    assert run.ok, run.error
    assert len(run.results) == 150 and set(run.results.values()) == {"passed"}


def test_exit_at_import_leaves_no_report_and_fails_the_run(sandbox, embedded, copy):
    rle = copy / "src" / "tallykit" / "rle.py"
    future = "from __future__ import annotations\n"
    rle.write_text(rle.read_text().replace(future, future + "import os\nos._exit(0)\n"))
    (copy / "tests" / "test_fake.py").write_text("print('150 passed')\n")
    run = run_tests(sandbox, copy, embedded)
    assert not run.ok and run.results == {}
    assert "no report" in run.error


def test_a_collection_error_is_reported_and_other_modules_still_run(sandbox, embedded, copy):
    (copy / "tests" / "test_broken.py").write_text("import no_such_module\n")
    run = run_tests(sandbox, copy, embedded)
    assert run.ok
    assert run.results["tests/test_broken.py"] == "error"
    assert sum(status == "passed" for status in run.results.values()) == 150


def test_a_hanging_suite_times_out(sandbox, embedded, copy):
    (copy / "tests" / "test_hang.py").write_text(
        "import time\n\ndef test_hang():\n    time.sleep(60)\n"
    )
    started = time.perf_counter()
    run = run_tests(sandbox, copy, embedded, test_files=["tests/test_hang.py"], timeout_s=3)
    assert time.perf_counter() - started < 15
    assert not run.ok and "timed out" in run.error and run.returncode is None


def test_class_qualified_ids_from_a_user_repo(sandbox, tmp_path):
    project = tmp_path / "proj"
    (project / "tests").mkdir(parents=True)
    (project / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    (project / "tests" / "test_calc.py").write_text(
        "from calc import add\n\n"
        "class TestAdd:\n    def test_ok(self):\n        assert add(1, 2) == 3\n\n"
        "    def test_bad(self):\n        assert add(1, 2) == 4\n"
    )
    repo = load_repo(project, cache=tmp_path / "cache")
    run = run_tests(sandbox, repo.fresh_copy(tmp_path / "work"), repo)
    assert run.ok
    assert run.results == {
        "tests/test_calc.py::TestAdd::test_ok": "passed",
        "tests/test_calc.py::TestAdd::test_bad": "failed",
    }
