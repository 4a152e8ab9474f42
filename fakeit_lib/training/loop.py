"""`fakeit train`: a classifier trained from scratch on a real or synthetic dataset, with the recipe of `train.py`.

A run folder holds `config.yaml`, the last checkpoint (`checkpoint.pt`, written atomically each epoch),
`metrics.jsonl` (one JSON line per epoch), TensorBoard curves in `tb/` (`curves.py`) and, at the end, the `DONE`
marker. Started again, a run resumes from
its checkpoint. The sampler order is drawn from (seed, epoch) and each image's augmentation from (seed, epoch,
image index) alone, whatever the number of loader workers (which persist across epochs), so on the CPU a
killed-and-resumed run ends with the same weights and metrics as an uninterrupted one. Under `torchrun` the run
is data-parallel (DDP, DistributedSampler); rank 0 writes.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import math
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..core.devices import autocast_dtype, resolve_device, training_workers
from ..core.distributed import Ranks
from ..core.errors import FakeitError, Stopped
from ..core.params import yaml_value
from ..core.store import atomic_write_bytes, atomic_write_text, claim_explained, claim_folder, config_hash, is_done, mark_done
from .curves import Curves
from .loaders import NotForMemory, memory_training_loader, training_dataset, training_loader
from .models import CHECKPOINT_FORMAT, MultiCropClassifier, build_model
from .recipe import PAPER_CROP, identity, lr_at, param_groups, peak_lr, resolved_config
from .train import CHECKPOINT, METRICS, PRESETS, TrainConfig, make_config, run_folder


CHECK_STEPS = 20  # under torchrun, steps between two looks at a stop signal and the checkpoint's wall time


class StopRequest:
    """SIGTERM (torchrun passes a stop on, Slurm sends it at the end) and SIGUSR1 (Slurm's warning before the time
    limit, --signal) noted instead of ending the process, so that training saves its checkpoint first. Installed only
    in the main thread and only where nothing else handles these signals; `restore` puts the handlers back."""

    SIGNALS = ("SIGTERM", "SIGUSR1")

    def __init__(self):
        import signal
        import threading

        self.signum, self.previous = None, {}
        if threading.current_thread() is not threading.main_thread():
            return
        for name in self.SIGNALS:
            sig = getattr(signal, name, None)
            if sig is not None and signal.getsignal(sig) is signal.SIG_DFL:
                self.previous[sig] = signal.signal(sig, self._note)

    def _note(self, signum, frame) -> None:
        self.signum = signum

    def restore(self) -> None:
        import signal

        for sig, handler in self.previous.items():
            signal.signal(sig, handler)
        self.previous = {}

    def end_if_asked(self, ranks, where: str) -> None:
        """Raise Stopped (checkpoint saved) when process 0 was asked to stop; every process follows it."""
        import signal

        if ranks.agree(self.signum is not None):
            signum = self.signum or signal.SIGTERM
            self.restore()
            ranks.close()
            raise Stopped(f"stopped by {signal.Signals(signum).name} at {where}; the checkpoint is saved: run the same "
                          "command to resume", signum)


def loss_scaling(device_type: str, amp: bool) -> bool:
    """Whether training scales its loss (a GradScaler): fp16 autocast on CUDA only."""
    return device_type == "cuda" and amp


def _checkpoint_bytes(obj: dict) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def train(config: TrainConfig, out: Path | str | None = None, log=print) -> Path:
    """Train (or resume, or reuse a finished run) and return the run folder."""
    config.validate()
    config = resolved_config(config)
    # 224 px crops (the paper recipe): days on a CPU, so "auto" does not fall back to it silently
    work = f"training at {config.global_size} px crops (the paper recipe's size)" if config.global_size >= PAPER_CROP else None
    device = torch.device(resolve_device(config.device, work))
    ranks = Ranks(str(device), stage="train")
    dataset, class_set, num_classes = training_dataset(config)
    folder = Path(out) if out else run_folder(config)
    recorded = identity(config)
    if ranks.agree(is_done(folder)):  # process 0 looks, every process follows (distributed.Ranks.agree)
        claim_folder(folder, recorded)  # a finished run is reused only for the same config
        ranks.close()
        return folder
    if ranks.rank == 0:
        claim_explained(folder, recorded, explain=out is None)
    ranks.barrier()
    threads_before = torch.get_num_threads()  # restored at the end: later work in this process keeps its threads
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    if device.type == "cuda":
        torch.cuda.set_device(device)
        torch.backends.cuda.matmul.allow_tf32 = True  # as trex main.py
        torch.backends.cudnn.benchmark = True

    torch.manual_seed(config.seed)
    model = build_model(config.arch, num_classes, config.cifar_stem, config.fc_bias, config.cosine_tau).to(device)
    if ranks.distributed and device.type == "cuda" and config.sync_bn:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)  # trex main.py; same state-dict keys as BatchNorm
    if config.amp:  # channels-last: faster convolutions under fp16 on CUDA, and on the CPU in bf16 and float32 alike
        model = model.to(memory_format=torch.channels_last)
    # fp16 on CUDA with loss scaling as the authors (trex main.py use_fp16); bf16 autocast on the CPU needs none, and
    # runs only where the CPU has fast bf16 kernels (float32 elsewhere): config.precision, resolved with the run's
    # identity from the device the config names (recipe.resolved_config, devices.precision_of)
    autocast = autocast_dtype(config.precision)
    scaler = torch.amp.GradScaler(device.type, enabled=loss_scaling(device.type, config.precision == "fp16"))
    # with a scaler, SGD fused into one kernel: the scaler hands it the inf/NaN flag on the device, where the unfused
    # SGD makes the scaler read that flag on the host every step (a wait for the GPU); state dicts are the same
    optimizer = torch.optim.SGD(param_groups(model, config), lr=peak_lr(config), momentum=config.momentum,
                                fused=True if scaler.is_enabled() else None)
    start_epoch, history, first_step, saved_sums = 0, [], 0, None
    ckpt_path = folder / CHECKPOINT
    if ranks.agree(ckpt_path.exists()):  # every process resumes from the same epoch, or none does
        state = torch.load(ckpt_path, map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if state.get("scaler"):
            scaler.load_state_dict(state["scaler"])  # an fp16 run resumes with the loss scale it had
        start_epoch, history = state["epoch"], state["history"]
        first_step, saved_sums = state.get("step_in_epoch", 0), state.get("sums")  # saved within an epoch
        log(f"resuming {folder} after epoch {start_epoch}" + (f", step {first_step}" if first_step else ""))
    net: nn.Module = MultiCropClassifier(model, config.bn_stats)
    if ranks.distributed:
        net = nn.parallel.DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)

    per_rank = max(1, config.batch_size // ranks.world)
    # the node's cores shared by its processes: 8 processes on a 64-core node start 7 workers each, not 14
    config = dataclasses.replace(config, workers=training_workers(config.workers))
    loader = None
    if config.loader == "memory":
        try:
            loader, sampler, drop_last = memory_training_loader(dataset, config, per_rank, ranks.world, ranks.rank)
        except NotForMemory as e:  # a colour clone (any text-to-image model) under a small recipe: the same
            log(f"{e}; training with loader 'workers' instead")  # augmentation per image in PIL (augment.py)
    if loader is None:
        loader, sampler, drop_last = training_loader(dataset, config, per_rank, ranks.world, ranks.rank, device.type == "cuda")
    steps_per_epoch = len(sampler) // per_rank if drop_last else math.ceil(len(sampler) / per_rank)
    total_steps, warmup_steps = config.epochs * steps_per_epoch, round(config.warmup_epochs * steps_per_epoch)
    meta = dict(arch=config.arch, num_classes=num_classes, cifar_stem=config.cifar_stem, fc_bias=config.fc_bias,
                cosine_tau=config.cosine_tau,
                class_set=class_set.name if class_set is not None else config.class_set, eval_resize=config.eval_resize,
                eval_crop=config.eval_crop, mean=list(config.mean), std=list(config.std), data=config.data)

    def save(epochs_done: int, step_in_epoch: int = 0, sums=None) -> None:
        """The checkpoint (process 0 writes), after `epochs_done` epochs and `step_in_epoch` steps of the next."""
        if ranks.rank == 0:
            state = dict(format=CHECKPOINT_FORMAT, model=model.state_dict(), optimizer=optimizer.state_dict(),
                         scaler=scaler.state_dict() if scaler.is_enabled() else None,
                         epoch=epochs_done, sampler_epoch=epochs_done - 1, history=history, meta=meta,
                         config=dataclasses.asdict(config), config_hash=config_hash(recorded),
                         step_in_epoch=step_in_epoch, sums=None if sums is None else sums.cpu())
            atomic_write_bytes(ckpt_path, _checkpoint_bytes(state))
            atomic_write_text(folder / METRICS, "".join(json.dumps(h) + "\n" for h in history))
        ranks.barrier()

    # a stop signal or the wall time is looked at every few steps, by process 0, and shared (one host read each time)
    check_every = CHECK_STEPS if ranks.distributed else 1
    stop, last_save = StopRequest(), time.monotonic()
    done_steps = start_epoch * steps_per_epoch + first_step  # TensorBoard curves (process 0) continue from here
    curves = Curves(folder, ranks.rank == 0, done_steps, device)
    try:
        for epoch in range(start_epoch, config.epochs):
            first = first_step if epoch == start_epoch else 0
            sampler.set_epoch(epoch, start=first * per_rank)
            net.train()
            # loss*crops, crops, correct global, global, skipped images: summed on the device, read once an epoch (no
            # host sync per step); MPS has no float64
            sums = torch.zeros(5, dtype=torch.float32 if device.type == "mps" else torch.float64, device=device)
            if first and saved_sums is not None:
                sums += saved_sums.to(device=device, dtype=sums.dtype)
            t0, lr = time.time(), lr_at(epoch * steps_per_epoch, total_steps, warmup_steps, config)
            curves.start_epoch()
            for i, (crops, labels) in enumerate(loader, start=first):
                curves.data_ready()
                step = epoch * steps_per_epoch + i
                ranks.at = f"epoch {epoch + 1}, step {i + 1} of {steps_per_epoch}"  # named if a collective gives up
                lr = lr_at(step, total_steps, warmup_steps, config)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                crops = [c.to(device, non_blocking=True) for c in crops]
                if config.amp:
                    crops = [c.contiguous(memory_format=torch.channels_last) for c in crops]
                labels = labels.to(device, non_blocking=True)  # from pinned memory on CUDA: no wait for the copy
                targets = labels.repeat(len(crops))
                with torch.autocast(device.type, dtype=autocast, enabled=autocast is not None):
                    logits = net(crops)
                losses = F.cross_entropy(logits.float(), targets, ignore_index=-1, reduction="none",
                                         label_smoothing=config.label_smoothing)
                valid = (targets >= 0).sum()
                loss = losses.sum() / valid.clamp(min=1)
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
                n_global = config.global_crops * len(labels)
                glob_pred, glob_t = logits[:n_global].argmax(1), targets[:n_global]
                sums += torch.stack([losses.detach().sum(), valid, (glob_pred == glob_t).sum(), (glob_t >= 0).sum(),
                                     (labels < 0).sum()]).to(sums.dtype)
                curves.step(step + 1, lr, loss, len(labels) * ranks.world)
                if (i + 1) % check_every == 0 and i + 1 < steps_per_epoch:
                    due = stop.signum is not None or time.monotonic() - last_save >= config.checkpoint_minutes * 60
                    if ranks.agree(due):
                        save(epoch, i + 1, sums)
                        last_save = time.monotonic()
                        stop.end_if_asked(ranks, f"epoch {epoch + 1}, step {i + 1} of {steps_per_epoch}")
            ranks.at = f"the end of epoch {epoch + 1}"
            if ranks.distributed:
                sums = ranks.all_reduce(sums)  # on the backend's device (NCCL refuses CPU tensors)
            held = curves.pending()  # the curves' last losses of the epoch, read with the sums (one read)
            read = torch.cat([sums, held.to(sums)]).cpu() if held is not None else sums.cpu()
            sums = read[:len(sums)]
            curves.write(read[len(sums):].numpy().tolist())  # on the host already: no second wait
            seconds = time.time() - t0
            images = int(sums[3].item()) // config.global_crops
            row = dict(epoch=epoch + 1, lr=lr, loss=round(sums[0].item() / max(1.0, sums[1].item()), 6),
                       train_top1=round(sums[2].item() / max(1.0, sums[3].item()), 6), images=images,
                       skipped=int(sums[4].item()), seconds=round(seconds, 2), images_per_s=round(images / max(seconds, 1e-9), 1),
                       precision=f"{str(autocast).removeprefix('torch.')} autocast" if autocast is not None else "float32")
            if images == 0:
                raise FakeitError(f"no readable image in dataset {config.data} (all {len(dataset)} files failed to load)")
            history.append(row)
            curves.epoch((epoch + 1) * steps_per_epoch, row)
            log(json.dumps(row))
            save(epoch + 1)
            last_save = time.monotonic()
            if epoch + 1 < config.epochs:
                stop.end_if_asked(ranks, f"the end of epoch {epoch + 1}")
    finally:
        stop.restore()  # a stopped, failed or finished run leaves the signals as it found them
        curves.close()
    if ranks.rank == 0:
        mark_done(folder, {"epochs": config.epochs, "final": history[-1] if history else None})
    ranks.barrier()
    ranks.close()
    torch.set_num_threads(threads_before)
    return folder


def read_metrics(folder: Path | str) -> list[dict]:
    """The per-epoch metrics of a run folder."""
    path = Path(folder) / METRICS
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", help="dataset folder (a fakeit generate output or an ImageFolder tree)")
    parser.add_argument("--preset", default="paper", choices=sorted(PRESETS), help="recipe preset (default: paper)")
    parser.add_argument("--config", help="YAML file of TrainConfig fields (applied after the preset)")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="override one TrainConfig field, value parsed as YAML (repeatable)")
    parser.add_argument("--device", help="auto (default: cuda:LOCAL_RANK when CUDA is available), cpu, cuda, cuda:N")
    parser.add_argument("--batch-size", type=int, help="global batch over all processes (paper: 256; lr follows it)")
    parser.add_argument("--out", help="run folder (default: <output root>/train-<dataset>-<arch>-<hash>)")
    parser.add_argument("--print-folder", action="store_true",
                        help="print the run folder this command trains into (named by the settings, the dataset's "
                             "content and the code) and stop: nothing is trained")


def run(args: argparse.Namespace) -> int:
    """`fakeit train`: train (or resume, or find finished) a run and print its folder."""
    overrides: dict = {"data": args.data}
    if args.config:
        try:
            values = yaml_value(Path(args.config).read_text(), f"config file {args.config}") or {}
        except OSError as e:
            raise FakeitError(f"cannot read config file {args.config}: {e.strerror}") from None
        if not isinstance(values, dict):
            raise FakeitError(f"config file {args.config} must map TrainConfig fields to values, "
                              f"not hold a {type(values).__name__}")
        overrides.update(values)
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            raise FakeitError(f"--set {item!r} must be FIELD=VALUE")
        overrides[key.strip()] = yaml_value(value, f"--set {item!r}")
    overrides.update({k: v for k, v in (("device", args.device), ("batch_size", args.batch_size)) if v is not None})
    config = make_config(args.preset, **overrides)
    if args.print_folder:
        if not Path(config.data).expanduser().is_dir():
            raise FakeitError(f"dataset {config.data} does not exist: its run folder is named by its content")
        print(Path(args.out) if args.out else run_folder(config))
        return 0
    folder = train(config, args.out)
    print(folder)
    return 0
