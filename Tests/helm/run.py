"""Runs every test in Tests/helm and ends with one 'N passed, N failed' line.

Usage: python3 Tests/helm/run.py [-v] [unittest name patterns, e.g. -k Lint]
"""

from __future__ import annotations

import sys
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    verbose = "-v" in sys.argv
    patterns = [sys.argv[i + 1] for i, arg in enumerate(sys.argv[:-1]) if arg == "-k"]
    sys.path.insert(0, str(HERE))
    loader = unittest.TestLoader()
    if patterns:
        loader.testNamePatterns = [p if "*" in p else f"*{p}*" for p in patterns]
    suite = loader.discover(str(HERE), pattern="test_*.py", top_level_dir=str(HERE))
    result = unittest.TextTestRunner(verbosity=2 if verbose else 1).run(suite)
    # A test whose subtests failed counts once.
    failed = len({getattr(test, "test_case", test).id() for test, _ in result.failures + result.errors})
    skipped = len(result.skipped)
    passed = result.testsRun - failed - skipped
    print(f"helm: {passed} passed, {failed} failed, {skipped} skipped")
    return 0 if result.wasSuccessful() and result.testsRun > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
