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
from pathlib import Path

from chiltepin.federation import Federation
from chiltepin.federation.journal import read_journal
from chiltepin.system.waiting import wait_until
from tests.federation.tasks import count_and_return

TASKS = 40


def main() -> None:
    run_dir, ledger, sites = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    wait_remote = len(sys.argv) > 4
    federation = Federation(sites, run_dir=run_dir, progress=False, status_poll_s=1)
    futures = [federation.submit(count_and_return, ledger, i, 0.5) for i in range(TASKS)]
    futures[0].result(180)
    if wait_remote:
        # Every attempt placed so far has its remote id (late binding holds the rest). On
        # timeout the kill goes ahead: the resume test then sees fewer remote ids.
        def identified() -> bool:
            attempts = [t.attempts for t in read_journal(Path(run_dir)).tasks.values()]
            placed = [a for tried in attempts for a in tried]
            return bool(placed) and all(a.remote for a in placed)

        wait_until(identified, 60, interval=0.2)
    print("killing myself with tasks in flight", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    main()
