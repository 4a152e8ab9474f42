"""`fakeit book --plan --calibrate`: the cost model's throughputs measured on this machine in a minute or two, so a
plan's hours can be the user's own, printed beside the assumed ones.

Every measurement runs the library's own code on the device `fakeit` runs on (the first GPU when there is one, else
the CPU), says which device it measured, and stops at its time box (at the end of the step under way):
- generation: `generate_images` with the preset's generator, batch and guidance, loaded as `fakeit generate` loads
  it; hooks time each UNet call (one denoising step of the batch and its unconditional twin) after the first.
  FLOP/s = image-steps/s x the UNet FLOPs counted from the generator's configuration (costs.generator_flops);
- training: the preset's recipe through the real training loader (`training_dataset` and the loader `train` picks),
  one process and one thread (rates per second of its CPU time: one core's, whatever else the machine runs), on photographs stored as a clone's images are (PNG at the generator's
  size, colour or grey) and as a real set's are (JPEG); then forward, backward and SGD steps of the recipe's model on
  the device with its mixed precision, on the loader's crops: FLOP/s with the FLOPs of costs.multicrop_flops.
  Inference is taken at the training FLOP/s (not measured on its own);
- evaluation decode: the transfer test transform on JPEG photographs, one core;
- probe: the library's minibatch probe (`sgd_fit`) on random features held on the device (its FLOP/s), a
  random-row gather from host memory copied to the device (bytes/s), and float32 matrix products on one core.
"""

from __future__ import annotations

import contextlib
import os
import platform
import tempfile
import time
from pathlib import Path

from ..core.devices import amp_dtype, resolve_device
from ..core.errors import FakeitError
from ..datasets.transfer_data import COG_LEVELS, PUBLISHED_CLASSES, authors_transform
from ..generation.config import GenerateConfig
from .costs import Figure, classifier_flops, generator_flops, multicrop_flops, probe_flops_per_sample
from .params import preset_params

DEFAULT_SECONDS = 20.0  # time box of the generation and training-step measurements (the others: a half or a quarter)
CPU_BATCH = 16  # at most this many samples per training step on the CPU (a GPU's per-process batch would take minutes)
JPEG_SIZE = (500, 375)  # ImageNet's typical photograph
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")  # scikit-image's bundled photographs


class _TimeUp(Exception):
    """The time box of a measurement ran out."""


def device_name(device: str) -> str:
    """What a device is, in words: the GPU's name, or the CPU's model and core count."""
    import torch

    if device.startswith("cuda"):
        return f"{device} ({torch.cuda.get_device_name(torch.device(device))})"
    model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"cpu ({model}, {os.cpu_count()} cores)"


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize(torch.device(device))


