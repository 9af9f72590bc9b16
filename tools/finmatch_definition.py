"""FinMatch's project definition (app/snowflake.yml) as the Snowflake CLI itself loads and bundles it, offline.

    .venv-snow/bin/python tools/finmatch_definition.py [APP_DIR]

Prints JSON: the definition version and, for each entity, its type, main file, declared artifacts (each
`src`), query warehouse, stage, runtime and identifier, and `bundled`: the files the CLI's own bundling
puts in the folder `snow streamlit deploy` uploads, done in a copy of APP_DIR so nothing is written
beside the app. No connection is opened. A template variable `<% ctx.env.NAME %>` that the environment
neither sets nor defaults in the definition's `env` section is given the value `<NAME>`, so loading needs
no account setting.
tests/test_finmatch_deploy_definition.py runs it.
"""

import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

import yaml
from snowflake.cli._plugins.streamlit.streamlit_entity import StreamlitEntity
from snowflake.cli._plugins.workspace.context import WorkspaceContext
from snowflake.cli.api.console import cli_console
from snowflake.cli.api.project.definition_manager import DefinitionManager

ENV_TEMPLATE = re.compile(r"<%\s*ctx\.env\.([A-Za-z_][A-Za-z0-9_]*)\s*%>")
NOT_COPIED = shutil.ignore_patterns("output", "__pycache__", ".pytest_cache")


def placeholders(definition_text: str, environ) -> dict:
    """`<NAME>` for each environment template variable of the definition set neither by the environment nor `env`."""
    defaults = (yaml.safe_load(definition_text) or {}).get("env") or {}
    names = set(ENV_TEMPLATE.findall(definition_text)) - set(environ) - set(defaults)
    return {name: f"<{name}>" for name in sorted(names)}


def _src(artifact) -> str:
    return artifact if isinstance(artifact, str) else artifact.src


def _identifier(entity) -> dict:
    identifier = entity.identifier
    if identifier is None or isinstance(identifier, str):
        return {"name": identifier}
    return {"name": identifier.name, "schema": identifier.schema_, "database": identifier.database}


def bundled_files(entity, project_root: Path) -> list:
    """The files, relative to the deploy root, that the CLI bundles for this entity in project_root."""
    workspace = WorkspaceContext(
        console=cli_console,
        project_root=project_root,
        get_default_role=lambda: None,
        get_default_warehouse=lambda: None,
    )
    deploy_root = StreamlitEntity(entity_model=entity, workspace_ctx=workspace).bundle().deploy_root()
    return sorted(path.relative_to(deploy_root).as_posix() for path in deploy_root.rglob("*") if not path.is_dir())


def describe(app_dir: Path, environ) -> dict:
    overrides = placeholders((app_dir / DefinitionManager.BASE_DEFINITION_FILENAME).read_text(), environ)
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / app_dir.name
        shutil.copytree(app_dir, copy, ignore=NOT_COPIED)
        definition = DefinitionManager(str(copy), {"ctx": {"env": overrides}}).project_definition
        entities = {}
        for entity_id, entity in (definition.entities or {}).items():
            described = {"type": entity.type}
            if entity.type == "streamlit":
                described |= {
                    "identifier": _identifier(entity),
                    "main_file": entity.main_file,
                    "artifacts": [_src(artifact) for artifact in entity.artifacts or []],
                    "query_warehouse": entity.query_warehouse,
                    "stage": entity.stage,
                    "runtime_name": entity.runtime_name,
                    "bundled": bundled_files(entity, copy),
                }
            entities[entity_id] = described
    return {"definition_version": str(definition.definition_version), "entities": entities}


def main(argv) -> int:
    app_dir = Path(argv[1] if len(argv) > 1 else Path(__file__).resolve().parent.parent / "app").resolve()
    print(json.dumps(describe(app_dir, os.environ), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
