"""Mutation testing of the safeguards: does a planted bug in each one make a test fail? (make mutation)

    python tools/mutation.py                  # every group below
    python tools/mutation.py --scope privacy  # masking and privacy alone (CI)
    python tools/mutation.py --scope finmatch # FinMatch's acceptance, thresholds and number formats alone
    python tools/mutation.py --resume         # run again only the groups whose code or tests changed since

mutmut (pinned in requirements-mutation.txt) plants one small bug at a time in the modules of each
group (a comparison turned, a constant changed, a call dropped) and runs those of the group's own
tests that reach it. A mutant no test notices "survived". Each group runs in a copy of the repository
of its own under build/mutation/, so nothing here is touched. Printed: every surviving mutant with its change, then
one line per group and a final summary line; the exit code is 1 when a goal is missed.

Goals: no surviving mutant in masking and privacy; at least 90% killed in every other group. A mutant
that behaves exactly like the original ("equivalent") cannot be killed by any test: each one is listed
in tools/mutation_equivalents.txt with the change it makes and why, and counts as neither.
"""

import argparse
import fnmatch
import hashlib
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "build" / "mutation"
EQUIVALENTS = ROOT / "tools" / "mutation_equivalents.txt"
MUTMUT = Path(sys.executable).parent / "mutmut"
KILLED = {"killed", "timeout", "caught by type check", "segfault"}


@dataclass(frozen=True)
class Group:
    name: str
    modules: tuple  # files mutated
    tests: tuple  # test files that may kill them (mutmut runs those that reach each mutant)
    goal: float  # the share of mutants that must be killed; 1.0: none may survive
    # Only the functions whose mutant names match these patterns (mutmut's names: module.x_function,
    # module.xǁClassǁmethod); none: every function of the modules.
    functions: tuple = ()

    def covers(self, name: str) -> bool:
        if module_of(name) not in self.modules:
            return False
        return not self.functions or any(fnmatch.fnmatchcase(name, pattern) for pattern in self.functions)

    def patterns(self) -> tuple:
        """What `mutmut run` is told to run for this group: its functions, or every function of its modules."""
        return self.functions or tuple(f"{dotted_name(module)}.*" for module in self.modules)


def dotted_name(module: str) -> str:
    """fpr/safe_log.py -> fpr.safe_log; app/finmatch/privacy.py -> finmatch.privacy (moved to src/ in the copy)."""
    return copied_path(module).removeprefix("src/").removesuffix(".py").replace("/", ".")


