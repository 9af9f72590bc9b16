"""Checks that the urllib3 versions CI tests with are the bounds that requests declares.

    python tools/urllib3_bounds.py OLDEST NEWEST

Fivetran's runtime pins neither requests nor urllib3, so the connector must work with any
urllib3 that the pinned SDK's requests accepts. `make test-urllib3` runs the connector's
tests with OLDEST and NEWEST; this check reads requests' own metadata (Requires-Dist) and
fails if OLDEST is not its lower bound or NEWEST falls outside its range, for instance
after the SDK moves to another requests. NEWEST must also be the urllib3 that
constraints.txt pins, the one every other test runs with.
"""

import re
import sys
from importlib.metadata import requires, version
from pathlib import Path

CONSTRAINTS = Path(__file__).resolve().parent.parent / "constraints.txt"


def release(text):
    """'1.26' -> (1, 26, 0): versions compared by their release numbers."""
    numbers = [int(part) for part in re.findall(r"\d+", text)[:3]]
    return tuple(numbers + [0] * (3 - len(numbers)))


def urllib3_requirement():
    """requests' requirement on urllib3 as (lower, upper) bounds, e.g. ('1.26', '3')."""
    for requirement in requires("requests") or []:
        specifier, _, marker = requirement.partition(";")
        name, rest = re.match(r"\s*([A-Za-z0-9_.-]+)\s*(.*)", specifier).groups()
        if name.lower() == "urllib3" and "extra" not in marker:
            lower = re.search(r">=\s*([\d.]+)", rest)
            upper = re.search(r"<\s*([\d.]+)", rest)
            return (lower.group(1) if lower else "0"), (upper.group(1) if upper else None)
    raise SystemExit("requests declares no urllib3 requirement; update tools/urllib3_bounds.py")


def main(oldest, newest):
    lower, upper = urllib3_requirement()
    print(f"requests {version('requests')} requires urllib3>={lower}" + (f",<{upper}" if upper else ""))
    problems = []
    if release(oldest) != release(lower):
        problems.append(f"the oldest urllib3 tested is {oldest}, but requests' lower bound is {lower}")
    if release(newest) < release(lower) or (upper and release(newest) >= release(upper)):
        problems.append(f"the newest urllib3 tested, {newest}, is outside what requests accepts")
    pinned = re.search(r"^urllib3==(\S+)", CONSTRAINTS.read_text(), re.MULTILINE)
    if not pinned or pinned.group(1) != newest:
        problems.append(f"the newest urllib3 tested, {newest}, is not the one constraints.txt pins")
    for problem in problems:
        print(f"urllib3 bounds: {problem}: update URLLIB3_OLDEST / URLLIB3_NEWEST in the Makefile")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
