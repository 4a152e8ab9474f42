"""A notebook parameter of the wrong type (papermill's `-p` gives a string for a number, a scalar for a list) stops the
notebook at its check cell with one clear error naming the parameter and what it must be."""

import dataclasses
import sys
import types
import typing
from pathlib import Path

import pytest
from test_notebooks import NOTEBOOKS, ROOT, _config_class

from fakeit_lib import nb
from fakeit_lib.core.errors import FakeitError


def _wrong_value(tp):
    """A value of another type than `tp`, as papermill's -p would give it, with what the error must say; None when
    `tp` takes anything."""
    options = typing.get_args(tp) if typing.get_origin(tp) in (typing.Union, types.UnionType) else (tp,)
    kinds = {typing.get_origin(o) or o for o in options}
    if kinds & {list, tuple}:
        return "c_dc", "must be a list"  # one word where a list belongs
    if str in kinds or typing.Any in kinds:
        return (5, "must be a string") if kinds <= {str, type(None)} else None
    if kinds & {int, float}:
        return "five", "must be a number" if float in kinds else "must be an integer"
    if bool in kinds:
        return "yes", "must be true or false"
    if dict in kinds:
        return "five", "must be a mapping"
    return None


def _cases():
    for nb_path in NOTEBOOKS:
        cls = _config_class(ROOT / nb_path)
        for name, tp in typing.get_type_hints(cls).items():
            if name in {f.name for f in dataclasses.fields(cls)} and _wrong_value(tp) is not None:
                yield pytest.param(cls, name, tp, id=f"{nb_path.stem}-{name}")


@pytest.mark.parametrize("cls, name, tp", list(_cases()))
def test_a_parameter_of_the_wrong_type_is_one_error_naming_it(cls, name, tp):
    value, must = _wrong_value(tp)
    namespace = {f.name: getattr(cls(), f.name) for f in dataclasses.fields(cls)}
    namespace[name] = value  # as papermill injects it: the # Parameters cell assigns it
    namespace["In"] = ["import fakeit_lib", f"# Parameters\n{name} = {value!r}\n"]
    with pytest.raises(FakeitError) as err:
        nb.params_from(cls, namespace)
    message = str(err.value)
    assert message.startswith(f"parameter {name}={value!r} "), message
    if typing.get_origin(tp) is None or typing.get_origin(tp) in (list, tuple):  # a plain type says what it must be
        assert must in message, message
    assert "\n" not in message


def test_the_list_error_shows_the_list_to_give():
    from fakeit_lib.chapters.prompts import PromptsParams

    with pytest.raises(FakeitError, match=r"^parameter variants='c_dc' must be a list, e.g. \['c_dc'\]$"):
        nb.params_from(PromptsParams, {"variants": "c_dc", "In": ["# Parameters\nvariants = 'c_dc'\n"]})


@pytest.mark.integration
@pytest.mark.parametrize("args, message", [
    (["-p", "sample_size", "five"], "FakeitError: parameter sample_size='five' must be an integer"),
    (["-p", "variants", "c_dc"], "FakeitError: parameter variants='c_dc' must be a list, e.g. ['c_dc']"),
])
def test_papermill_with_a_wrong_type_stops_at_the_check_cell(tmp_path: Path, args, message):
    import subprocess

    cmd = [sys.executable, "-m", "papermill", str(ROOT / "notebooks" / "prompts.ipynb"), str(tmp_path / "out.ipynb"),
           "-f", str(ROOT / "presets" / "smoke.yaml"), "--cwd", str(ROOT), *args]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert res.returncode != 0
    assert message in res.stderr, res.stderr[-2000:]