# FinMatch's tests that reach these functions quickly: none of them starts the app (AppTest), so each mutant runs
# in seconds. The app's own tests of the same figures are left out for that reason, not because they cannot fail.
FINMATCH_FIGURES_TESTS = (
    "tests/test_finmatch_figures_as_printed.py",
    "tests/test_finmatch_sample_minimum.py",
    "tests/test_finmatch_insights.py",
)
GROUPS = (
    Group(
        "masking",
        ("fpr/safe_log.py",),
        (
            "tests/test_masking_of_secrets_and_emails.py",
            "tests/test_client_policy_with_responses.py",
            "tests/test_bad_responses_and_records.py",
        ),
        1.0,
    ),
    Group(
        "privacy",
        ("app/finmatch/privacy.py",),
        ("tests/test_finmatch_privacy.py",),
        1.0,
    ),
    Group(
        "customer data policy",
        ("tools/finmatch_snowflake_sql.py",),
        ("tests/test_finmatch_dynamic_tables_and_masking.py",),
        1.0,
        ("finmatch_snowflake_sql.x_policy_body*", "finmatch_snowflake_sql.x_masking_statements*"),
    ),
    Group(
        "retry policy",
        ("fpr/retry.py", "fpr/client.py"),
        (
            "tests/test_client_policy_with_responses.py",
            "tests/test_retries_and_transient_faults.py",
            "tests/test_rate_limit_headers.py",
            "tests/test_errors_that_stop_a_sync.py",
            "tests/test_request_deadline_on_every_framing.py",
        ),
        0.9,
    ),
    Group(
        "paging guards",
        ("fpr/paging.py",),
        (
            "tests/test_pagination_against_a_scripted_api.py",
            "tests/test_bad_responses_and_records.py",
            "tests/test_seen_records_filter.py",
            "tests/test_cursor_recovery_and_loops.py",
            "tests/test_sync_properties.py",
            "tests/test_prefetch.py",
            "tests/test_stopping_a_sync.py",
        ),
        0.9,
    ),
    Group(
        "body and record limits",
        ("fpr/body.py", "fpr/field_names.py"),
        (
            "tests/test_response_body_reader.py",
            "tests/test_record_normaliser.py",
            "tests/test_bad_responses_and_records.py",
        ),
        0.9,
    ),
    Group(
        "record normalising",
        ("fpr/records.py", "fpr/text.py", "fpr/issues.py"),
        (
            "tests/test_record_normaliser.py",
            "tests/test_bad_responses_and_records.py",
            "tests/test_poisoned_records_never_fail_a_sync.py",
        ),
        0.9,
    ),
)
FINMATCH_GROUPS = (
    Group(
        "FinMatch acceptance",
        (
            "app/finmatch/data/kpis.py",
            "app/finmatch/data/answers.py",
            "app/finmatch/data/sql.py",
            "app/finmatch/data/fpr_data.py",
            "app/finmatch/data/local.py",
        ),
        FINMATCH_FIGURES_TESTS,
        0.9,
        (
            # accepted / decided, the open share, averages and spreads, per selection, period and group
            "finmatch.data.kpis.*",
            "finmatch.data.answers.x_with_acceptance*",
            "finmatch.data.answers.x_ratio*",
            "finmatch.data.sql.x_ratio_sql*",
            "finmatch.data.fpr_data.xǁFprDataǁkpis*",
            "finmatch.data.fpr_data.xǁFprDataǁacceptance_by*",
            # the same figures answered locally from sums per day
            "finmatch.data.local.x_kpis*",
            "finmatch.data.local.x__selected*",
            "finmatch.data.local.x__within*",
            "finmatch.data.local.x__with_status_counts*",
        ),
    ),
    Group(
        "FinMatch thresholds",
        (
            "app/finmatch/stats.py",
            "app/finmatch/analysis/insights.py",
            "app/finmatch/data/sql.py",
            "app/finmatch/analysis/holdout.py",
        ),
        ("tests/test_finmatch_stats.py", "tests/test_finmatch_thresholds.py", *FINMATCH_FIGURES_TESTS),
        0.9,
        (
            # intervals and the noise test (every function of stats.py)
            "finmatch.stats.*",
            # the sample minimum: which groups the insights may name, whether the holdout check is trusted
            "finmatch.analysis.insights.x_comparable*",
            "finmatch.analysis.holdout.xǁHoldoutǁ*",
            # the affinity threshold: the bands, and the high-affinity count the insights quote
            "finmatch.data.sql.x_affinity_band_sql*",
            "finmatch.analysis.insights.x_gather_statistics*",
        ),
    ),
    Group(
        "FinMatch derived tables",
        (
            "app/finmatch/data/derived.py",
            "app/finmatch/data/derived_local.py",
            "app/finmatch/data/derived_snowflake.py",
        ),
        ("tests/test_finmatch_derived_catalog.py",),
        0.9,
        (
            # a derived table is read only when built from this very fpr_records, with the app's own definition
            "finmatch.data.derived.xǁCatalogǁtable_for*",
            "finmatch.data.derived.x_fingerprint*",
            "finmatch.data.derived_local.x_current_catalog*",
            "finmatch.data.derived_local.x_source_version*",
            # a dynamic table is read only while running and within twice its lag
            "finmatch.data.derived_snowflake.x__fresh*",
        ),
    ),
    Group(
        "FinMatch statistics",
        ("app/finmatch/inference.py", "app/finmatch/analysis/claims.py", "app/finmatch/analysis/rates.py"),
        ("tests/test_finmatch_inference.py", "tests/test_finmatch_campaign.py", *FINMATCH_FIGURES_TESTS),
        0.9,
        (
            # Beta intervals and their empirical-Bayes prior, the t interval, chi-square, Welch, AUC and lift
            "finmatch.inference.*",
            # which differences the insights may state, and the projection from measured rates
            "finmatch.analysis.claims.*",
            # the honest rates: stale open offers as not accepted, the average sale's interval
            "finmatch.analysis.rates.*",
        ),
    ),
    Group(
        "FinMatch campaign rules",
        ("app/finmatch/analysis/export.py", "app/finmatch/analysis/propensity.py"),
        ("tests/test_finmatch_members.py", "tests/test_finmatch_campaign.py"),
        0.9,
        (
            # the control group's share and reproducibility, the campaign id, the members and their CSV
            "finmatch.analysis.export.x_control_flags*",
            "finmatch.analysis.export.x_campaign_id*",
            "finmatch.analysis.export.x_members*",
            "finmatch.analysis.export.x_csv_bytes*",
            # when the model may rank: enough held-out answers, both intervals clear of chance
            "finmatch.analysis.propensity.xǁCheckǁ*",
        ),
    ),
    Group(
        "FinMatch number formats",
        ("app/finmatch/formats.py",),
        ("tests/test_finmatch_number_formats.py", "tests/test_finmatch_figures_as_printed.py"),
        0.9,
        (
            "finmatch.formats.x_money*",
            "finmatch.formats.x_compact_money*",
            "finmatch.formats.x_share*",
            "finmatch.formats.x_score*",
        ),
    ),
)
GROUPS += FINMATCH_GROUPS
SCOPES = {
    "all": GROUPS,
    "privacy": tuple(group for group in GROUPS if group.goal == 1.0),
    "finmatch": FINMATCH_GROUPS,
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scope", choices=sorted(SCOPES), default="all")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="keep the verdicts of a group whose modules and tests are as they were at its last complete run",
    )
    arguments = parser.parse_args(argv)
    groups = SCOPES[arguments.scope]
    results, copies = {}, {}
    for group in groups:
        started = time.monotonic()
        copies[group] = WORK / slug(group)
        if arguments.resume and completed_as_now(group):
            ran = "as at its last run: not run again"
        else:
            tested = fingerprint(group)  # of the files as they are copied, not as they may be once the run ends
            prepare_copy(group)
            run_mutmut(copies[group], group)
            (copies[group] / COMPLETED).write_text(tested)
            ran = f"in {(time.monotonic() - started) / 60:.1f} min"
        results[group] = {name: status for name, status in read_results(copies[group]).items() if group.covers(name)}
        print(f"{group.name}: {len(results[group])} mutants, {ran}", flush=True)
    lines, met = report(groups, results, read_equivalents(), copies)
    print("\n".join(lines))
    return 0 if met else 1


