"""The chiltepin image (Slurm, MPICH, Python with chiltepin), built once per content hash.

One image serves every container role: the compose cluster's ``slurmctld``, ``c1..c3`` and
``login``, and the workers of a site with a ``container:`` block. Its tag is a hash of
everything that goes into it (``docker/`` files, the package source, the exact versions of
the installed dependencies), so an unchanged tree reuses the image it built before and a
changed one can never run stale code.

Nothing is pulled and pip inside a build sees no index: the dependencies are wheels built
here, with this environment's pip settings, pinned to the versions this environment runs
(so workers deserialise what the endpoint serialised), completed with what only the image's
own, older Python needs (``wheelhouse.py``), and copied into the build context.
The base image ``debian:12`` must exist locally (``docker/setup-podman.sh`` makes it).
"""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from chiltepin.cluster.engine import ContainerEngine
from chiltepin.cluster.wheelhouse import IMAGE_PYTHON, missing_for_image
from chiltepin.errors import ChiltepinError
from chiltepin.paths import source_root

IMAGE_NAME = "chiltepin-slurm"
#: What ``FROM debian:12`` resolves to; made locally by docker/setup-podman.sh.
BASE_IMAGE = "docker.io/library/debian:12"
_SOURCE_PARTS = ("pyproject.toml", "README.md", "chiltepin", "endpoints", "templates", "docker")
_SKIP = ("__pycache__", ".pyc", ".pytest_cache", ".ruff_cache")


@dataclass(frozen=True)
class ImageBuild:
    """The image's tag and whether this call built it (``False``: reused from the cache)."""

    tag: str
    content_hash: str
    built: bool
    seconds: float
    runtime: str

    @property
    def ref(self) -> str:
        """The image's full local name: podman keeps local builds under ``localhost/``."""
        return f"localhost/{self.tag}" if self.runtime == "podman" else self.tag


def _root() -> Path:
    root = source_root()
    if root is None:
        raise ChiltepinError(
            "building the chiltepin image needs a source checkout of chiltepin "
            "(its pyproject.toml, docker/ and package source)"
        )
    return root


def _source_files(root: Path) -> Iterator[Path]:
    for part in _SOURCE_PARTS:
        path = root / part
        if path.is_file():
            yield path
            continue
        for file in sorted(path.rglob("*")):
            if file.is_file() and not any(s in file.as_posix() for s in _SKIP):
                yield file


def pinned_requirements() -> str:
    """``name==version`` of every distribution in this environment except chiltepin.

    Used as pip constraints for the image's wheels: the workers in the image must run the
    same globus-compute/Parsl/dill as the endpoint that serialises their tasks.
    """
    pins = {
        dist.metadata["Name"].lower(): dist.version
        for dist in metadata.distributions()
        if dist.metadata["Name"] and dist.metadata["Name"].lower() != "chiltepin"
    }
    return "".join(f"{name}=={version}\n" for name, version in sorted(pins.items()))


