"""The paper's training recipe (the authors' released models), a run's identity, and device choice (CUDA faked)."""

from __future__ import annotations

import json

import pytest
import torch

from fakeit_lib.core import devices
from fakeit_lib.core.errors import FakeitError
from fakeit_lib.training.models import CosineClassifier, build_model, load_model
from fakeit_lib.training.recipe import identity, param_groups, peak_lr
from fakeit_lib.training.train import make_config, run_folder


def test_paper_recipe_follows_the_released_models():
    c = make_config("paper", data="d")
    assert (c.fc_bias, c.sync_bn, c.decay_norm_and_bias, c.lr_base_batch, c.amp) == (False, True, False, 256, True)
    assert c.cosine_tau == 0.1 and make_config("mini", data="d").cosine_tau is None  # trex --clf_tau; mini: a Linear
    assert peak_lr(c) == pytest.approx(0.1)
    assert peak_lr(make_config("paper", data="d", batch_size=1024)) == pytest.approx(0.4)  # linear scaling rule
    assert peak_lr(make_config("paper", data="d", batch_size=64)) == pytest.approx(0.025)
    mini = make_config("mini", data="d")
    assert (mini.fc_bias, mini.decay_norm_and_bias, mini.lr_base_batch) == (True, True, None) and peak_lr(mini) == 0.2


def test_weight_decay_skips_batchnorm_and_biases():
    model = build_model("resnet50", 100, fc_bias=False)
    decayed, plain = param_groups(model, make_config("paper", data="d"))
    n_bn = sum(1 for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert decayed["weight_decay"] == 1e-4 and plain["weight_decay"] == 0.0
    assert len(plain["params"]) == 2 * n_bn and all(p.ndim == 1 for p in plain["params"])  # BN weight and bias
    assert all(p.ndim > 1 for p in decayed["params"]) and len(decayed["params"]) == 54  # 53 convolutions + fc
    assert model.fc.bias is None and any(p is model.fc.weight for p in decayed["params"])
    (everything,) = param_groups(model, make_config("mini", data="d", arch="resnet50"))
    assert len(everything["params"]) == len(list(model.parameters()))


def test_identity_leaves_out_where_a_run_goes_and_resolves_the_class_set(tmp_path, monkeypatch):
    monkeypatch.setenv("FAKEIT_OUTPUT", str(tmp_path / "out"))
    data = tmp_path / "clone"
    data.mkdir()
    (data / "config.yaml").write_text("classes: fashion-mnist\n")
    cli_like = make_config("smoke", data=f"{data}/", device="cpu", workers=3)  # `fakeit train DIR/ --device cpu`
    notebook_like = make_config("smoke", data=str(data), class_set="fashion-mnist")
    assert identity(cli_like) == identity(notebook_like) and identity(cli_like)["class_set"] == "fashion-mnist"
    assert "device" not in identity(cli_like) and "workers" not in identity(cli_like)
    assert run_folder(cli_like) == run_folder(notebook_like)
    assert run_folder(make_config("smoke", data=str(data), epochs=3)) != run_folder(notebook_like)


def _cpu_flags() -> set[str]:
    """The instruction-set flags the kernel lists for this CPU (x86 `flags`, Arm `Features`)."""
    from pathlib import Path

    info = Path("/proc/cpuinfo")
    if not info.exists():
        pytest.skip("the CPU's flags are read from /proc/cpuinfo (Linux)")
    return {f for line in info.read_text().splitlines() if line.split(":")[0].strip() in ("flags", "Features")
            for f in line.split(":", 1)[1].split()}


def test_the_cpu_s_bf16_decision_follows_its_instruction_set():
    """The real decision, not mocked: bf16 autocast on the CPU exactly where oneDNN has native bf16 kernels (x86:
    AVX-512 F/BW/VL/DQ; Arm: the BF16 extension); float32 elsewhere, where bf16 would be emulated and slow."""
    import platform

    flags = _cpu_flags()
    machine = platform.machine().lower()
    if machine in ("x86_64", "amd64"):
        native = {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= flags
        if not native and {"avx_ne_convert", "avx_vnni_int8"} <= flags:
            pytest.skip("an AVX2 CPU with AVX-NE-CONVERT: oneDNN's bf16 support there depends on its version")
    elif machine in ("aarch64", "arm64"):
        native = "bf16" in flags
    else:
        pytest.skip(f"no rule here for CPU kind {machine}")
    devices.cpu_bf16_fast.cache_clear()
    assert devices.cpu_bf16_fast() is native
    assert devices.amp_dtype("cpu") is (torch.bfloat16 if native else None)
    assert devices.amp_dtype("cpu", enabled=False) is None
    if native:  # and the kernels are there: a convolution under autocast computes in bf16
        with torch.autocast("cpu", dtype=devices.amp_dtype("cpu")):
            out = torch.nn.functional.conv2d(torch.ones(1, 3, 8, 8), torch.ones(4, 3, 3, 3))
        assert out.dtype is torch.bfloat16 and out[0, 0, 0, 0].item() == 27.0


def test_device_choice_with_cuda_faked(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert devices.resolve_device("auto") == "cpu"
    with pytest.raises(FakeitError, match=r"device 'cuda' asked for, but CUDA is not available here; valid here: auto, cpu"):
        devices.resolve_device("cuda")
    assert devices.loader_kwargs("cpu", None) == {"num_workers": 0, "pin_memory": False}
    monkeypatch.setattr(devices, "cpu_bf16_fast", lambda: True)
    assert devices.amp_dtype("cpu") is torch.bfloat16 and devices.amp_dtype("cpu", enabled=False) is None
    monkeypatch.setattr(devices, "cpu_bf16_fast", lambda: False)  # e.g. an AVX2 CPU: bf16 emulated, 6.7x slower
    assert devices.amp_dtype("cpu") is None
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    monkeypatch.setattr(torch.cuda, "set_device", lambda d: None)
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert devices.resolve_device("auto") == "cuda:1" and devices.resolve_device("cuda") == "cuda:1"
    assert devices.resolve_device("cuda:3") == "cuda:3" and devices.resolve_device("cpu") == "cpu"
    monkeypatch.setenv("LOCAL_RANK", "5")  # not two processes on one GPU (5 % 4 was GPU 1's)
    with pytest.raises(FakeitError, match=r"device cuda:5 asked for, but this process sees 4 GPU\(s\)"):
        devices.resolve_device("auto")
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(32)))
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "8")
    assert devices.loader_kwargs("cuda:1", None) == {"num_workers": 4, "pin_memory": True, "prefetch_factor": 4}
    assert devices.amp_dtype("cuda:1") == torch.float16 and devices.amp_dtype("cuda:1", enabled=False) is None
    with pytest.raises(FakeitError, match=r"unknown device 'gpu0'; valid: auto, cpu, cuda, cuda:N, mps"):
        devices.resolve_device("gpu0")
    with pytest.raises(FakeitError, match=r"parameter device: unknown device 'tpu'"):
        make_config("paper", data="d", device="tpu")