def slug(group: Group) -> str:
    return group.name.lower().replace(" ", "-")


# Written in a group's copy once its run has completed: the fingerprint of what the run tested.
COMPLETED = "completed"
# Besides its test files, what a group's tests run through: the code of its side (the app, or the connector and
# the local API) and the tests' shared helpers.
SHARED = ("tests/conftest.py", "tests/scripted_api.py", "tests/connector_process.py", "pytest.ini")
APP_CODE = ("app/**/*.py",)
CONNECTOR_CODE = ("connector.py", "fpr/*.py", "fpr_local_api/**/*.py")


def fingerprint(group: Group) -> str:
    """A digest of the group's code, its tests and what they share: a change to any means its verdicts are stale."""
    code = APP_CODE if all(module.startswith("app/") for module in group.modules) else CONNECTOR_CODE
    paths = sorted({path for pattern in code for path in ROOT.glob(pattern)})
    paths += [ROOT / name for name in (*group.tests, *SHARED)]
    digest = hashlib.sha256("\n".join(group.functions).encode())
    for path in paths:
        content = path.read_bytes() if path.is_file() else b""
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + content + b"\0")
    return digest.hexdigest()


def completed_as_now(group: Group) -> bool:
    marker = WORK / slug(group) / COMPLETED
    return marker.is_file() and marker.read_text() == fingerprint(group)


