"""The `chartcoder` command: suggest, predict, codes, serve, and the groups for packs, people, keys, the
database, audits, feedback, claims and bulk coding (one module per group; `app` assembles them)."""

from __future__ import annotations

from chartcoder.cli.app import app, main

__all__ = ["app", "main"]

if __name__ == "__main__":  # run as a file (spark-submit .../chartcoder/cli/__init__.py)
    main()
