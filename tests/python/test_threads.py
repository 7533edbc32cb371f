"""libzeus's own threads log into Python: the power sampler (started for a GPU without an energy
counter) warns from its thread while the main thread keeps running Python; nothing deadlocks and
the record reaches the `zeus` logger. Also: windows from several Python threads at once."""

from __future__ import annotations

import json

from conftest import run_python

SAMPLER_LOGS = r"""
import logging, threading, time
records = []
class H(logging.Handler):
    def emit(self, r):
        records.append((r.threadName, r.levelname, r.getMessage()))
logging.getLogger("zeus").addHandler(H())
from zeus.monitor import ZeusMonitor
m = ZeusMonitor(gpu_indices=[0])   # a Pascal GPU: sampled power, period inferred in the sampler
t = time.time()
n = 0
while time.time() - t < 3.0:       # keep the GIL busy in Python meanwhile
    m.begin_window("w", False); n += sum(range(100)); m.end_window("w", False)
assert any(name != "MainThread" for name, _, _ in records), records[:5]
print("OK", len(records))
"""


def test_sampler_thread_logs_while_python_runs():
    config = {"gpus": [{"architecture": "pascal", "count": 1}]}  # flat power: inference warns
    p = run_python(SAMPLER_LOGS, {"ZEUS_FAKE_NVML_CONFIG": json.dumps(config)}, timeout=60)
    assert p.returncode == 0 and "OK" in p.stdout, p.stdout + p.stderr[-2000:]


THREADS = r"""
import threading
from zeus.monitor import ZeusMonitor
m = ZeusMonitor(gpu_indices=[0, 1])
errors = []
def work(k):
    try:
        for i in range(2000):
            m.begin_window(f"t{k}-{i % 3}", False)
            m.end_window(f"t{k}-{i % 3}", False)
    except Exception as e:
        errors.append(e)
ts = [threading.Thread(target=work, args=(k,)) for k in range(4)]
[t.start() for t in ts]; [t.join() for t in ts]
assert not errors, errors
print("OK")
"""


def test_windows_from_several_threads():
    p = run_python("import logging; logging.getLogger('zeus').setLevel(logging.ERROR)\n" + THREADS, timeout=60)
    assert p.returncode == 0 and "OK" in p.stdout, p.stderr[-2000:]
