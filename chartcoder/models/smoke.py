"""The smoke test a pack passes before it is promoted: loaded in a child process, it ranks known notes.

The child verifies the pack's signature and manifest, unpickles its ranker with the allow-list and
ranks two known notes (`pack.check_ranker`: the output must be one list of (code, score in [0, 1]) per
note). It runs in its own process so that whatever the pack does while it loads (a crash in a
compiled estimator's state, a memory blow-up, a hang) happens there, not in the API process that took
the admin's request; the parent waits at most CHARTCODER_PROMOTION_SMOKE_SECONDS.

    python -m chartcoder.models.smoke PACK --trust "ssh-ed25519 AAAA..." [--trust ...]
prints one JSON line: {"ok": true, "pack": "name@version", "labels": N} or {"ok": false, "error": "..."}.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from chartcoder.models.pack import PackError
from chartcoder.models.signing import TrustedKey, parse_public_keys, public_text


def smoke_test(path: str | Path, trusted: list[TrustedKey], timeout: float) -> dict[str, Any]:
    """Run the smoke test of the pack at `path` in a child process; a PackError saying why when it fails."""
    import chartcoder

    args = [sys.executable, "-m", "chartcoder.models.smoke", str(path)]
    for t in trusted:
        args += ["--trust", public_text(t.key)]
    env = dict(os.environ)
    here = str(Path(chartcoder.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (here, env.get("PYTHONPATH")) if p)
    try:
        done = subprocess.run(args, capture_output=True, timeout=timeout, env=env, check=False)  # noqa: S603
    except subprocess.TimeoutExpired:
        raise PackError(f"{path}: the smoke test did not finish within {timeout:g} s; the pack is refused") from None
    lines = done.stdout.decode("utf-8", "replace").strip().splitlines()
    try:
        result = json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        result = None
    if not isinstance(result, dict):
        # The child's standard error is not repeated: a pack holds words of the notes it learned from.
        raise PackError(f"{path}: the smoke test crashed (exit code {done.returncode}); the pack is refused")
    if not result.get("ok"):
        raise PackError(f"smoke test: {result.get('error') or 'failed'}")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chartcoder.models.smoke")
    parser.add_argument("pack")
    parser.add_argument("--trust", action="append", default=[], help="A trusted public key (ssh-ed25519 ...).")
    ns = parser.parse_args(argv)
    from chartcoder.models.pack import load_pack

    try:
        trusted = [k for line in ns.trust for k in parse_public_keys(line, "--trust")]
        pack = load_pack(ns.pack, trusted)  # signature, manifest, allow-list unpickling, check_ranker
        out: dict[str, Any] = {"ok": True, "pack": pack.name, "labels": len(pack.ranker.labels_)}
    except PackError as exc:
        out = {"ok": False, "error": str(exc)}
    except Exception as exc:  # noqa: BLE001 - anything else a broken pack raises is a refusal too
        out = {"ok": False, "error": f"{ns.pack}: loading it failed ({type(exc).__name__}); the pack is refused"}
    sys.stdout.write(json.dumps(out) + "\n")
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
