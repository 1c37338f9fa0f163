# SPDX-License-Identifier: MIT
"""TAP output for the Python test suites, ending with kselftest's
"# Totals:" line that scripts/suite.sh counts. Thread-safe: tests may
report from client threads.

    sys.path.insert(0, <this directory>); from tap import Tap, diag
"""
import sys
import threading


class Tap:
    def __init__(self):
        self.n = self.passed = self.failed = self.skipped = 0
        self.lock = threading.Lock()

    def ok(self, cond, desc, diag=None):
        """One test point; diag (any text) is printed under a failure."""
        with self.lock:
            self.n += 1
            if cond:
                self.passed += 1
                print(f"ok {self.n} - {desc}")
            else:
                self.failed += 1
                print(f"not ok {self.n} - {desc}")
                if diag is not None:
                    for line in str(diag).splitlines()[:20]:
                        print(f"#   {line}")
            sys.stdout.flush()
        return cond

    def skip(self, desc, why):
        with self.lock:
            self.n += 1
            self.skipped += 1
            print(f"ok {self.n} - {desc} # SKIP {why}")
            sys.stdout.flush()

    def finish(self):
        """The plan and the totals; the exit status (1 if anything failed)."""
        print(f"1..{self.n}")
        print(f"# Totals: pass:{self.passed} fail:{self.failed} xfail:0 xpass:0 "
              f"skip:{self.skipped} error:0")
        return 1 if self.failed else 0


def diag(msg):
    for line in str(msg).splitlines():
        print(f"# {line}")
    sys.stdout.flush()
