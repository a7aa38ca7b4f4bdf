"""The image's wheelhouse, judged for the image's Python (CI 11: redis's async-timeout).

The wheels are real wheel archives (a ``.dist-info/METADATA`` in a zip), as pip writes them.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from chiltepin.cluster.wheelhouse import IMAGE_PYTHON, missing_for_image


def _wheel(wheels: Path, name: str, *requires: str) -> None:
    dist = name.replace("-", "_")
    lines = ["Metadata-Version: 2.1", f"Name: {name}", "Version: 1.0"]
    lines += [f"Requires-Dist: {req}" for req in requires]
    with zipfile.ZipFile(wheels / f"{dist}-1.0-py3-none-any.whl", "w") as archive:
        archive.writestr(f"{dist}-1.0.dist-info/METADATA", "\n".join(lines) + "\n")


def test_image_python_is_older_than_the_redis_cut() -> None:
    """The case CI 11 met: the host (3.11.7) skips what the image (3.11.2) needs."""
    assert tuple(int(part) for part in IMAGE_PYTHON.split(".")) < (3, 11, 3)


def test_a_requirement_only_the_image_python_needs_is_missing(tmp_path: Path) -> None:
    _wheel(tmp_path, "redis", 'async-timeout>=4.0.3; python_full_version < "3.11.3"')
    assert missing_for_image(tmp_path) == ["async-timeout>=4.0.3"]
    _wheel(tmp_path, "async-timeout")
    assert missing_for_image(tmp_path) == []


def test_markers_false_for_the_image_ask_for_nothing(tmp_path: Path) -> None:
    _wheel(
        tmp_path,
        "academy-py",
        'tomli; python_version < "3.11"',
        'pytest; extra == "dev"',
        'pywin32; sys_platform == "win32"',
    )
    assert missing_for_image(tmp_path) == []


def test_extras_asked_by_another_wheel_count(tmp_path: Path) -> None:
    """An extra one wheel asks of another brings that extra's requirements, and only its."""
    _wheel(tmp_path, "app", "lib[fast]>=1")
    _wheel(tmp_path, "lib", 'speedups>=2; extra == "fast"', 'debugger; extra == "debug"')
    assert missing_for_image(tmp_path) == ["speedups>=2"]