@contextlib.contextmanager
def _one_thread():
    """torch on one thread (one core's rate), restored afterwards."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def measure_generation(p: dict, seconds: float, where: str):
    """(generation FLOP/s Figure, the generator's images): denoising steps timed at the preset's batch."""
    import torch

    from ..generation.generate import generate_images, load_generator

    d = GenerateConfig()
    p = preset_params(p)
    gen = load_generator(p.generator, d.device, d.dtype, None, False, None)
    batch, steps, guidance = p.gen_batch_size, p.steps, max(p.guidances)
    flops = generator_flops(p.generator)
    texts, seeds = ["a photo of a goldfish"] * batch, list(range(batch))
    calls: list[float] = []  # seconds of each UNet call
    start = time.perf_counter()
    began = [0.0]

    def before(module, args):
        _sync(gen.device)
        began[0] = time.perf_counter()

    def after(module, args, output):
        _sync(gen.device)
        now = time.perf_counter()
        calls.append(now - began[0])
        if now - start > seconds:
            raise _TimeUp

    hooks = [gen.pipe.unet.register_forward_pre_hook(before), gen.pipe.unet.register_forward_hook(after)]
    try:
        with torch.no_grad():
            while time.perf_counter() - start < seconds:
                generate_images(gen, texts, seeds, guidance, steps, None)
    except _TimeUp:
        pass
    finally:
        for h in hooks:
            h.remove()
    timed = calls[1:] or calls  # the first call warms up (kernels, caches)
    image_steps = batch * len(timed) / sum(timed)
    value = image_steps * flops.per_step(guidance)
    images = generate_images(gen, texts[:2], seeds[:2], guidance, 1, None)
    source = (f"{len(timed)} denoising steps of {p.generator} at batch {batch}, guidance {guidance:g} "
              f"({'after one warm-up step' if len(calls) > 1 else 'one step, warm-up included'}): {image_steps:,.2f} "
              f"image-steps/s x {flops.per_step(guidance) / 1e9:,.3g} GFLOP counted")
    return Figure(value, "FLOP/s", source, where), images


def _photographs(folder: Path, size: tuple[int, int], mode: str, fmt: str, per_class: int = 8) -> Path:
    """An ImageFolder of two classes of scikit-image's photographs, `size` px, `mode` (RGB or L), saved as `fmt`."""
    from PIL import Image
    from skimage import data

    photos = [Image.fromarray(getattr(data, n)()).convert("RGB") for n in PHOTOS]
    for c in range(2):
        (folder / f"c{c}").mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            image = photos[(c * per_class + i) % len(photos)].resize(size).convert(mode)
            suffix = "png" if fmt == "PNG" else "jpg"
            image.save(folder / f"c{c}" / f"{i}.{suffix}", format=fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return folder


def _recipe(p: dict, data: Path):
    from ..training.train import make_config

    return make_config(preset_params(p).recipe, data=str(data), workers=0)


def _loader(recipe, batch: int):
    """The training loader `train` would use for the recipe (memory loader for small grey sets), one process: its
    workers' part (with colour_ops=device the colour operations run batched on the training device, not on a core)."""
    from ..training.loaders import NotForMemory, memory_training_loader, training_dataset, training_loader

    dataset, _, _ = training_dataset(recipe)
    if recipe.loader == "memory":
        with contextlib.suppress(NotForMemory):
            return memory_training_loader(dataset, recipe, batch)[:2]
    loader, sampler = training_loader(dataset, recipe, batch)[:2]
    return getattr(loader, "loader", loader), sampler


def measure_loader(p: dict, folder: Path, batch: int, seconds: float, where: str, what: str):
    """(multi-crop samples/s of one core Figure, a batch of crops and labels) through the recipe's training loader."""
    with _one_thread():
        recipe = _recipe(p, folder)
        loader, sampler = _loader(recipe, batch)
        samples, epoch, first = 0, 0, None
        start, cpu = time.perf_counter(), time.process_time()
        while time.perf_counter() - start < seconds:
            sampler.set_epoch(epoch)
            for crops, labels in loader:
                first = first or (crops, labels)
                samples += len(labels)
                if time.perf_counter() - start >= seconds:
                    break
            epoch += 1
        used = time.process_time() - cpu
    source = (f"{samples} samples of the {preset_params(p).recipe} recipe's multi-crop ({recipe.global_crops} x "
              f"{recipe.global_size} px + {recipe.local_crops} x {recipe.local_size} px) from {what}, through its "
              "training loader in one process and thread, per second of its CPU time")
    return Figure(samples / used, "samples/s", source, where), first


def measure_training(p: dict, crops_labels, num_classes: int, gpus: int, device: str, seconds: float, where: str) -> Figure:
    """Training FLOP/s: forward, backward and SGD steps of the recipe's model on the device, on the loader's crops."""
    import torch
    import torch.nn.functional as F

    from ..training.models import MultiCropClassifier, build_model

    recipe = _recipe(p, Path("."))
    batch = max(1, recipe.batch_size // gpus)
    if not device.startswith("cuda"):
        batch = min(batch, CPU_BATCH)
    crops, labels = crops_labels
    reps = -(-batch // len(labels))
    crops = [c.repeat(reps, 1, 1, 1)[:batch].to(device) for c in crops]
    targets = labels.repeat(reps)[:batch].to(device).repeat(len(crops))
    model = build_model(recipe.arch, num_classes, recipe.cifar_stem, fc_bias=recipe.fc_bias).to(device)
    cuda_amp = device.startswith("cuda") and recipe.amp
    if recipe.amp:  # as training: channels-last whenever mixed precision is asked for
        model = model.to(memory_format=torch.channels_last)
        crops = [c.contiguous(memory_format=torch.channels_last) for c in crops]
    net = MultiCropClassifier(model).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=recipe.momentum)
    scaler = torch.amp.GradScaler(device.split(":")[0], enabled=cuda_amp)
    dtype = amp_dtype(device, recipe.amp)
    steps: list[float] = []
    start = time.perf_counter()
    while time.perf_counter() - start < seconds or not steps:
        t0 = time.perf_counter()
        with torch.autocast(device.split(":")[0], dtype=dtype, enabled=dtype is not None):
            logits = net(crops)
        loss = F.cross_entropy(logits.float(), targets)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        _sync(device)
        steps.append(time.perf_counter() - t0)
    timed = steps[1:] or steps
    samples_per_second = batch * len(timed) / sum(timed)
    flops = multicrop_flops(recipe, num_classes)
    source = (f"{len(timed)} training steps of {recipe.arch} at batch {batch}"
              f"{' (capped on the CPU)' if batch == CPU_BATCH and recipe.batch_size // gpus > CPU_BATCH else ''}, "
              f"{'mixed precision' if dtype is not None else 'float32'}: {samples_per_second:,.1f} samples/s x "
              f"{flops / 1e9:,.3g} GFLOP counted")
    return Figure(samples_per_second * flops, "FLOP/s", source, where)


def measure_eval_decode(folder: Path, seconds: float, where: str) -> Figure:
    """Images/s of the transfer test transform on JPEG photographs, one core."""
    from PIL import Image

    files = sorted(folder.rglob("*.jpg"))
    transform = authors_transform(224)
    n, start, cpu = 0, time.perf_counter(), time.process_time()
    with _one_thread():
        while time.perf_counter() - start < seconds:
            with Image.open(files[n % len(files)]) as image:
                transform(image.convert("RGB"))
            n += 1
    source = (f"{n} {JPEG_SIZE[0]} x {JPEG_SIZE[1]} JPEG photographs read and transformed (bicubic resize, centre crop) "
              "in one thread, per second of its CPU time")
    return Figure(n / (time.process_time() - cpu), "images/s", source, where)


def measure_probe(features: int, classes: int, device: str, seconds: float, where: str) -> dict:
    """The probe's figures: the minibatch probe's FLOP/s on the device, host gather-and-copy bytes/s, CPU FLOP/s."""
    import torch

    from ..evaluation.probe import SGDSettings, sgd_fit

    out = {}
    rows = 8 * 1024
    x = torch.randn(rows, features, device=device)
    y = torch.randint(0, classes, (rows,), device=device)
    settings = SGDSettings(epochs=1, batch_size=1024)
    fits: list[float] = []
    start = time.perf_counter()
    while time.perf_counter() - start < seconds / 2 or len(fits) < 2:
        t0 = time.perf_counter()
        sgd_fit(x, y, torch.arange(rows, device=device), classes, 0.1, 0.0, settings, 0, device)
        _sync(device)
        fits.append(time.perf_counter() - t0)
    timed = fits[1:]
    per_sample = probe_flops_per_sample(features, classes)
    rate = rows * len(timed) / sum(timed)
    out["probe_flops"] = Figure(rate * per_sample, "FLOP/s", f"the minibatch probe (sgd_fit) on {rows:,} features of "
                                f"{features} held on the device, {classes} classes: {rate:,.0f} samples/s x "
                                f"{per_sample / 1e6:,.3g} MFLOP counted", where)
    host = torch.randn(4 * rows, features)
    moved, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds / 4:
        host[torch.randint(0, len(host), (1024,))].to(device)
        _sync(device)
        moved += 1024 * features * 4
    out["host_bytes"] = Figure(moved / (time.perf_counter() - start), "B/s", f"random 1,024-row gathers of {features} "
                               "float32 features from host memory, copied to the device", where)
    a, b = torch.randn(4096, 2048), torch.randn(2048, 101)
    n, start, cpu = 0, time.perf_counter(), time.process_time()
    with _one_thread():
        while time.perf_counter() - start < seconds / 4:
            a @ b
            n += 1
    out["cpu_flops_per_core"] = Figure(n * 2 * 4096 * 2048 * 101 / (time.process_time() - cpu), "FLOP/s", "float32 "
                                       "products of 4,096 x 2,048 by 2,048 x 101 in one thread, per second of its CPU time",
                                       device_name("cpu"))
    return out


def _probe_shape(p: dict) -> tuple[int, int]:
    """(feature width of the recipe's model, classes of the largest dataset the preset probes by minibatch SGD)."""
    from ..training.train import make_config

    p = preset_params(p)
    recipe = make_config(p.recipe, data="-")
    roots = [n for n, r in p.transfer_roots.items() if r]
    names = [n for n in roots if n in PUBLISHED_CLASSES] + (list(COG_LEVELS) if "cog" in roots else [])
    return classifier_flops(recipe.arch, recipe.eval_crop).features, max([PUBLISHED_CLASSES[n] for n in names] or [10])


def measure_rates(p: dict, num_classes: int, gpus: int = 1, seconds: float = DEFAULT_SECONDS) -> tuple[dict, str]:
    """The measured Figures (costs.RATES names) of this machine for preset `p` (whose class set has `num_classes`),
    and a header saying what was measured where and how long it took."""
    if seconds <= 0:
        raise FakeitError(f"--calibrate takes the seconds of each measurement's time box, more than 0; got {seconds:g}")
    t0 = time.perf_counter()
    device = resolve_device("auto")
    where = device_name(device)
    recipe = _recipe(p, Path("."))
    batch = max(1, recipe.batch_size // gpus)
    measured = {}
    gen, images = measure_generation(p, seconds, where)
    measured["generation_flops"] = gen
    cpu = device_name("cpu")
    with tempfile.TemporaryDirectory(prefix="fakeit-calibrate-") as tmp:
        clone = _photographs(Path(tmp) / "clone", images[0].size, images[0].mode, "PNG")
        w, h = images[0].size
        measured["multicrop_synthetic_per_core"], crops = measure_loader(
            p, clone, batch, seconds / 2, cpu, f"{w} x {h} {images[0].mode} PNG photographs (as the generator's images are stored)")
        real_kind = (JPEG_SIZE, "RGB", "JPEG") if preset_params(p).real_root else (images[0].size, images[0].mode, "PNG")
        real = _photographs(Path(tmp) / "real", *real_kind)
        measured["multicrop_real_per_core"], _ = measure_loader(
            p, real, batch, seconds / 2, cpu, f"{real_kind[0][0]} x {real_kind[0][1]} {real_kind[1]} {real_kind[2]} photographs")
        jpegs = _photographs(Path(tmp) / "jpeg", JPEG_SIZE, "RGB", "JPEG")
        measured["eval_decode_per_core"] = measure_eval_decode(jpegs, seconds / 4, cpu)
    train = measure_training(p, crops, num_classes, gpus, device, seconds, where)
    measured["training_flops"] = train
    measured["inference_flops"] = Figure(train.value, "FLOP/s", "taken at the measured training FLOP/s", where)
    measured.update(measure_probe(*_probe_shape(p), device, seconds, where))
    devices = where if where == cpu else f"{where} and {cpu}"
    head = (f"Calibration: measured on {devices} in {time.perf_counter() - t0:.0f} s (time box {seconds:g} s a "
            "measurement); the plan below uses the measured figures")
    return measured, head
