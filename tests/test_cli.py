"""The command line: output format, and bad input answered with one clear line, exit code 2, no output file.

Most tests run the CLI's main function in this process (`cli_main`); the entry point itself (`python -m fakeit_lib`:
its exit code, its stderr) is started as a process in a few (`cli`)."""

import json
from pathlib import Path

import pytest


def test_prompts_to_stdout_and_file(cli_main, tmp_path: Path):
    res = cli_main("prompts", "--classes", "fashion-mnist", "--variant", "c_hc")
    assert res.returncode == 0, res.stderr
    rows = [json.loads(ln) for ln in res.stdout.splitlines()]
    assert len(rows) == 10
    assert rows[1] == {"class_index": 1, "wnid": "n04489008", "variant": "c_hc", "text": "trouser, pant, garment", "scene": None}
    out = tmp_path / "sub" / "p.jsonl"
    res = cli_main("prompts", "--classes", "imagenet100", "--variant", "c_hc_inside_b", "--out", str(out))
    assert res.returncode == 0 and res.stdout == ""
    lines = out.read_text().splitlines()
    assert len(lines) == 36500 and json.loads(lines[0])["scene"] == "airfield"


def test_classes_listing(cli_main):
    res = cli_main("classes", "--classes", "imagenet-a")
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
def test_bad_input(cli_main, tmp_path: Path, args, message):
    args = list(args)
    if args[1].startswith("FILE:"):
        _, name, content = args[1].split(":", 2)
        args[1] = _bad(tmp_path, name, content)
    out = tmp_path / "out.jsonl"
    res = cli_main("prompts", *args, "--out", str(out))
    assert res.returncode == 2
    assert message in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr
    assert res.stderr.startswith("fakeit prompts: error: ")
    assert not out.exists()


def test_missing_argument_is_one_line(cli):
    res = cli("prompts", "--classes", "imagenet100")
    assert res.returncode == 2
    assert res.stderr.strip() == "fakeit prompts: error: the following arguments are required: --variant"


# Bad input for every command: `{tmp}` stands for the test's temp folder, `{out}` for an output path that must not
# exist afterwards. `bad.yaml` there is malformed YAML, `junk.pt` is not a checkpoint, `data/` an empty folder.
BAD_INPUT = [
    ([], "fakeit: error: a command is required; valid: classes, prompts, generate, train-generator, train-judge, train, evaluate, transfer, fetch, book"),
    (["frobnicate"], "fakeit: error: argument COMMAND: invalid choice: 'frobnicate'"),
    (["classes", "--classes", "imagenet-2k"], "unknown class set 'imagenet-2k'; valid: imagenet1k, imagenet100"),
    (["classes", "--classes", "imagenet100", "--format", "xml"], "argument --format: invalid choice: 'xml' (choose from 'tsv', 'jsonl')"),
    (["generate", "--classes", "fashion-mnist", "--variant", "c", "--generator", "mini", "--guidance", "-1", "--out", "{out}"],
     "guidance must be a number >= 0 (paper: 7.5 or 2.0), got -1.0"),
    (["generate", "--classes", "fashion-mnist", "--variant", "c", "--generator", "{tmp}/nowhere", "--out", "{out}"],
     "nowhere' does not exist; valid: 'mini', a local diffusers folder"),
    (["train-generator", "--out", "{out}", "--max-steps", "0"], "invalid generator training parameter(s): max_steps=0"),
    (["train", "{tmp}/data", "--preset", "smoke", "--config", "{tmp}/bad.yaml", "--out", "{out}"],
     "bad.yaml is not valid YAML: expected ',' or ']', but got '<stream end>' at line 2, column 1"),
    (["train", "{tmp}/data", "--preset", "smoke", "--set", "x=[", "--out", "{out}"], "--set 'x=[' is not valid YAML"),
    (["train", "{tmp}/data", "--preset", "smoke", "--config", "{tmp}/list.yaml", "--out", "{out}"],
     "list.yaml must map TrainConfig fields to values, not hold a list"),
    (["train", "{tmp}/data", "--preset", "smoke", "--set", "nonsense=1", "--out", "{out}"],
     "unknown parameter(s) nonsense for TrainConfig; valid: amp, arch, batch_size"),
    (["train", "{tmp}/data", "--preset", "smoke", "--set", "epochs=0", "--out", "{out}"], "parameter epochs=0 must be at least 1"),
    (["train", "{tmp}/nowhere", "--preset", "smoke", "--out", "{out}"], "nowhere does not exist"),
    (["train", "{tmp}/data", "--preset", "huge", "--out", "{out}"], "argument --preset: invalid choice: 'huge' (choose from 'mini', 'paper', 'smoke')"),
    (["evaluate", "{tmp}/nowhere.pt", "--suite", "mini", "--out", "{out}"], "checkpoint {tmp}/nowhere.pt does not exist"),
    (["evaluate", "{tmp}/junk.pt", "--suite", "mini", "--out", "{out}"], "junk.pt cannot be read by torch.load"),
    (["evaluate", "{tmp}/junk.pt", "--suite", "galaxy"], "argument --suite: invalid choice: 'galaxy' (choose from 'imagenet', 'mini', 'mini-shifts', 'folder')"),
    (["transfer", "{tmp}/nowhere.pt", "--suite", "mini", "--out", "{out}"], "checkpoint {tmp}/nowhere.pt does not exist"),
    (["transfer", "{tmp}/junk.pt", "--suite", "mini", "--mini-sets", "galaxy", "--out", "{out}"],
     "parameter mini_sets=['galaxy'] must list datasets of digits, mnist, letters, clipart"),
    (["book", "--preset", "huge", "--build-dir", "{out}"], "unknown preset 'huge'; valid: mini, paper, paper-1k, smoke or a YAML file"),
    (["book", "--preset", "{tmp}/bad.yaml", "--build-dir", "{out}"], "bad.yaml is not valid YAML: expected ',' or ']'"),
    (["book", "--preset", "smoke", "--only", "nosuch", "--build-dir", "{out}"], "unknown notebook(s) nosuch; valid: prompts, "),
    (["book", "--preset", "smoke", "--build-dir", "/proc/fakeit-build"], "cannot write the build folder /proc/fakeit-build"),
    (["book", "--preset", "smoke", "--build-dir", "{tmp}/bad.yaml"], "build folder {tmp}/bad.yaml is a file, not a folder"),
    (["train-judge", "--out", "{tmp}/data/../bad.yaml"], "cannot write the judge to"),
]


@pytest.mark.timeout(300)
@pytest.mark.parametrize("args,message", BAD_INPUT, ids=lambda v: " ".join(v[:3]) if isinstance(v, list) else None)
def test_every_command_answers_bad_input_in_one_line(cli, cli_main, tmp_path: Path, output_root: Path, args, message):
    (tmp_path / "bad.yaml").write_text("epochs: [1\n")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    (tmp_path / "junk.pt").write_text("not a checkpoint")
    (tmp_path / "data").mkdir()
    out = tmp_path / "out"
    before = sorted(output_root.rglob("*"))
    entry_point = not args or args[0] == "frobnicate"  # no command, or an unknown one: the process's own answer
    res = (cli if entry_point else cli_main)(*[a.format(tmp=tmp_path, out=out) for a in args])
    assert res.returncode == 2, res.stderr
    assert message.format(tmp=tmp_path) in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr, res.stderr
    known = args and args[0] != "frobnicate"
    assert res.stderr.startswith(f"fakeit {args[0]}: error: " if known else "fakeit: error: ")
    assert not out.exists() and sorted(output_root.rglob("*")) == before  # nothing written
