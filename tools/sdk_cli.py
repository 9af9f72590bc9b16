"""How the tools start the SDK's `fivetran` command: from this virtualenv, with its scripts on PATH.

The SDK starts `pipreqs` by name for its requirements scan (debug, package, deploy), so the
virtualenv's scripts folder must be on PATH even when a tool is run without activating it.
"""

import os
import shutil
import sys
from pathlib import Path

SCRIPTS = Path(sys.executable).parent


def fivetran() -> str:
    """The `fivetran` command of the SDK installed beside this Python."""
    return shutil.which("fivetran", path=str(SCRIPTS)) or str(SCRIPTS / "fivetran")


def environment(base=None) -> dict:
    """`base` (the current environment by default) with the virtualenv's scripts first on PATH."""
    base = dict(os.environ if base is None else base)
    base["PATH"] = os.pathsep.join([str(SCRIPTS), base.get("PATH", "")])
    return base
