"""Load test of the suggestion endpoint: a real `chartcoder serve` on loopback under concurrent clients.

For each worker count (`--workers 1 2` by default) the script starts `chartcoder serve --workers N`
on a free loopback port (its own data folder, the checkout's model folder and term-index cache, rate
limits off so that they do not throttle the run), waits for /readyz, then runs two phases with
`--clients` concurrent keep-alive clients:

1. baseline: GET /healthz for `--baseline-seconds` (no engine, no database: the HTTP stack alone,
   so the suggestion figures can be read as ratios to it on a noisy machine);
2. load: POST /v1/suggestions for `--duration` seconds or `--max-requests` requests, whichever
   comes first, the notes taken in turn from the CodiEsp background notes (read at run time from
   ../shared/data/codiesp, never copied here), or from a few synthetic notes when that is absent.

It reports p50/p95/p99 latency, requests per second and errors (any answer but 200, or a
transport failure) per phase, and writes them as JSON. With `--url URL --key KEY` it targets a
server that is already running instead (one run, whatever its worker count).

    .venv/bin/python benchmarks/load.py [--workers 1 2] [--clients 32] [--duration 60]
        [--baseline-seconds 10] [--max-requests 100000] [--json benchmarks/results/load.json]

Every request goes to 127.0.0.1 only; each phase stops by itself at its time or count bound.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "codiesp" / "background" / "text_files_en"
SYNTHETIC_NOTES = [
    "Assessment and Plan: 1. Type 2 diabetes mellitus with hyperglycemia. 2. Essential hypertension. "
    "Continue metformin and lisinopril. Denies chest pain.",
    "HPI: 45 yo with right ankle sprain after a fall, initial visit. Assessment: sprain of right ankle. "
    "Plan: RICE, ibuprofen.",
    "Assessment: community-acquired pneumonia, left lower lobe. GERD. Former smoker. Plan: amoxicillin.",
    "CC: follow-up. Assessment: chronic kidney disease stage 3b due to type 2 diabetes. Hyperlipidemia. "
    "Total time spent on the date of the encounter: 32 minutes.",
]


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    if not s:
        return float("nan")
    k = (len(s) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


@dataclass
class Phase:
    name: str
    latencies: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    errors: int = 0
    seconds: float = 0.0

    def summary(self) -> dict[str, object]:
        ms = [t * 1000 for t in self.latencies]
        n = len(ms)
        return {
            "phase": self.name,
            "requests": n,
            "errors": self.errors,
            "statuses": self.statuses,
            "seconds": round(self.seconds, 2),
            "requests_per_s": round(n / self.seconds, 1) if self.seconds else 0.0,
            "p50_ms": round(percentile(ms, 0.50), 2),
            "p95_ms": round(percentile(ms, 0.95), 2),
            "p99_ms": round(percentile(ms, 0.99), 2),
            "max_ms": round(max(ms), 2) if ms else float("nan"),
        }


def run_phase(
    base: str,
    name: str,
    request: Callable[[int], tuple[str, str, bytes | None]],
    clients: int,
    seconds: float,
    max_requests: int,
    headers: dict[str, str],
) -> Phase:
    """`clients` threads, each on its own keep-alive connection, sending its next request as soon as
    the last is answered, until the time or the request count is spent. (Threads over http.client:
    httpx's async pool spent more time than the server's /healthz at 32 connections.)"""
    phase = Phase(name)
    counter = itertools.count()
    lock = threading.Lock()
    url = urlsplit(base)
    deadline = time.perf_counter() + seconds

    def client() -> None:
        conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=60)
        try:
            while time.perf_counter() < deadline:
                i = next(counter)
                if i >= max_requests:
                    return
                method, path, body = request(i)
                sent = {**headers, "Content-Type": "application/json"} if body is not None else headers
                t0 = time.perf_counter()
                try:
                    conn.request(method, path, body=body, headers=sent)
                    answer = conn.getresponse()
                    answer.read()
                    status = str(answer.status)
                except (OSError, http.client.HTTPException) as exc:
                    status = type(exc).__name__
                    conn.close()  # reconnects on the next request
                elapsed = time.perf_counter() - t0
                with lock:
                    phase.latencies.append(elapsed)
                    phase.statuses[status] = phase.statuses.get(status, 0) + 1
                    phase.errors += status != "200"
        finally:
            conn.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    phase.seconds = time.perf_counter() - started
    return phase


def load_notes(folder: Path) -> tuple[list[str], str]:
    files = sorted(folder.glob("*.txt")) if folder.is_dir() else []
    if files:
        return [f.read_text(encoding="utf-8") for f in files], f"{len(files)} CodiEsp background notes ({folder})"
    return SYNTHETIC_NOTES, f"{len(SYNTHETIC_NOTES)} synthetic notes (no CodiEsp data at {folder})"


def measure(base: str, key: str, notes: list[str], args: argparse.Namespace) -> tuple[list[dict[str, object]], int]:
    """The phases' summaries, and how many suggestion requests were answered 200 (warm-up included)."""
    bodies = [json.dumps({"text": n, "encounter": {"setting": "outpatient"}}).encode() for n in notes]

    def healthz(i: int) -> tuple[str, str, bytes | None]:
        return "GET", "/healthz", None

    def suggest(i: int) -> tuple[str, str, bytes | None]:
        return "POST", "/v1/suggestions", bodies[i % len(bodies)]

    auth = {"Authorization": f"Bearer {key}"}
    # a short warm-up (first requests load lazy parts, open connections), not counted
    warm = run_phase(base, "warm-up", suggest, args.clients, args.warmup_seconds, args.clients * 4, auth)
    results: list[dict[str, object]] = [{"phase": "warm-up", "requests": len(warm.latencies), "errors": warm.errors}]
    answered = warm.statuses.get("200", 0)
    for name, request, seconds in (
        ("GET /healthz (baseline)", healthz, args.baseline_seconds),
        ("POST /v1/suggestions", suggest, args.duration),
    ):
        phase = run_phase(base, name, request, args.clients, seconds, args.max_requests, auth)
        results.append(phase.summary())
        print(_line(phase.summary()), flush=True)
        if request is suggest:
            answered += phase.statuses.get("200", 0)
    return results, answered


