"""The strict stand-in pass: what `./dev test` runs is what the docs say it runs."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TEST_FILE = re.compile(r"tests/[\w/]+\.py")


def dev_strict_tests() -> list[str]:
    match = re.search(r"^STRICT_TESTS=\(([^)]*)\)", (REPO / "dev").read_text(), re.M)
    assert match, "dev defines STRICT_TESTS=(...)"
    return match.group(1).split()


def documented(path: str, after: str) -> list[str]:
    """The test files of the strict command that follows ``after`` in ``path``."""
    text = (REPO / path).read_text()
    start = text.index(after)
    command = text[text.index("CHILTEPIN_STANDIN_STRICT=1", start) :]
    command = command[: command.index("`")]  # up to the end of the inline or fenced code
    return TEST_FILE.findall(command)


def test_dev_runs_the_files_the_fidelity_doc_and_readme_name() -> None:
    files = dev_strict_tests()
    assert files and all((REPO / f).is_file() for f in files), files
    assert documented("docs/standin-fidelity.md", "Strict mode runs") == files
    assert documented("README.md", "relies on nothing Globus has not shown") == files


def test_dev_runs_the_strict_pass_with_the_strict_variable() -> None:
    dev = (REPO / "dev").read_text()
    assert re.search(
        r'CHILTEPIN_STANDIN_STRICT=1 exec python -m pytest .*"\$\{STRICT_TESTS\[@\]\}"', dev
    )
