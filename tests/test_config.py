"""Settings naming files and folders are checked at start: a path that is not there is an error that
names the setting and the path (issue 17), from the environment as from keyword arguments."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from chartcoder.config import SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[1]

FILE_SETTINGS = (
    "cpt_file",
    "hcpcs_file",
    "practice_file",
    "payer_file",
    "fee_schedule_file",
    "mue_file",
    "cds_clients",
)


@pytest.mark.parametrize("name", FILE_SETTINGS)
def test_a_missing_file_is_an_error_naming_the_setting_and_path(name: str, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "file.csv"
    with pytest.raises(SettingsError, match=rf"CHARTCODER_{name.upper()}: '{missing}' does not exist"):
        load_settings(**{name: missing})
    with pytest.raises(SettingsError, match=rf"CHARTCODER_{name.upper()}: '{tmp_path}' is a folder"):
        load_settings(**{name: tmp_path})
    present = tmp_path / "here.csv"
    present.write_text("x\n")
    assert getattr(load_settings(**{name: present}), name) == present
    assert getattr(load_settings(**{name: None}), name) is None


def test_each_ncci_file_must_exist(tmp_path: Path) -> None:
    one = tmp_path / "ptp1.txt"
    one.write_text("x\n")
    gone = tmp_path / "ptp2.txt"
    with pytest.raises(SettingsError, match=rf"CHARTCODER_NCCI_PTP_FILES: '{gone}' not found"):
        load_settings(ncci_ptp_files=f"{one}, {gone}")
    assert load_settings(ncci_ptp_files=f"{one}, ").ncci_ptp_files == f"{one}, "
    assert load_settings(ncci_ptp_files="").ncci_ptp_files == ""


def test_cms_dir_when_set_must_be_a_folder(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=rf"CHARTCODER_CMS_DIR: '{tmp_path / 'none'}' is not an existing folder"):
        load_settings(cms_dir=tmp_path / "none")
    assert load_settings(cms_dir=tmp_path).cms_dir == tmp_path


def test_the_cli_refuses_to_start_on_a_missing_file_named_in_the_environment(tmp_path: Path) -> None:
    """What a user meets: the variable and the path in the message, exit status 2 or 1, no traceback."""
    import os

    missing = tmp_path / "licensed-cpt.csv"
    env = {**os.environ, "CHARTCODER_CPT_FILE": str(missing), "CHARTCODER_DATA_DIR": str(tmp_path), "COLUMNS": "400"}
    done = subprocess.run(
        [str(Path(sys.executable).parent / "chartcoder"), "codes", "search", "ecg"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
    )
    out = done.stdout + done.stderr
    assert done.returncode != 0
    assert "CHARTCODER_CPT_FILE" in out and str(missing) in out
    assert "Traceback" not in out
