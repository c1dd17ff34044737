"""Bulk coding throughput: `chartcoder bulk predict` over the CodiEsp background notes, on Spark and locally.

The 2,751 English background notes (read at run time from ../shared/data/codiesp, never copied here)
are written once as a Parquet input in a temporary folder ({id, text, encounter: outpatient}). Each
repeat then runs, one after the other, the real command as a subprocess:

1. `--engine local` (one process, one core): the baseline, measured in the same run;
2. `--engine spark --master local[1]` (one executor core);
3. `--engine spark --master local[2]` (two executor cores).

It reads each run's `--summary` JSON: seconds from reading the input to the last output written
(the Spark session's start-up is not in it; the wall time of the whole command is reported beside it),
notes per second, and the time the Python workers spent loading the pack (once each). The median over
the repeats is reported, with ratios to the local engine and of local[2] to local[1], and the per-core
rate: notes over the seconds the workers spent inside the suggestion path (the `coding_seconds` of
the summary), which leaves out start-up, Spark's jobs and writing. After the first repeat it checks
that the three runs wrote the same suggestions for every note.

    .venv/bin/python benchmarks/bulk.py [--data ../shared/data/codiesp/background/text_files_en]
        [--model models/default] [--repeat 3] [--limit N] [--json benchmarks/results/bulk.json]

The machine is shared: read the ratios, not only the rates.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "codiesp" / "background" / "text_files_en"
EXE = str(Path(sys.executable).parent / "chartcoder")
CONFIGS = [
    ("local", "local", None),
    ("spark local[1]", "spark", "local[1]"),
    ("spark local[2]", "spark", "local[2]"),
]


def write_input(files: list[Path], folder: Path) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = folder / "notes.parquet"
    table = pa.table(
        {
            "id": [f.stem for f in files],
            "text": [f.read_text(encoding="utf-8") for f in files],
            "encounter": ['{"setting": "outpatient"}'] * len(files),
        }
    )
    pq.write_table(table, path)
    return path


def run_once(name: str, engine: str, master: str | None, src: Path, model: Path, work: Path) -> dict[str, Any]:
    out = work / name.replace(" ", "-").replace("[", "").replace("]", "")
    summary = work / f"{out.name}.summary.json"
    cmd = [EXE, "bulk", "predict", "--engine", engine, "--input", str(src), "--output", str(out)]
    cmd += ["--model", str(model), "--summary", str(summary), "--overwrite"]
    if master:
        cmd += ["--master", master]
    env = {**os.environ, "CHARTCODER_DATA_DIR": str(ROOT / "var")}
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=3600)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{name} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    result = json.loads(summary.read_text(encoding="utf-8"))
    result.update(
        config=name,
        wall_seconds=round(wall, 2),
        # time inside the suggestion path only, summed over the workers: what one core codes per second
        per_core_notes_per_second=round(result["notes"] / max(result["coding_seconds"], 1e-9), 2),
        output_dir=str(out),
    )
    return result


def same_suggestions(dirs: list[str]) -> tuple[bool, int]:
    import pyarrow.parquet as pq

    tables = [{r["id"]: r for r in pq.read_table(d).to_pylist()} for d in dirs]
    first = tables[0]
    return all(t == first for t in tables[1:]), len(first)


def median(values: list[float]) -> float:
    return round(statistics.median(values), 2)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "default")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--limit", type=int, default=0, help="Use only the first N notes (0 = all).")
    ap.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "bulk.json")
    args = ap.parse_args()

    files = sorted(args.data.glob("*.txt"))[: args.limit or None]
    if not files:
        print(f"no notes found in {args.data}", file=sys.stderr)
        return 2
    if not (args.model / "MANIFEST.sha256").is_file():
        print(f"{args.model}: no model pack (build it with `make serve` or `chartcoder train`)", file=sys.stderr)
        return 2

    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    runs, agree = run_all(files, args.model, args.repeat)
    finished = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())

    rows = summary_rows(runs)
    ratios = speed_ratios({r["config"]: r for r in rows})
    report = {
        "benchmark": "bulk predict",
        "started": started,
        "finished": finished,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "machine": platform.machine()},
        "data": f"{len(files)} CodiEsp background notes ({args.data})",
        "model": runs[0]["model"],
        "repeats": args.repeat,
        "same_suggestions_in_all_configs": agree[0] if agree else None,
        "notes_compared": agree[1] if agree else 0,
        "results": rows,
        "ratios": ratios,
        "runs": [{k: v for k, v in r.items() if k != "output_dir"} for r in runs],
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print_report(report, args.repeat)
    print(f"wrote {args.json}")
    return 0


def run_all(files: list[Path], model_dir: Path, repeat: int) -> tuple[list[dict[str, Any]], tuple[bool, int] | None]:
    """Every configuration `repeat` times on a private copy of the pack; (runs, whether the first
    repeat's configurations gave the same suggestions and on how many notes)."""
    runs: list[dict[str, Any]] = []
    agree: tuple[bool, int] | None = None
    with tempfile.TemporaryDirectory(prefix="chartcoder-bulk-bench-") as tmp:
        work = Path(tmp)
        src = write_input(files, work)
        # A private copy, verified: a pack rebuilt in place meanwhile (`make serve`) cannot break the runs.
        from chartcoder.models.pack import verify_pack

        model = Path(shutil.copytree(model_dir, work / "pack"))
        verify_pack(model)
        for rep in range(1, repeat + 1):
            this_repeat = []
            for name, engine, master in CONFIGS:
                load = os.getloadavg()[0]
                print(f"repeat {rep}/{repeat}: {name} (load average {load:.1f}) ...", file=sys.stderr, flush=True)
                result = run_once(name, engine, master, src, model, work)
                result.update(repeat=rep, load_average_before=round(load, 2))
                print(
                    f"  {result['notes']} notes in {result['seconds']:.1f} s: {result['notes_per_second']:.1f} notes/s",
                    file=sys.stderr,
                    flush=True,
                )
                this_repeat.append(result)
            if agree is None:
                agree = same_suggestions([r["output_dir"] for r in this_repeat])
            runs += this_repeat
    return runs, agree


def summary_rows(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per configuration: medians over its repeats."""
    rows = []
    for name, _, _ in CONFIGS:
        mine = [r for r in runs if r["config"] == name]
        rows.append(
            {
                "config": name,
                "cores": mine[0]["cores"],
                "partitions": mine[0]["partitions"],
                "notes": mine[0]["notes"],
                "failures": max(r["failures"] for r in mine),
                "seconds_median": median([r["seconds"] for r in mine]),
                "wall_seconds_median": median([r["wall_seconds"] for r in mine]),
                "notes_per_second_median": median([r["notes_per_second"] for r in mine]),
                "notes_per_second_runs": [r["notes_per_second"] for r in mine],
                "per_core_notes_per_second_median": median([r["per_core_notes_per_second"] for r in mine]),
                "pack_loads": mine[0]["pack_loads"],
                "pack_load_seconds_per_worker_median": median(
                    [r["pack_load_seconds"] / max(r["pack_loads"], 1) for r in mine]
                ),
            }
        )
    return rows


def speed_ratios(by: dict[str, dict[str, Any]]) -> dict[str, float]:
    base = by["local"]["notes_per_second_median"]
    one, two = by["spark local[1]"], by["spark local[2]"]
    return {
        "spark_local1_over_local": round(one["notes_per_second_median"] / base, 2),
        "spark_local2_over_local": round(two["notes_per_second_median"] / base, 2),
        "spark_local2_over_local1": round(two["notes_per_second_median"] / one["notes_per_second_median"], 2),
        "per_core_local2_over_local1": round(
            two["per_core_notes_per_second_median"] / one["per_core_notes_per_second_median"], 2
        ),
    }


def print_report(report: dict[str, Any], repeat: int) -> None:
    """The results as a Markdown table (the one in docs/benchmarks.md) and the ratios."""
    started, finished, rows, ratios = report["started"], report["finished"], report["results"], report["ratios"]
    print(f"\n{report['data']}, pack {report['model']}, median of {repeat}; {started} to {finished}\n")
    print(
        "| engine | cores | notes | seconds | notes/s | runs (notes/s) | per core, coding only | pack load per worker |"
    )
    print("|---|---:|---:|---:|---:|---|---:|---:|")
    for r in rows:
        runs_text = ", ".join(f"{x:.1f}" for x in r["notes_per_second_runs"])
        print(
            f"| {r['config']} | {r['cores']} | {r['notes']:,} | {r['seconds_median']:.1f} | "
            f"**{r['notes_per_second_median']:.1f}** | {runs_text} | {r['per_core_notes_per_second_median']:.1f} | "
            f"{r['pack_load_seconds_per_worker_median']:.1f} s |"
        )
    print(
        f"\nratios: local[1] / local {ratios['spark_local1_over_local']}x, local[2] / local "
        f"{ratios['spark_local2_over_local']}x, local[2] / local[1] {ratios['spark_local2_over_local1']}x "
        f"(per-core coding rate {ratios['per_core_local2_over_local1']}x); same suggestions in all three: "
        f"{report['same_suggestions_in_all_configs']} ({report['notes_compared']:,} notes)"
    )


if __name__ == "__main__":
    raise SystemExit(main())
