"""A client that fans out 40 tasks, then is SIGKILLed mid-run (run by the resume tests).

argv: RUN_DIR LEDGER SITES_JSON [WAIT_REMOTE]. With WAIT_REMOTE it first waits until every
placed task's remote id is in the journal (what a client that ran a few seconds has done),
so the resumed run must collect those from the endpoint rather than resubmit; the tasks
late binding still held are placed by the resumed run.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

from chiltepin.federation import Federation
from tests.federation.tasks import count_and_return

TASKS = 40


def main() -> None:
    run_dir, ledger, sites = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    wait_remote = len(sys.argv) > 4
    federation = Federation(sites, run_dir=run_dir, progress=False, status_poll_s=1)
    futures = [federation.submit(count_and_return, ledger, i, 0.5) for i in range(TASKS)]
    futures[0].result(180)
    journal = Path(run_dir) / "journal.jsonl"
    deadline = time.monotonic() + 60
    while wait_remote and time.monotonic() < deadline:
        text = journal.read_text()
        if 0 < text.count('"e":"attempt"') <= text.count('"e":"remote"'):
            break
        time.sleep(0.2)
    print("killing myself with tasks in flight", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    main()
