"""``chiltepin demo --dashboard`` as a user runs it: it prints the run's page URL, serves the
page while the run goes and after it ends, and stops serving on Ctrl-C (SIGINT)."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

from tests.dashboard.http import closed, get

CHILTEPIN = str(Path(sys.executable).parent / "chiltepin")
URL = re.compile(r"dashboard of this run: (http://127\.0\.0\.1:(\d+)/run/\S+)")


def test_the_demo_serves_its_page_until_ctrl_c(tmp_path: Path) -> None:
    demo = subprocess.Popen(
        [
            CHILTEPIN,
            "demo",
            "--dashboard",
            "--members",
            "2",
            "--steps",
            "10",
            "--no-progress",
            "--run-dir",
            str(tmp_path / "demo"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert demo.stdout is not None
        seen: list[str] = []
        for line in demo.stdout:  # the URL comes as the run starts, the notice after it ends
            seen.append(line)
            if "its page is still served" in line:
                break
        found = [m for line in seen if (m := URL.search(line))]
        assert len(found) == 1, "".join(seen)
        url, port = found[0].group(1), int(found[0].group(2))
        status, page = get(url)
        assert status == 200 and b'<body data-page="run">' in page
        demo.send_signal(signal.SIGINT)
        assert demo.wait(timeout=30) == 0
        assert closed(port)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
