"""Regenerate the README's picture of the dashboard: the demo's ensemble on its two
embedded sites, then the run's page in Debian's Chromium (Playwright, as the tests drive
it), saved as a PNG.

    python -m chiltepin.demo.screenshot docs/images/dashboard.png   (or ./dev screenshot)

Not part of the test suite: it makes a picture for people, and the page it shows is tested
in tests/dashboard. It needs the test extra (playwright) and Debian's ``chromium``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from chiltepin.dashboard import watch
from chiltepin.demo.lorenz96 import DEMO_SITES, initial_conditions, run_ensemble
from chiltepin.federation import Federation

CHROMIUM = "/usr/bin/chromium"
MEMBERS = 24
STEPS = 3000  # long enough per member for the timeline to show both sites working
WIDTH, HEIGHT = 1440, 900  # the sites table fits the width


def _demo_run(run_dir: Path) -> None:
    with Federation(DEMO_SITES, run_dir=run_dir, progress=False) as federation:
        run_ensemble(federation, initial_conditions(MEMBERS), STEPS)


def capture(run_dir: Path, out: Path) -> None:
    """Save the page of the run in ``run_dir`` as ``out`` (the whole page, one PNG)."""
    from playwright.sync_api import sync_playwright  # the test extra: not a runtime need

    with watch(run_dir, say=lambda _: None) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
        page.goto(url)
        page.locator("#run-state:text-is('finished')").wait_for(timeout=10_000)
        out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out), full_page=True)
        browser.close()


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    out = Path(argv[0])
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "lorenz96-demo"
        _demo_run(run_dir)
        capture(run_dir, out)
    print(f"wrote {out} ({out.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