def counted_by_the_server(base: str) -> float | None:
    """The server's own count of suggestion sets (GET /metrics from loopback), summed over workers:
    with several workers it must still equal the suggestions answered, whichever worker answers."""
    try:
        text = httpx.get(base + "/metrics", timeout=10).text
    except httpx.HTTPError:
        return None
    lines = [line for line in text.splitlines() if line.startswith("chartcoder_suggestion_sets_total{")]
    return sum(float(line.rsplit(" ", 1)[1]) for line in lines)


def _line(s: dict[str, object]) -> str:
    return (
        f"  {s['phase']:<26} {s['requests']:>7} req  {s['requests_per_s']:>8} req/s  p50 {s['p50_ms']:>8} ms  "
        f"p95 {s['p95_ms']:>8} ms  p99 {s['p99_ms']:>8} ms  errors {s['errors']}"
    )


# -- the server ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`chartcoder serve --workers N` on a loopback port with a throw-away data folder."""

    def __init__(self, workers: int, model_dir: Path, log_path: Path) -> None:
        self.workers = workers
        self.port = free_port()
        self.data_dir = Path(tempfile.mkdtemp(prefix="chartcoder-load-"))
        cache = self.data_dir / "cache"
        cache.mkdir()
        for f in (ROOT / "var" / "cache").glob("term-index-*.json.gz"):
            (cache / f.name).symlink_to(f)
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHARTCODER_")}
        env.update(
            CHARTCODER_DATA_DIR=str(self.data_dir),
            CHARTCODER_MODEL_DIR=str(model_dir),
            # the benchmark is one EHR key sending as fast as it can: no rate limit may throttle it
            CHARTCODER_RATE_LIMIT_EHR_PER_MINUTE="0",
            CHARTCODER_RATE_LIMIT_PER_MINUTE="0",
            CHARTCODER_RATE_LIMIT_BURST="0",
        )
        cmd = [str(Path(sys.executable).parent / "chartcoder"), "serve", "--host", "127.0.0.1"]
        cmd += ["--port", str(self.port), "--workers", str(workers)]
        self.log = open(log_path, "wb")  # noqa: SIM115 (kept open for the server's life)
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT, cwd=ROOT)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 600) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"the server exited ({self.proc.returncode}); see {self.log.name}")
            try:
                if httpx.get(self.base + "/readyz", timeout=2).status_code == 200:
                    return (self.data_dir / "api-key").read_text().strip()
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise SystemExit(f"the server was not ready within {timeout:.0f} s; see {self.log.name}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()
        shutil.rmtree(self.data_dir, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="Worker counts to start in turn.")
    ap.add_argument("--url", help="Target a running server instead of starting one (needs --key).")
    ap.add_argument("--key", help="API key for --url.")
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--duration", type=float, default=60.0, help="Seconds of suggestion load per run.")
    ap.add_argument("--baseline-seconds", type=float, default=10.0, help="Seconds of GET /healthz per run.")
    ap.add_argument("--warmup-seconds", type=float, default=5.0)
    ap.add_argument("--max-requests", type=int, default=100_000, help="Upper bound of requests per phase.")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--model-dir", type=Path, default=ROOT / "models", help="Model folder the server uses.")
    ap.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "load.json")
    args = ap.parse_args()
    if args.url and not args.key:
        ap.error("--url needs --key")
    if args.url and not args.url.startswith(("http://127.", "http://localhost", "http://[::1]")):
        ap.error("--url must be a loopback address: this script never sends load elsewhere")

    notes, source = load_notes(args.data)
    print(f"notes: {source}; {args.clients} clients", flush=True)
    report: dict[str, object] = {
        "measured_at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "notes": source,
        "clients": args.clients,
        "duration_s": args.duration,
        "baseline_s": args.baseline_seconds,
        "runs": [],
    }
    runs: list[dict[str, object]] = []
    failed = 0
    targets = [None] if args.url else args.workers
    for workers in targets:
        load_before = os.getloadavg()
        if workers is None:
            print(f"server: {args.url}", flush=True)
            phases, _ = measure(args.url, args.key, notes, args)
            failed += sum(int(str(p["errors"])) for p in phases)
            runs.append({"workers": "as running", "url": args.url, "phases": phases})
            continue
        log_path = Path(tempfile.gettempdir()) / f"chartcoder-load-{workers}w.log"
        server = Server(workers, args.model_dir, log_path)
        try:
            key = server.wait_ready()
            model = httpx.get(server.base + "/readyz", timeout=5).json().get("model")
            print(f"server: chartcoder serve --workers {workers} on {server.base}, model {model}", flush=True)
            phases, answered = measure(server.base, key, notes, args)
            failed += sum(int(str(p["errors"])) for p in phases)
            counted = counted_by_the_server(server.base)
            print(
                f"  /metrics counted {counted} suggestion sets; {answered} suggestion requests answered 200", flush=True
            )
        finally:
            server.stop()
        runs.append(
            {
                "workers": workers,
                "model": model,
                "load_average_before": [round(x, 2) for x in load_before],
                "load_average_after": [round(x, 2) for x in os.getloadavg()],
                "phases": phases,
                "metrics_suggestion_sets": counted,
                "suggestions_answered": answered,
            }
        )
    report["runs"] = runs
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