def test_no_silent_cpu_for_paper_scale_work(monkeypatch):
    """--device auto without a GPU: CPU work runs on the CPU, paper-scale work stops with the reason and the fix."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch, "__version__", "2.14.1+cu130")
    monkeypatch.setattr(torch.version, "cuda", "13.0")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    work = "generator 'CompVis/stable-diffusion-v1-4' (from the Hugging Face hub)"
    assert devices.resolve_device("auto") == "cpu" and devices.resolve_device("cpu", work) == "cpu"  # asked for: runs
    head = f"{work} is paper-scale work and --device auto found no GPU: torch 2.14.1+cu130 is a CUDA 13.0 build, which needs an NVIDIA driver >= 580.65.06"
    tail = "; or pass --device cpu to run it on the CPU anyway"
    cases = {
        None: ", and no NVIDIA driver was found (no /proc/driver/nvidia/version, no nvidia-smi); on GPUs with an older "
              "driver install torch 2.14.1's CUDA 12 build (README: Older NVIDIA drivers)",
        "535.104.05": ", and this machine's driver is 535.104.05; on GPUs with an older driver install torch 2.14.1's "
                      "CUDA 12 build (README: Older NVIDIA drivers)",
        "580.95.05": "; driver 580.95.05 is loaded, yet torch sees no GPU: give this process a GPU (Slurm --gpus)",
    }
    for driver, reason in cases.items():
        monkeypatch.setattr(devices, "nvidia_driver", lambda d=driver: d)
        with pytest.raises(FakeitError) as e:
            devices.resolve_device("auto", work)
        assert str(e.value) == head + reason + tail
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    with pytest.raises(FakeitError, match=r"yet torch sees no GPU \(CUDA_VISIBLE_DEVICES=''\): give this process a GPU"):
        devices.resolve_device("auto", work)
    monkeypatch.setattr(torch.version, "cuda", "12.6")
    monkeypatch.setattr(devices, "nvidia_driver", lambda: "470.82.01")
    with pytest.raises(FakeitError, match=r"CUDA 12.6 build, which needs an NVIDIA driver >= 525.60.13, and this machine's "
                                          r"driver is 470.82.01; update the NVIDIA driver to 525.60.13 or newer; or pass"):
        devices.resolve_device("auto", work)
    monkeypatch.setattr(torch.version, "cuda", None)
    with pytest.raises(FakeitError, match=r"torch 2.14.1\+cu130 is a CPU-only build; install the locked CUDA build"):
        devices.resolve_device("auto", work)


def test_the_driver_version_is_read_from_the_kernel_module(monkeypatch, tmp_path):
    proc = tmp_path / "version"
    proc.write_text("NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  570.86.15  Release Build  (dvs-builder@U16)\n"
                    "GCC version:  gcc version 12.2.0 (Debian 12.2.0-14)\n")
    monkeypatch.setattr(devices, "NVIDIA_PROC", proc)
    assert devices.nvidia_driver() == "570.86.15"
    proc.write_text("NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.104.05  Sat Aug 19 01:15:15 UTC 2023\n")
    assert devices.nvidia_driver() == "535.104.05"


def test_paper_scale_commands_refuse_the_cpu_unless_told(cli_main, tmp_path, monkeypatch):
    """On a machine with no GPU and no driver (made so here, on any host): the paper's generator and the paper
    training preset stop at once, writing nothing."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(devices, "nvidia_driver", lambda: None)
    gen = cli_main("generate", "--classes", "fashion-mnist", "--images-per-class", "1", "--out", str(tmp_path / "gen"))
    (tmp_path / "data" / "a").mkdir(parents=True)
    train = cli_main("train", str(tmp_path / "data"), "--preset", "paper", "--out", str(tmp_path / "run"))
    reason = f"torch {torch.__version__} is a"
    for res, cmd, work in ((gen, "generate", "generator 'CompVis/stable-diffusion-v1-4' (from the Hugging Face hub)"),
                           (train, "train", "training at 224 px crops (the paper recipe's size)")):
        line = res.stderr.strip()
        assert res.returncode == 2 and "\n" not in line, res.stderr
        assert line.startswith(f"fakeit {cmd}: error: {work} is paper-scale work and --device auto found no GPU: {reason}")
        assert line.endswith("; or pass --device cpu to run it on the CPU anyway")
    assert not (tmp_path / "gen").exists() and not (tmp_path / "run").exists()


