"""`python -m chartcoder.cli`, and the file spark-submit runs (docs/scale.md)."""

from __future__ import annotations

from chartcoder.cli.app import main

if __name__ == "__main__":
    main()
