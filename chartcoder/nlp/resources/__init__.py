"""Rule and synonym files of the NLP pipeline, loaded from this package (data, not code)."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from chartcoder.domain.errors import ResourceError


@lru_cache(maxsize=32)
def load_yaml_resource(name: str, package: str = "chartcoder.nlp.resources") -> Any:
    try:
        text = resources.files(package).joinpath(name).read_text("utf-8")
    except FileNotFoundError as exc:
        raise ResourceError(f"resource {package}/{name} is missing") from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ResourceError(f"resource {package}/{name} is not valid YAML: {exc}") from exc
