"""broken: a web process that never serves, for dflow's failure tests.

BROKEN_MODE=exit (default): complains on stderr and exits 1 at once.
BROKEN_MODE=hang: stays up without listening, so no health check ever passes.
"""
import os
import sys
import time

mode = os.environ.get("BROKEN_MODE", "exit")
if mode == "hang":
    print("broken: running but never listening on $PORT", flush=True)
    while True:
        time.sleep(3600)
print("broken: refusing to start (this example exists to fail its deploy)", file=sys.stderr,
      flush=True)
sys.exit(1)
