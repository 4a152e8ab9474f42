"""The command line: output format, and bad input answered with one clear line, exit code 2, no output file."""

import json
from pathlib import Path

import pytest


def test_prompts_to_stdout_and_file(cli, tmp_path: Path):
    res = cli("prompts", "--classes", "fashion-mnist", "--variant", "c_hc")
    assert res.returncode == 0, res.stderr
    rows = [json.loads(ln) for ln in res.stdout.splitlines()]
    assert len(rows) == 10
    assert rows[1] == {"class_index": 1, "wnid": "n04489008", "variant": "c_hc", "text": "trouser, pant, garment", "scene": None}
    out = tmp_path / "sub" / "p.jsonl"
    res = cli("prompts", "--classes", "imagenet100", "--variant", "c_hc_inside_b", "--out", str(out))
    assert res.returncode == 0 and res.stdout == ""
    lines = out.read_text().splitlines()
    assert len(lines) == 36500 and json.loads(lines[0])["scene"] == "airfield"


def test_classes_listing(cli):
    res = cli("classes", "--classes", "imagenet-a")
    assert res.returncode == 0
    lines = res.stdout.splitlines()
    assert len(lines) == 200 and lines[0].split("\t")[0] == "0"


def _bad(tmp_path: Path, name: str, content: str) -> str:
    f = tmp_path / name
    f.write_text(content)
    return str(f)


@pytest.mark.parametrize("args,message", [
    (["--classes", "imagenet-2k", "--variant", "c"], "unknown class set 'imagenet-2k'; valid: imagenet1k, imagenet100, imagenet-r, imagenet-a, fashion-mnist"),
    (["--classes", "imagenet100", "--variant", "c_hd"], "unknown prompt variant 'c_hd'; valid: c, c_hc, c_dc, c_hc_inside_b, clip"),
    (["--classes", "FILE:bad_wnid.txt:n12345678\n", "--variant", "c"], "wnid n12345678 is not a noun synset of WordNet 3.0"),
    (["--classes", "FILE:empty.txt:", "--variant", "c"], "holds no classes"),
    (["--classes", "FILE:malformed.txt:n02086910\npapillon dog\n", "--variant", "c"], "line 2 is malformed: 'papillon dog'"),
    (["--classes", "missing/classes.txt", "--variant", "c"], "class file missing/classes.txt does not exist"),
])
def test_bad_input(cli, tmp_path: Path, args, message):
    args = list(args)
    if args[1].startswith("FILE:"):
        _, name, content = args[1].split(":", 2)
        args[1] = _bad(tmp_path, name, content)
    out = tmp_path / "out.jsonl"
    res = cli("prompts", *args, "--out", str(out))
    assert res.returncode == 2
    assert message in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr
    assert res.stderr.startswith("fakeit prompts: error: ")
    assert not out.exists()


def test_missing_argument_is_one_line(cli):
    res = cli("prompts", "--classes", "imagenet100")
    assert res.returncode == 2
    assert res.stderr.strip() == "fakeit prompts: error: the following arguments are required: --variant"
