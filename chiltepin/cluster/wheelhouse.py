"""What the image's Python needs beyond the wheels the host resolved.

The image's dependency wheels are resolved by pip on the host, which evaluates environment
markers for the host's Python; the image installs them, offline, with Debian 12's Python.
A requirement whose marker holds only for the image's interpreter (redis needs
``async-timeout`` below Python 3.11.3, and the host runs a later 3.11) is absent from what
the host resolved, and the image's ``pip install --no-index`` fails. pip cannot resolve
for another interpreter's markers (``--python-version`` only chooses among wheels, and only
for ``download``), so this module reads the wheels' own metadata, evaluates each
requirement for the image's interpreter, and names those that no wheel provides; the
caller builds wheels for them and asks again, until nothing is missing.
"""

from __future__ import annotations

import zipfile
from email.parser import HeaderParser
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

#: The Python of the image's base, Debian 12's ``python3``. The Dockerfile refuses to build
#: on any other, so a new Debian point release cannot silently make this untrue.
IMAGE_PYTHON = "3.11.2"


def _environment(extra: str) -> dict[str, str]:
    """The image interpreter's markers: the host's (same OS and machine), its version."""
    env = {key: str(value) for key, value in default_environment().items()}
    major_minor = ".".join(IMAGE_PYTHON.split(".")[:2])
    env.update(
        python_version=major_minor,
        python_full_version=IMAGE_PYTHON,
        implementation_version=IMAGE_PYTHON,
        extra=extra,
    )
    return env


def _metadata(wheel: Path) -> tuple[str, list[Requirement]]:
    """A wheel's distribution name and its ``Requires-Dist`` entries."""
    with zipfile.ZipFile(wheel) as archive:
        name = next(
            n for n in archive.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")
        )
        headers = HeaderParser().parsestr(archive.read(name).decode())
    requires = [Requirement(line) for line in headers.get_all("Requires-Dist") or []]
    return canonicalize_name(headers["Name"]), requires


def missing_for_image(wheels: Path) -> list[str]:
    """Requirements (without their markers) that the image's Python needs and that no
    wheel in ``wheels`` provides, sorted.

    Every wheel there is installed in the image, so each counts with no extra, and with
    each extra that another wheel's applicable requirement asks of it.
    """
    requires = dict(_metadata(wheel) for wheel in sorted(wheels.glob("*.whl")))
    extras: dict[str, set[str]] = {name: {""} for name in requires}
    missing: dict[str, Requirement] = {}
    changed = True
    while changed:
        changed = False
        for name, reqs in requires.items():
            for extra in sorted(extras[name]):
                for req in reqs:
                    if req.marker is not None and not req.marker.evaluate(_environment(extra)):
                        continue
                    dep = canonicalize_name(req.name)
                    if dep not in requires:
                        missing.setdefault(dep, req)
                    elif not req.extras <= extras[dep]:
                        extras[dep] |= req.extras
                        changed = True
    return sorted(_unmarked(req) for req in missing.values())


def _unmarked(req: Requirement) -> str:
    """The requirement as pip takes it on its command line: marker already decided."""
    bare = Requirement(str(req))
    bare.marker = None
    return str(bare)
