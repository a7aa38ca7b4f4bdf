"""A client that fans out, then is killed mid-run (run by test_resume as a subprocess)."""

from __future__ import annotations

import os
import signal
import sys

from chiltepin.federation import Federation
from tests.federation.tasks import count_and_return

run_dir, ledger, sites_json = sys.argv[1], sys.argv[2], sys.argv[3]
import json  # noqa: E402

federation = Federation(json.loads(sites_json), run_dir=run_dir, progress=False)
futures = [federation.submit(count_and_return, ledger, i) for i in range(40)]
futures[0].result(120)
print("submitted", flush=True)
os.kill(os.getpid(), signal.SIGKILL)
