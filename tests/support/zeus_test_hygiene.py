"""What every Python test driver of this repository does first (docs/testing.md), shared by
tests/python/conftest.py, tests/bso/test_bso.py and tests/exporter/*.py (standard library only).

* Signals: a test started from a script in the background (nohup, ``&``) inherits an ignored
  SIGINT (and maybe SIGQUIT, SIGHUP, a blocked mask); every process it starts would too, and a
  test that stops a command with Ctrl-C would wait for it forever. reset_signals() gives this
  process, and so everything it starts, the default dispositions.
* Skips: skip_or_fail(reason) exits 77 (ctest's SKIP_RETURN_CODE), or 1 with
  ZEUS_REQUIRE_ALL=1 (CI): a missing dependency is a failure there, never a silent pass.
"""

import os
import signal
import sys

_CAUGHT = ("SIGINT", "SIGQUIT", "SIGHUP", "SIGTERM", "SIGPIPE", "SIGUSR1", "SIGUSR2", "SIGALRM",
           "SIGCHLD", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGXFSZ")


def reset_signals():
    for name in _CAUGHT:
        sig = getattr(signal, name, None)
        if sig is None:
            continue
        if sig == signal.SIGINT:
            signal.signal(sig, signal.default_int_handler)  # Python's own: KeyboardInterrupt
        elif sig != signal.SIGPIPE and signal.getsignal(sig) == signal.SIG_IGN:
            signal.signal(sig, signal.SIG_DFL)  # Python ignores SIGPIPE itself; children reset it
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def require_all():
    return os.environ.get("ZEUS_REQUIRE_ALL") == "1"


def skip_or_fail(reason):
    if require_all():
        print(f"FAIL: {reason} (ZEUS_REQUIRE_ALL=1: a missing dependency is a failure)", flush=True)
        sys.exit(1)
    print(f"SKIP: {reason}", flush=True)
    sys.exit(77)
