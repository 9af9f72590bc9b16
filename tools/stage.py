"""Lays out build/connector: exactly what Fivetran receives, linked to the sources.

The SDK scans every .py file of a project folder for imports (for `fivetran debug`,
`package` and `deploy`). Run from build/connector, it sees the connector alone, not
the tests and tools around it, and the package holds nothing else. Its files/
folder is the repository's, so a local run writes files/warehouse.db at the top.

    python tools/stage.py   # prints the folder
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STAGE = ROOT / "build" / "connector"
LINKED = ("connector.py", "requirements.txt", "files")


def stage_connector() -> Path:
    STAGE.mkdir(parents=True, exist_ok=True)
    (ROOT / "files").mkdir(exist_ok=True)
    for name in LINKED:
        link = STAGE / name
        if not link.is_symlink():
            link.symlink_to(Path("..", "..", name))
    return STAGE


if __name__ == "__main__":
    print(stage_connector())
