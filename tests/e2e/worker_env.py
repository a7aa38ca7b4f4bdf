"""A second virtual environment for an endpoint's workers, differing from the client's.

A real venv (its own interpreter link, ``activate`` script and site-packages) holding a
different dill from PyPI; everything else (parsl, globus-compute-endpoint and -sdk) comes
from the client's environment through a ``.pth`` placed *after* its own packages, so
``import dill`` on a worker loads the other version. Its ``bin/`` has its own
``globus-compute-endpoint`` script (the command GlobusComputeEngine starts workers with),
so a ``worker_init`` that activates it runs the workers under this environment, as a site
whose software stack lags the user's would.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

OTHER_DILL = "0.3.8"


def other_dill_env(root: Path, dill: str = OTHER_DILL) -> Path:
    """Build (once per ``root``) and return the environment's directory."""
    env = root / f"workers-dill-{dill}"
    python = env / "bin" / "python"
    if (env / "bin" / "globus-compute-endpoint").exists():
        return env
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    purelib = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target"]
    subprocess.run([*pip, str(purelib), f"dill=={dill}"], check=True)
    client_packages = sysconfig.get_path("purelib")
    (purelib / "zz-client-packages.pth").write_text(
        f"import site; site.addsitedir({client_packages!r})\n"
    )
    script = env / "bin" / "globus-compute-endpoint"
    script.write_text(
        f"#!{python}\nimport sys\nfrom globus_compute_endpoint.cli import cli_run\n"
        "sys.exit(cli_run())\n"
    )
    script.chmod(0o755)
    return env