def content_hash() -> str:
    """Hash of every input of the image; its first 16 hex digits are the image tag."""
    root = _root()
    digest = hashlib.sha256(pinned_requirements().encode())
    for file in _source_files(root):
        digest.update(file.relative_to(root).as_posix().encode() + b"\0")
        digest.update(file.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def image_tag(hash_: str | None = None) -> str:
    return f"{IMAGE_NAME}:{hash_ or content_hash()}"


def _pip_wheel(args: list[str], cwd: Path) -> None:
    cmd = [sys.executable, "-m", "pip", "wheel", "-q", "--disable-pip-version-check", *args]
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ChiltepinError(f"pip wheel failed for the image:\n{result.stderr[-3000:]}")


def _complete_for_image(wheels: Path, constraints: Path, cwd: Path) -> None:
    """Add the wheels that only the image's Python needs (``wheelhouse.py`` says why),
    until the wheelhouse installs there; chiltepin's own wheel is still in it, so its
    requirements count too."""
    asked: list[str] = []
    while missing := missing_for_image(wheels):
        if missing == asked:
            raise ChiltepinError(
                f"pip wheel built no wheel for {', '.join(missing)}, which the image's "
                f"Python {IMAGE_PYTHON} needs"
            )
        _pip_wheel(["-w", str(wheels), "-c", str(constraints), *missing], cwd=cwd)
        asked = missing


def _prepare_context(context: Path, root: Path) -> None:
    """Build context: Dockerfile, entrypoint, slurm.conf, dependency wheels and chiltepin's.

    The dependency wheels are rebuilt only when the pins change, so their ``COPY`` layer and
    the ``pip install`` after it stay cached across source edits.
    """
    context.mkdir(parents=True, exist_ok=True)
    pins = pinned_requirements()
    wheels = context / "wheels"
    stamp = context / "wheels.pins"
    # The stamp names the image's Python too: wheels resolved for another one are stale.
    stamped = f"{pins}# completed for Python {IMAGE_PYTHON}\n"
    if not stamp.is_file() or stamp.read_text() != stamped:
        shutil.rmtree(wheels, ignore_errors=True)
        wheels.mkdir()
        constraints = context / "constraints.txt"
        constraints.write_text(pins)
        _pip_wheel(["-w", str(wheels), "-c", str(constraints), str(root)], cwd=context)
        _complete_for_image(wheels, constraints, context)
        for own in wheels.glob("chiltepin-*.whl"):
            own.unlink()
        stamp.write_text(stamped)
    app = context / "app"
    shutil.rmtree(app, ignore_errors=True)
    app.mkdir()
    _pip_wheel(["--no-deps", "-w", str(app), str(root)], cwd=context)
    docker = root / "docker"
    for name in ("Dockerfile", "entrypoint.sh"):
        shutil.copy2(docker / name, context / name)
    shutil.copy2(docker / "slurm" / "slurm.conf", context / "slurm.conf")


def context_dir() -> Path:
    """Where the build context is kept between runs, so its wheels (and the image layers
    that copy them) are reused. Under the user's own home from the password database, not
    ``$HOME``: test sessions point ``$HOME`` at a fresh directory."""
    return Path(pwd.getpwuid(os.getuid()).pw_dir) / ".cache" / "chiltepin" / "image-context"


def ensure_image(engine: ContainerEngine) -> ImageBuild:
    """The image for this tree: reused when its tag exists, else built (minutes, cold).

    The build's output goes to ``build.log`` in the context directory; a failure shows its
    tail.
    """
    started = time.monotonic()
    hash_ = content_hash()
    tag = image_tag(hash_)
    if engine.image_exists(tag):
        return ImageBuild(tag, hash_, False, time.monotonic() - started, engine.runtime)
    if not engine.image_exists(BASE_IMAGE):
        raise ChiltepinError(
            f"base image {BASE_IMAGE} not found ({engine.runtime} cannot pull here); "
            "create it with docker/setup-podman.sh (`./dev setup` runs it)"
        )
    context = context_dir()
    _prepare_context(context, _root())
    cmd = [engine.runtime, "build", "--network", "host", "--build-arg", f"CONTENT_HASH={hash_}"]
    cmd += ["--build-arg", f"IMAGE_PYTHON={IMAGE_PYTHON}"]
    cmd += ["-t", tag, "-t", f"{IMAGE_NAME}:latest", str(context)]
    log = context / "build.log"
    with log.open("w") as out:
        code = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, check=False).returncode
    if code != 0:
        tail = log.read_text().strip().splitlines()[-30:]
        command = " ".join(cmd)
        raise ChiltepinError(f"`{command}` failed ({code}); end of {log}:\n" + "\n".join(tail))
    _remove_older(engine, keep=hash_)
    return ImageBuild(tag, hash_, True, time.monotonic() - started, engine.runtime)


def _remove_older(engine: ContainerEngine, keep: str) -> None:
    """Untag this image's builds for other content hashes: each source edit makes one, and
    only the newest is ever used. One still used by a container stays (``rmi`` refuses)."""
    listed = engine.run("images", "--format", "{{.Repository}}:{{.Tag}}", check=False)
    for ref in listed.split():
        name, _, tag = ref.rpartition(":")
        if name.rsplit("/", 1)[-1] == IMAGE_NAME and tag not in (keep, "latest"):
            engine.run("rmi", ref, check=False)
