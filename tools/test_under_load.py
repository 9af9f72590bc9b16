"""The whole test suite, several times in a row, with every core kept busy by other work (make test-under-load).

    python tools/test_under_load.py [--runs 5] [--burners 2] [-- pytest arguments]

A suite that passes only on a quiet machine is one people learn to ignore. This runs `pytest` (as
`make test` does) --runs times while --burners processes spin on the processor beside it, and prints
each run's outcome, its time and the load average, then one summary line. The exit code is 1 when
any run failed.
"""

import argparse
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def spin(parent):
    """Keeps one core busy until the process is ended, or its parent is gone (killed before it could end it)."""
    value = 0
    while os.getppid() == parent:
        for _ in range(1_000_000):
            value = (value * 1103515245 + 12345) % 2**31


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="runs of the whole suite, one after the other")
    parser.add_argument("--burners", type=int, default=os.cpu_count() or 2, help="processes spinning beside it")
    parser.add_argument("pytest_args", nargs="*", help="passed on to pytest (after --)")
    return parser.parse_args(argv)


def run_suite(pytest_args):
    """One run of the suite; returns whether it passed, what it said (its summary, each failed test) and its seconds."""
    started = time.monotonic()
    command = [sys.executable, "-m", "pytest", "-n", "auto", "-q", "-p", "no:cacheprovider", *pytest_args]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    said = [line for line in lines if line.startswith(("FAILED", "ERROR"))] + lines[-1:]
    return result.returncode == 0, "\n  ".join(said) or result.stderr.strip()[-200:], time.monotonic() - started


def main(argv=None) -> int:
    arguments = parse_args(argv)
    burners = [multiprocessing.Process(target=spin, args=(os.getpid(),), daemon=True) for _ in range(arguments.burners)]
    for burner in burners:
        burner.start()
    outcomes = []
    try:
        for number in range(1, arguments.runs + 1):
            passed, said, seconds = run_suite(arguments.pytest_args)
            load = "/".join(f"{value:.1f}" for value in os.getloadavg())
            print(f"run {number}: {'passed' if passed else 'FAILED'} in {seconds:.0f} s, load {load}:\n  {said}")
            sys.stdout.flush()
            outcomes.append(passed)
    finally:
        for burner in burners:
            burner.terminate()
    print(f"{sum(outcomes)} of {len(outcomes)} runs passed with {arguments.burners} processes spinning beside them")
    return 0 if all(outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
