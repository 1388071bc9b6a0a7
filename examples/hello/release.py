"""hello's release phase: runs once per release, before any instance switches.

It records which release it prepared in .release-phase beside app.py (app.py
reports it as "release_phase"), the kind of one-time work a real app does here
(database migrations, asset builds). A failure here would fail the deploy.
"""
import os
import sys
import time

release = os.environ.get("DFLOW_RELEASE", "unknown")
marker = os.path.join(os.path.dirname(os.path.abspath(__file__)), ".release-phase")
tmp = marker + ".tmp"
stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
try:
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(f"release {release} prepared at {stamp}\n")
    os.replace(tmp, marker)
except OSError as e:
    # The marker is a demonstration; a read-only tree must not fail the deploy.
    print(f"release phase: could not write {marker}: {e}", flush=True)
    sys.exit(0)
print(f"release phase: prepared release {release}", flush=True)
