"""What is deployed imports only what Fivetran pre-installs: the SDK's own scan finds nothing to add.

`fivetran deploy` runs pipreqs over the deployed folder and asks for every import it finds except
fivetran_connector_sdk and requests; anything else would be logged SEVERE and prompted for.
"""

import sys

from conftest import ROOT
from pipreqs import pipreqs

sys.path.insert(0, str(ROOT / "tools"))
from stage import DEPLOYED_FILES, DEPLOYED_PACKAGES, stage  # noqa: E402

PRE_INSTALLED = {"fivetran_connector_sdk", "requests"}


def test_the_deployed_folder_holds_the_connector_its_modules_and_its_requirements_file_only(tmp_path):
    folder = stage(tmp_path / "package", fresh=True)

    assert sorted(path.name for path in folder.iterdir()) == sorted(DEPLOYED_FILES + DEPLOYED_PACKAGES)
    assert sorted(path.name for path in (folder / "fpr").iterdir()) == sorted(
        path.name for path in (ROOT / "fpr").glob("*.py")
    )


def test_the_sdks_import_scan_of_what_is_deployed_finds_only_pre_installed_packages(tmp_path):
    folder = stage(tmp_path / "package", fresh=True)

    found = set(pipreqs.get_all_imports(str(folder)))

    assert found <= PRE_INSTALLED, f"would need requirements.txt entries: {sorted(found - PRE_INSTALLED)}"
    assert "fivetran_connector_sdk" in found  # the scan did read connector.py
    assert "requests" in found  # the scan read the fpr modules too: fpr/transport.py imports requests


def test_requirements_txt_lists_no_package():
    lines = (ROOT / "requirements.txt").read_text().splitlines()

    assert [line for line in lines if line.strip() and not line.lstrip().startswith("#")] == []