def test_train_cli_bad_device_is_one_line(cli_main, tmp_path):
    res = cli_main("train", str(tmp_path), "--preset", "smoke", "--device", "gpu")
    assert res.returncode == 2 and res.stderr.strip() == (
        "fakeit train: error: parameter device: unknown device 'gpu'; valid: auto, cpu, cuda, cuda:N, mps")


def test_checkpoint_of_a_paper_run_loads_as_the_authors_format(tmp_path):
    """A classifier built as the paper recipe has the released checkpoints' shape: fc without bias, strict load."""
    import torchvision

    c = make_config("paper", data="d")
    model = build_model("resnet50", 100, c.cifar_stem, c.fc_bias, c.cosine_tau)
    assert isinstance(model.fc, CosineClassifier) and model.fc.tau == 0.1
    path = tmp_path / "bare.pth"
    torch.save(model.state_dict(), path)
    authors = torchvision.models.resnet50()
    authors.fc = torch.nn.Linear(2048, 100, bias=False)  # the shape the paper's project page loads them into
    assert str(authors.load_state_dict(torch.load(path), strict=True)) == "<All keys matched successfully>"
    assert json.dumps(sorted(k for k in model.state_dict() if k.startswith("fc."))) == '["fc.weight"]'
    loaded = load_model(path)  # read back as the authors' format: the same cosine head, the same logits
    assert isinstance(loaded.model.fc, CosineClassifier) and loaded.meta["cosine_tau"] == 0.1
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(x), model.eval()(x), rtol=0, atol=0)


def test_cosine_classifier_logits_are_cosines_over_the_temperature():
    head = CosineClassifier(2, 3, tau=0.1)
    with torch.no_grad():
        head.weight.copy_(torch.tensor([[1.0, 0.0], [3.0, 3.0], [-1.0, -1.0]]))
    x = torch.tensor([[1.0, 0.2], [0.0, 2.0]])
    norm = (1 + 0.04) ** 0.5  # |x[0]|
    expected = torch.tensor([[1 / norm, 1.2 / (norm * 2**0.5), -1.2 / (norm * 2**0.5)],
                             [0.0, 1 / 2**0.5, -1 / 2**0.5]]) / 0.1
    torch.testing.assert_close(head(x), expected)
    torch.testing.assert_close(head(7.5 * x), expected)  # a positive factor on the features changes nothing
    # the ranking is by direction: the long row [3, 3] wins x[0] as a Linear (3.6 > 1.0), [1, 0] wins it here
    assert (x[0] @ head.weight.T).argmax().item() == 1 and head(x)[0].argmax().item() == 0
    assert list(head.state_dict()) == ["weight"] and head.bias is None
    plain = torch.nn.Linear(2, 3, bias=False)
    assert str(plain.load_state_dict(head.state_dict(), strict=True)) == "<All keys matched successfully>"
    with pytest.raises(FakeitError, match=r"parameter cosine_tau=0.0 must be > 0 \(a temperature\) or null"):
        make_config("paper", data="d", cosine_tau=0)
    with pytest.raises(FakeitError, match=r"parameters fc_bias=true and cosine_tau are exclusive"):
        make_config("paper", data="d", fc_bias=True)
    assert make_config("paper", data="d", fc_bias=True, cosine_tau=None).cosine_tau is None
