"""Copies the connector into project folders of its own: exactly what Fivetran receives.

The deployed files are connector.py, the fpr package it imports, and requirements.txt.
The SDK scans every .py file of a project folder for imports (for `fivetran debug`,
`configuration`, `package` and `deploy`) and deletes a requirements.txt that lists
nothing. Run on a staged folder, it sees the connector alone, not the tests and tools
around it, and the repository's own requirements.txt is never touched. The files are
copied, not linked, so staging works on Windows as well.

    build/connector  the local project: make sync, make configuration, make check-connection
                     and `fivetran debug build/connector` run here. Its files/ (warehouse.db,
                     state.json) and configuration.json stay when it is staged again.
    build/package    what make package and make deploy send: the deployed files alone,
                     laid out anew each time, so no configuration or local output can ride along.

    python tools/stage.py   # stages build/connector and prints its path
"""

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCAL_PROJECT = ROOT / "build" / "connector"
PACKAGE_PROJECT = ROOT / "build" / "package"
DEPLOYED_FILES = ("connector.py", "requirements.txt")
DEPLOYED_PACKAGES = ("fpr",)  # the modules connector.py imports, deployed beside it


def stage(folder: Path, fresh: bool = False) -> Path:
    """Copies the deployed files into `folder`.

    Args:
        folder: the project folder to lay out.
        fresh: remove everything else in it first (local output, configuration, crash reports).

    Returns:
        The folder.
    """
    if fresh and folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    _drop_links(folder)
    for name in DEPLOYED_FILES:
        shutil.copyfile(ROOT / name, folder / name)
    for name in DEPLOYED_PACKAGES:
        if (folder / name).exists():
            shutil.rmtree(folder / name)  # a module deleted from the repository is deleted here too
        shutil.copytree(ROOT / name, folder / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return folder


def deployed_modules() -> list:
    """The deployed packages' modules, as paths relative to the project folder ("fpr/client.py")."""
    return sorted(
        path.relative_to(ROOT).as_posix() for name in DEPLOYED_PACKAGES for path in (ROOT / name).rglob("*.py")
    )


def _drop_links(folder: Path):
    """Removes links left by an older layout that linked files/ and the sources instead of copying."""
    for name in (*DEPLOYED_FILES, *DEPLOYED_PACKAGES, "files"):
        if (folder / name).is_symlink():
            (folder / name).unlink()


def stage_local_project() -> Path:
    return stage(LOCAL_PROJECT)


def stage_package() -> Path:
    return stage(PACKAGE_PROJECT, fresh=True)


if __name__ == "__main__":
    print(stage_local_project())
