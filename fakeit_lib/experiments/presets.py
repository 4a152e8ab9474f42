"""Presets: the parameters of every notebook at one scale (`presets/<name>.yaml`), and the scales themselves."""

from __future__ import annotations

import os
from pathlib import Path

from ..core.errors import FakeitError
from ..core.params import yaml_value

SCALES = ("smoke", "mini", "paper")  # every preset sets `scale` to one of these; pages label their numbers with it


def project_root(start: Path | None = None) -> Path:
    """The folder holding `_toc.yml`, searched upwards from `start` (default: the working directory)."""
    here = Path(start or Path.cwd()).resolve()
    for p in [here, *here.parents]:
        if (p / "_toc.yml").exists() and (p / "_config.yml").exists():
            return p
    raise FakeitError(f"no _toc.yml and _config.yml found in {here} or above; run from the project's folder")


def expand_vars(value):
    """`$VAR` and `${VAR}` in a preset's strings replaced by environment variables (left as is when unset)."""
    if isinstance(value, str):
        return os.path.expandvars(value)
    if isinstance(value, dict):
        return {k: expand_vars(v) for k, v in value.items()}
    if isinstance(value, list):
        return [expand_vars(v) for v in value]
    return value


def load_preset(preset: str, root: Path) -> dict:
    """The parameters of a preset: `presets/<name>.yaml`, or a YAML file path."""
    path = Path(preset) if preset.endswith((".yaml", ".yml")) else root / "presets" / f"{preset}.yaml"
    if not path.exists():
        names = sorted(p.stem for p in (root / "presets").glob("*.yaml"))
        raise FakeitError(f"unknown preset {preset!r}; valid: {', '.join(names)} or a YAML file")
    params = yaml_value(path.read_text(), f"preset {path}") or {}
    if not isinstance(params, dict):
        raise FakeitError(f"preset {path} must be a mapping of parameter names to values")
    params = expand_vars(params)
    if params.get("scale") not in SCALES:
        raise FakeitError(f"preset {path} must set scale to one of {', '.join(SCALES)}, not {params.get('scale')!r}")
    return params
