"""Shared by the training tests: paths of the small synthetic datasets under data/ (written for these
tests; no real patient text) and a runner for the `chartcoder` command as a real subprocess.

Not a conftest: `tests/conftest.py` is imported as `conftest` too, so a name of its own keeps imports exact."""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DATA = HERE / "data"


def _codiesp_fixture() -> Path:
    """The CodiEsp-shaped fixture, laid out as the reader expects (`<split>/<split>D.tsv`). The gold
    files are kept as `gold-D.tsv` in the repository so that no tracked file is named like the real
    corpus's files (the repository must never hold CodiEsp data, and its checks look for those
    names); this builds the expected layout in a temporary folder, once per test process."""
    out = Path(tempfile.mkdtemp(prefix="chartcoder-codiesp-fixture-"))
    for split_dir in sorted((DATA / "codiesp").iterdir()):
        if not split_dir.is_dir():
            continue
        shutil.copytree(split_dir, out / split_dir.name)
        for kind in ("D", "P"):
            src = out / split_dir.name / f"gold-{kind}.tsv"
            if src.exists():
                src.rename(out / split_dir.name / f"{split_dir.name}{kind}.tsv")
    return out


CODIESP = _codiesp_fixture()
atexit.register(shutil.rmtree, CODIESP, True)
MIMIC = DATA / "mimic"
JSONL = DATA / "jsonl"
EXE = str(Path(sys.executable).parent / "chartcoder")


@dataclass
class Run:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    def explain(self) -> str:
        return f"chartcoder {' '.join(self.args)} -> {self.returncode}\n{self.stdout}\n{self.stderr}"


def start(*args: str) -> tuple[tuple[str, ...], subprocess.Popen[bytes]]:
    """Start `chartcoder ARGS` without waiting, so independent commands can overlap."""
    env = {
        **os.environ,
        "CHARTCODER_DATA_DIR": str(ROOT / "var"),
        "COLUMNS": "200",
        # as conftest.py does in process: spinning OpenMP threads make small fits crawl on a busy machine
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
    }
    proc = subprocess.Popen([EXE, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    return args, proc


def finish(started: tuple[tuple[str, ...], subprocess.Popen[bytes]], timeout: float = 300) -> Run:
    args, proc = started
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return Run(args, proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))


def run(*args: str) -> Run:
    return finish(start(*args))


# -- the two `chartcoder train` runs the CLI tests build on -------------------------------------------
# Training the diagnosis pack loads the whole suggestion service (seconds of CPU); conftest.py starts
# both runs as soon as collection shows CLI tests are selected, so they overlap the in-process tests.

_training: dict[str, object] = {}


def start_training() -> None:
    """Start `chartcoder train` for the diagnosis and the procedure task into a fresh folder (once)."""
    if _training:
        return
    work = Path(tempfile.mkdtemp(prefix="chartcoder-training-cli-"))
    common = ("--format", "codiesp", "--data", str(CODIESP), "--splits", "train")
    _training["work"] = work
    _training["dx"] = start("train", *common, "--task", "diagnosis", "--out", str(work / "models" / "dx"))
    _training["px"] = start("train", *common, "--task", "procedure", "--out", str(work / "models" / "px"))


def finish_training() -> tuple[Path, dict[str, Run]]:
    """The folder holding models/dx and models/px, and how each train run went."""
    start_training()
    if "runs" not in _training:
        _training["runs"] = {k: finish(_training[k]) for k in ("dx", "px")}  # type: ignore[arg-type]
    return _training["work"], _training["runs"]  # type: ignore[return-value]


def stop_training() -> None:
    """At session end: stop a run still going (only the ones started here) and remove the folder."""
    for key in ("dx", "px"):
        started = _training.get(key)
        if started is not None and started[1].poll() is None:  # type: ignore[index]
            started[1].kill()  # type: ignore[index]
            started[1].communicate()  # type: ignore[index]
    work = _training.get("work")
    if work is not None:
        shutil.rmtree(work, ignore_errors=True)  # type: ignore[arg-type]
    _training.clear()
