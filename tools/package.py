"""Builds the deployment package with `fivetran package` and lists it: `make package`.

    python tools/package.py            # build/package/files/package.zip, and what it holds
    python tools/package.py --check    # build it beside planted secrets and check what is inside (CI)

With --check the package is built in a temporary copy of build/package that also holds
what a user's project folder may hold: a configuration.json and a destination.json with
a canary secret, local output in files/ and crash-reports/. The zip must hold exactly the
connector and its modules (and requirements.txt if that lists a package), nothing planted, and no byte of
the canary. The repository's own requirements.txt must come out unchanged.
"""

import argparse
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import sdk_cli
from stage import ROOT, deployed_modules, stage, stage_package

CANARY = "canary-secret-7c1d93"
PLANTED = {
    "configuration.json": '{"base_url": "https://fpr.example.com", "api_key": "%s", "page_size": "100"}',
    "destination.json": '{"token": "%s"}',
    "files/state.json": '{"next_cursor": "%s"}',
    "files/local_configuration.json": '{"api_key": "%s"}',
    "crash-reports/crash_report.txt": "api_key=%s",
}
FORM_FILE = "configuration_form.pb"  # the setup form, which `fivetran package` serialises beside the code


def build(project: Path) -> Path:
    """Runs `fivetran package` on `project`; returns the zip it wrote."""
    command = [sdk_cli.fivetran(), "package", str(project), "--non-interactive"]
    subprocess.run(command, cwd=ROOT, env=sdk_cli.environment(), check=True)
    return project / "files" / f"{project.name}.zip"


def listing(package: Path) -> list:
    with zipfile.ZipFile(package) as archive:
        return sorted(archive.namelist())


def expected_listing() -> list:
    """connector.py, its modules and the form; requirements.txt too when it lists a package (the SDK drops one
    that lists none)."""
    lines = (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
    lists_packages = any(line.strip() and not line.lstrip().startswith("#") for line in lines)
    return sorted(["connector.py", FORM_FILE, *deployed_modules()] + (["requirements.txt"] if lists_packages else []))


def problems_with(package: Path) -> list:
    """What is wrong with the package: unexpected or missing entries, and any entry holding the canary."""
    found, expected = listing(package), expected_listing()
    problems = [f"unexpected entry: {name}" for name in found if name not in expected]
    problems += [f"missing entry: {name}" for name in expected if name not in found]
    with zipfile.ZipFile(package) as archive:
        problems += [f"{name} holds the planted secret" for name in found if CANARY.encode() in archive.read(name)]
    return problems


def check() -> int:
    requirements_before = (ROOT / "requirements.txt").read_bytes()
    with tempfile.TemporaryDirectory(prefix="fpr-package-") as folder:
        project = stage(Path(folder) / "package")
        for name, template in PLANTED.items():
            (project / name).parent.mkdir(parents=True, exist_ok=True)
            (project / name).write_text(template % CANARY)
        package = build(project)
        print(f"package entries: {', '.join(listing(package))}")
        problems = problems_with(package)
    if (ROOT / "requirements.txt").read_bytes() != requirements_before:
        problems.append("the repository's requirements.txt was changed")
    for problem in problems:
        print(f"package check: {problem}", file=sys.stderr)
    if not problems:
        print(f"package check passed: exactly {', '.join(expected_listing())}; nothing planted is inside")
    return 1 if problems else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="build beside planted secrets and check the contents")
    if parser.parse_args(argv).check:
        return check()
    package = build(stage_package())
    print(f"{package.relative_to(ROOT)}: {', '.join(listing(package))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