def prepare_copy(group: Group) -> Path:
    """A fresh copy of the repository's files, with mutmut's settings for one group."""
    copy = WORK / slug(group)
    if copy.exists():
        shutil.rmtree(copy)
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    )
    for name in filter(None, listed.stdout.decode().split("\0")):
        if (ROOT / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, copy / name)
    if any(module.startswith("app/") for module in group.modules):
        # FinMatch's modules are imported from its package ("import finmatch.privacy"), and mutmut names a mutant
        # after its path, dropping only a leading "src/": the whole package moved there, the two names agree, and
        # no copy of the package is left in app/ to be imported instead.
        (copy / "src").mkdir(exist_ok=True)
        (copy / "app" / "finmatch").replace(copy / "src" / "finmatch")
    for module in group.modules:
        if module.startswith("tools/"):  # imported by its bare name ("import finmatch_snowflake_sql"): likewise
            (copy / "src").mkdir(exist_ok=True)
            (copy / module).replace(copy / copied_path(module))
    (copy / "setup.cfg").write_text(mutmut_settings(group))
    return copy


def copied_path(module: str) -> str:
    for folder in ("app/", "tools/"):
        if module.startswith(folder):
            return "src/" + module.removeprefix(folder)
    return module


def mutmut_settings(group: Group) -> str:
    """setup.cfg for one group: its modules mutated, and only its own tests run against each mutant.

    Each group runs apart, so a mutant meets the tests written to pin its safeguard, not every test that
    happens to pass through it: a surviving mutant costs seconds, not the whole suite.
    """
    modules = sorted(copied_path(module) for module in group.modules)
    tests = group.tests
    sources = sorted({module.split("/")[0] + "/" for module in modules})
    lines = ["[mutmut]", "source_paths=", *(f"    {path}" for path in sources)]
    lines += ["only_mutate=", *(f"    {module}" for module in modules)]
    # Also copied, unmutated: what the tests import. A folder being mutated must not be copied over again.
    also = [path for path in ("connector.py", "fpr/", "fpr_local_api/", "app/", "tools/") if path not in sources]
    lines += ["also_copy=", *(f"    {path}" for path in (*also, "pytest.ini", "configuration.json"))]
    lines += ["pytest_add_cli_args_test_selection=", *(f"    {test}" for test in tests)]
    lines += ["pytest_add_cli_args=", "    -p", "    no:xdist", "    -p", "    no:cacheprovider"]
    # A mutant that loops forever (a read loop's bound turned) is killed once it takes five times its tests'
    # usual time and 10 s more: mutmut's default of fifteen times cost minutes per hung mutant here.
    lines += ["timeout_multiplier=5.0", "timeout_constant=10.0"]
    return "\n".join(lines) + "\n"


def run_mutmut(copy: Path, group: Group):
    """Runs the group's mutants (those of its functions, when it names some); mutmut's progress goes to
    build/mutation/<group>.log."""
    environment = {**os.environ, "HYPOTHESIS_PROFILE": os.environ.get("HYPOTHESIS_PROFILE", "quick")}
    # A test that runs past 180 s (its usual time is at most 20 s) is a mutant looping forever: pytest ends the
    # run, and mutmut counts the mutant as killed, instead of waiting out its timeout of the whole test set.
    environment["PYTEST_ADDOPTS"] = "-o faulthandler_timeout=180 -o faulthandler_exit_on_timeout=true"
    patterns = group.patterns() if group.functions else ()
    with (WORK / f"{slug(group)}.log").open("w") as log:
        command = [str(MUTMUT), "run", "--max-children", str(os.cpu_count() or 1), *patterns]
        subprocess.run(command, cwd=copy, stdout=log, stderr=subprocess.STDOUT, env=environment, check=True)


