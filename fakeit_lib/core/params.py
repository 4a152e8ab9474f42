"""Typed parameter dataclasses: build them from dicts (notebook parameters, YAML presets, CLI) with clear errors."""

from __future__ import annotations

import dataclasses
import typing
from typing import Any, TypeVar

from .errors import FakeitError

T = TypeVar("T")


def _check(name: str, value: Any, tp: Any) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin is typing.Union or (origin is not None and str(origin) == "<class 'types.UnionType'>"):
        for a in args:
            try:
                return _check(name, value, a)
            except FakeitError:
                continue
        raise FakeitError(f"parameter {name}={value!r} has the wrong type; expected {tp}")
    if tp is type(None):
        if value is None:
            return None
        raise FakeitError(f"parameter {name}={value!r}: expected None")
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise FakeitError(f"parameter {name}={value!r} must be a list, e.g. [{value!r}]")
        inner = args[0] if args else Any
        return [_check(f"{name}[{i}]", v, inner) for i, v in enumerate(value)]
    if origin is typing.Literal:
        if value not in args:
            raise FakeitError(f"parameter {name}={value!r} is not valid; valid: {', '.join(map(repr, args))}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise FakeitError(f"parameter {name}={value!r} must be a number")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise FakeitError(f"parameter {name}={value!r} must be an integer")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise FakeitError(f"parameter {name}={value!r} must be true or false")
        return value
    if tp is dict or origin is dict:
        if not isinstance(value, dict):
            raise FakeitError(f"parameter {name}={value!r} must be a mapping")
        return dict(value)
    if tp is str:
        if not isinstance(value, str):
            raise FakeitError(f"parameter {name}={value!r} must be a string")
        return value
    return value


def from_dict(cls: type[T], values: dict[str, Any], *, ignore_unknown: bool = False) -> T:
    """Build dataclass `cls` from `values`, checking names and types; raises FakeitError naming the parameter."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown and not ignore_unknown:
        raise FakeitError(f"unknown parameter(s) {', '.join(unknown)} for {cls.__name__}; valid: {', '.join(sorted(names))}")
    kwargs = {k: _check(k, v, hints[k]) for k, v in values.items() if k in names}
    obj = cls(**kwargs)
    validate = getattr(obj, "validate", None)
    if callable(validate):
        validate()
    return obj


def yaml_value(text: str, source: str) -> Any:
    """`text` parsed as YAML; a FakeitError naming `source` and where the YAML breaks when it is not valid YAML."""
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise FakeitError(f"{source} is not valid YAML: {problem}{where}") from None
