"""`fakeit fetch`: a preset's outside files fetched ahead of the run, checked, never left broken where a run loads them.
Served from a local HTTP server: nothing leaves this machine."""

import hashlib
import http.server
import threading
from functools import partial
from pathlib import Path

import pytest

from conftest import run_main
from fakeit_lib.core.errors import FakeitError
from fakeit_lib.experiments import fetch as F

PAYLOAD = b"weights of a published model\n" * 1000
SHA = hashlib.sha256(PAYLOAD).hexdigest()


@pytest.fixture
def server(tmp_path):
    """A local HTTP server over a folder holding the payload; its base URL and the paths it was asked for."""
    root = tmp_path / "served"
    root.mkdir()
    (root / "model.pth").write_bytes(PAYLOAD)
    asked = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self):
            asked.append(self.path)
            super().do_GET()

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", asked
    httpd.shutdown()


def test_a_checkpoint_is_fetched_checked_and_kept_on_a_second_run(tmp_path, server):
    base, asked = server
    name = f"resnet-{SHA[:8]}.pth"  # torch.hub's convention: the sha256 prefix in the file name
    entry = {"url": f"{base}/model.pth", "where": "a test server"}
    line = F.fetch_model(name, entry, tmp_path / "models", progress=False)
    assert (tmp_path / "models" / name).read_bytes() == PAYLOAD
    assert line.endswith(f"sha256 {SHA}") and asked == ["/model.pth"]
    again = F.fetch_model(name, entry, tmp_path / "models", progress=False)
    assert again == f"{name}: already at {tmp_path / 'models' / name}, checked (sha256 {SHA[:8]}...)"
    assert asked == ["/model.pth"]  # not fetched again
    assert not list((tmp_path / "models").glob(".*part"))


def test_a_wrong_hash_is_refused_and_leaves_no_file(tmp_path, server):
    base, _ = server
    name = "resnet-deadbeef.pth"
    with pytest.raises(FakeitError, match=rf"resnet-deadbeef.pth.*sha256 {SHA} does not begin with the published deadbeef"):
        F.fetch_model(name, {"url": f"{base}/model.pth", "where": "-"}, tmp_path / "models", progress=False)
    assert list((tmp_path / "models").iterdir()) == []  # neither the file nor its temporary copy


def test_a_full_sha256_in_the_entry_is_checked(tmp_path, server):
    base, _ = server
    entry = {"url": f"{base}/model.pth", "where": "-", "sha256": "0" * 64}
    with pytest.raises(FakeitError, match="does not begin with the published 0000"):
        F.fetch_model("model.pth", entry, tmp_path / "models", progress=False)
    assert F.fetch_model("model.pth", {**entry, "sha256": SHA}, tmp_path / "models", progress=False).endswith(SHA)


def test_a_broken_file_already_there_is_an_error_naming_it(tmp_path, server):
    base, asked = server
    name = f"resnet-{SHA[:8]}.pth"
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / name).write_bytes(b"truncated")
    with pytest.raises(FakeitError, match=f"{name}: sha256 .* does not begin with the published {SHA[:8]}"):
        F.fetch_model(name, {"url": f"{base}/model.pth", "where": "-"}, tmp_path / "models", progress=False)
    assert asked == []


def test_an_unreachable_url_names_it(tmp_path):
    with pytest.raises(FakeitError, match=r"could not fetch http://127.0.0.1:9/x.pth"):
        F.fetch_model("x.pth", {"url": "http://127.0.0.1:9/x.pth", "where": "-"}, tmp_path, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_dry_run_of_the_paper_1k_preset_asks_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(Path(__file__).resolve().parents[1])
    res = run_main("fetch", "--preset", "paper-1k", "--dry-run", "--to", str(tmp_path))
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == "CompVis/stable-diffusion-v1-4: would fetch from the Hugging Face hub into its cache (HF_HOME)"
    assert (f"resnet50-0676ba61.pth: would fetch https://download.pytorch.org/models/resnet50-0676ba61.pth -> "
            f"{tmp_path / 'resnet50-0676ba61.pth'} (sha256 0676ba61...)") in lines
    assert any(l.startswith("imagenet_1k_sd.pth: fetch by hand (no direct download): the paper's project page") for l in lines)
    assert any(l.startswith("val: fetched by hand: https://image-net.org/") for l in lines)
    assert list(tmp_path.iterdir()) == []


def test_the_generator_goes_through_the_hub_s_cache(tmp_path, monkeypatch):
    import huggingface_hub

    calls = []

    def snapshot_download(repo_id):
        calls.append(repo_id)
        return str(tmp_path / "hub" / "snapshots" / "133a221b8aa7292a167afc5127cb63fb5005638b")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    line = F.fetch_generator("CompVis/stable-diffusion-v1-4")
    assert calls == ["CompVis/stable-diffusion-v1-4"]
    assert "(commit 133a221b8aa7292a167afc5127cb63fb5005638b)" in line and "HF_HUB_OFFLINE=1" in line


def test_bad_input_is_named_before_any_work(tmp_path, monkeypatch):
    monkeypatch.chdir(Path(__file__).resolve().parents[1])
    res = run_main("fetch", "--preset", "nope")
    assert res.returncode == 2 and "unknown preset 'nope'; valid: mini, paper, paper-1k, smoke" in res.stderr
    res = run_main("fetch", "--only", "data")
    assert res.returncode == 2 and "invalid choice: 'data' (choose from 'generators', 'models')" in res.stderr
    with pytest.raises(FakeitError, match=f"generator '{tmp_path}' is a local folder: nothing to fetch"):
        F.fetch_generator(str(tmp_path))
    with pytest.raises(FakeitError, match="unknown kind data to fetch; valid: generators, models"):
        F.fetch({"scale": "paper"}, tmp_path, only=("data",))