def read_results(copy: Path) -> dict:
    """{mutant name: status} for every mutant."""
    shown = subprocess.run(
        [str(MUTMUT), "results", "--all", "true"], cwd=copy, capture_output=True, text=True, check=True
    )
    results = {}
    for line in shown.stdout.splitlines():
        name, separator, status = line.strip().rpartition(": ")
        if separator and "__mutmut_" in name:
            results[name] = status
    return results


def read_equivalents() -> dict:
    """{mutant name: (the line it writes, why it is equivalent)} from tools/mutation_equivalents.txt."""
    equivalents = {}
    for line in EQUIVALENTS.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, change, reason = (part.strip() for part in line.split(" | ", 2))
            equivalents[name] = (change, reason)
    return equivalents


def change_of(copy: Path, name: str) -> tuple:
    """(the original lines, the mutated lines) of one mutant, as `mutmut show` prints them."""
    shown = subprocess.run([str(MUTMUT), "show", name], cwd=copy, capture_output=True, text=True, check=True)
    removed = [line[1:].strip() for line in shown.stdout.splitlines() if line.startswith("-") and line[:3] != "---"]
    added = [line[1:].strip() for line in shown.stdout.splitlines() if line.startswith("+") and line[:3] != "+++"]
    return " / ".join(removed), " / ".join(added)


def module_of(name: str) -> str:
    """fpr.safe_log.x_redact__mutmut_3 -> fpr/safe_log.py; finmatch.privacy.x_mask_id__mutmut_2 -> app/finmatch/..."""
    dotted = name.split(".x_")[0].split(".xǁ")[0]
    path = dotted.replace(".", "/") + ".py"
    return next((found for found in (path, f"tools/{path}") if (ROOT / found).exists()), f"app/{path}")


def report(groups, results, equivalents, copies):
    """The printed lines (survivors, one line per group, the summary) and whether every goal is met.

    Args:
        results: {group: {mutant name: status}}.
        copies: {group: the copy its mutants ran in}.
    """
    lines, summaries, all_met = [], [], True
    totals = {"mutants": 0, "killed": 0, "equivalent": 0}
    for group in groups:
        verdicts = results[group]
        names = sorted(verdicts)
        killed = [name for name in names if verdicts[name] in KILLED]
        equivalent, survivors = [], []
        for name in (name for name in names if verdicts[name] not in KILLED):
            before, after = change_of(copies[group], name)
            known = equivalents.get(name)
            if known and known[0] == after:
                equivalent.append(name)
                continue
            survivors.append(name)
            stale = " (listed as equivalent, but it now writes something else)" if known else ""
            lines.append(f"SURVIVED [{group.name}] {name} ({verdicts[name]}){stale}\n    - {before}\n    + {after}")
        countable = len(names) - len(equivalent)
        share = len(killed) / countable if countable else 1.0
        met = not survivors if group.goal == 1.0 else share >= group.goal
        all_met &= met and bool(names)
        goal = "no survivor" if group.goal == 1.0 else f"at least {group.goal:.0%} killed"
        summaries.append(
            f"  {group.name:24} {len(names):5} mutants {len(killed):5} killed {len(equivalent):3} equivalent "
            f"{len(survivors):4} survived  {share:6.1%}  goal: {goal} -> {'met' if met and names else 'NOT met'}"
        )
        totals["mutants"] += len(names)
        totals["killed"] += len(killed)
        totals["equivalent"] += len(equivalent)
    countable = totals["mutants"] - totals["equivalent"]
    lines += ["", "Mutation testing by group:", *summaries]
    lines.append(
        f"mutation: {totals['mutants']} mutants, {totals['killed']} killed, {totals['equivalent']} equivalent, "
        f"{countable - totals['killed']} survived ({totals['killed'] / max(countable, 1):.1%} killed); "
        f"{'every goal met' if all_met else 'goals NOT met'}"
    )
    return lines, all_met


if __name__ == "__main__":
    sys.exit(main())
