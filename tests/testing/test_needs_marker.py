"""corral's own `needs` marker (tests/conftest.py): a missing tool skips a test with the reason,
and fails it under CI, where everything a test needs is installed."""

from __future__ import annotations

from pathlib import Path

import pytest

CONFTEST = Path(__file__).resolve().parents[1] / "conftest.py"

TESTS = """
import pytest

@pytest.mark.needs("corral-no-such-tool")
def test_with_a_missing_tool():
    pass

@pytest.mark.needs("sh")
def test_with_a_present_tool():
    pass
"""


@pytest.mark.parametrize("ci", [False, True])
def test_a_missing_tool_skips_the_test_and_fails_it_in_ci(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ci: bool
) -> None:
    pytester.makeconftest(CONFTEST.read_text())
    pytester.makeini("[pytest]\nmarkers =\n    needs(*tools): what the test needs\n")
    pytester.makepyfile(test_tools=TESTS)
    if ci:
        monkeypatch.setenv("CI", "1")
    else:
        monkeypatch.delenv("CI", raising=False)
    result = pytester.runpytest_subprocess("-rsf", "-p", "no:cacheprovider")
    if ci:
        result.assert_outcomes(passed=1, errors=1)  # failed in its setup, as the fleet does
        assert result.ret == pytest.ExitCode.TESTS_FAILED
        result.stdout.fnmatch_lines(["*needs corral-no-such-tool, which CI must have*"])
    else:
        result.assert_outcomes(passed=1, skipped=1)
        assert result.ret == pytest.ExitCode.OK
        result.stdout.fnmatch_lines(["*SKIPPED*needs corral-no-such-tool*"])
