"""The hours of a stage on a cluster (GPUs and the CPU cores beside them) from the cost model of `costs`, and what
limits it:
- generate: images x FLOPs per image / (GPUs x generation FLOP/s);
- train: epochs x images / min(GPUs x training FLOP/s / FLOPs per sample, decoding cores x samples/s per core):
  the data loader, not the GPU, limits training when the cores beside the GPUs decode fewer samples than they take;
- evaluate and transfer features: images / min(GPUs x inference FLOP/s / forward FLOPs, cores x decodes/s);
- transfer probes, spread over the processes as transfer spreads them (`probe_owners`: the largest data set first,
  each to the least busy process), so the busiest process's sum is the wall clock: minibatch SGD per epoch and image
  on its GPU (linear-layer FLOPs / probe FLOP/s, + feature bytes / host bandwidth when the features do not fit on
  the GPU), full-batch L-BFGS on its share of the CPU cores (cores / processes x FLOP/s per core).
"""

from __future__ import annotations

from dataclasses import dataclass

from .commands import hours_text
from .costs import (DECODE_WORKERS, GeneratorFlops, Rates, classifier_flops, figure, lbfgs_flops_per_evaluation,
                    multicrop_flops, probe_flops_per_sample)



@dataclass(frozen=True)
class Cluster:
    """Where a plan runs: GPUs and the CPU cores beside them."""

    gpus: int = 1  # GPUs (one torchrun process each)
    cpus: int = 0  # CPU cores feeding them; 0: the reference node's share (reference_cpus_per_gpu for each GPU)

    @property
    def cores(self) -> int:
        """The CPU cores: those given, else the reference node's for these GPUs (a DGX A100: 16 a GPU, 128 for 8),
        never the cores of the machine printing the plan (with a laptop's 2 the `paper` plan on one GPU took 6,471
        hours instead of 2,569: a loader of one core)."""
        return self.cpus or self.gpus * int(figure("reference_cpus_per_gpu"))

    def cores_text(self) -> str:
        """Where the cores come from, for a plan's first line."""
        if self.cpus:
            return f"{self.cores} CPU cores (--cpus)"
        per = int(figure("reference_cpus_per_gpu"))
        return (f"{self.cores} CPU cores (assumed: {per} a GPU, as a DGX A100's 128 cores for its 8 GPUs; "
                "give --cpus N with your node's)")

    @property
    def cores_per_process(self) -> int:
        """One process's share of the cores (devices.cores_per_process): the threads its CPU solver takes."""
        return max(1, self.cores // self.gpus)

    def decoding_cores(self, workers: int) -> int:
        """Cores that decode images: each process's loader workers, within the cores left after one per process."""
        return max(1, min(workers * self.gpus, self.cores - self.gpus))


@dataclass(frozen=True)
class Estimate:
    """Seconds of a stage on a cluster and what limits it."""

    seconds: float  # wall clock
    bound: str = ""  # what limits it, in words


def generation_estimate(images: int, flops: GeneratorFlops, steps: int, guidance: float, rates: Rates,
                        cluster: Cluster) -> Estimate:
    """Drawing `images` images, sharded over the GPUs."""
    return Estimate(images * flops.per_image(steps, guidance) / (cluster.gpus * rates["generation_flops"]))


def decode_bound(items: float, gpu_rate: float, per_core: float, cores: int, what: str) -> Estimate:
    """`items` through GPUs taking `gpu_rate` items/s together and `cores` cores decoding `per_core` each."""
    loader, c = per_core * cores, f"{cores} core{'s' if cores > 1 else ''}"
    if loader < gpu_rate:
        return Estimate(items / loader, f"loader-bound: {c} decode {loader:,.0f} {what}/s, the GPUs would take {gpu_rate:,.0f}")
    return Estimate(items / gpu_rate, f"GPU-bound: the GPUs take {gpu_rate:,.0f} {what}/s, {c} decode {loader:,.0f}")


def training_estimate(samples: int, recipe, num_classes: int, synthetic: bool, rates: Rates, cluster: Cluster) -> Estimate:
    """`samples` training samples (epochs x images) of a recipe: the GPUs or the data loader, whichever is slower."""
    gpu = cluster.gpus * rates["training_flops"] / multicrop_flops(recipe, num_classes)
    per_core = rates["multicrop_synthetic_per_core" if synthetic else "multicrop_real_per_core"]
    return decode_bound(samples, gpu, per_core, cluster.decoding_cores(recipe.workers), "samples")


def inference_estimate(images: int, arch: str, size: int, rates: Rates, cluster: Cluster) -> Estimate:
    """`images` test images through a classifier (evaluation, feature extraction)."""
    gpu = cluster.gpus * rates["inference_flops"] / classifier_flops(arch, size).forward
    return decode_bound(images, gpu, rates["eval_decode_per_core"], cluster.decoding_cores(DECODE_WORKERS), "images")


def features_fit_on_gpu(images: int, features: int) -> bool:
    """Whether the minibatch probe keeps `images` float32 feature vectors on the reference GPU (evaluation.probe:
    at most FEATURES_DEVICE_SHARE of its memory) rather than copying each batch over from host memory."""
    from ..evaluation.probe import FEATURES_DEVICE_SHARE

    return 4 * images * features <= FEATURES_DEVICE_SHARE * figure("gpu_memory_bytes")


def sgd_probe_seconds(fit_images: int, all_images: int, features: int, classes: int, fits: int, epochs: int,
                      rates: Rates) -> float:
    """The minibatch probe's grid search (`fits` fits on the fit split) and refit (on all), `epochs` each: the linear
    layer's FLOPs, plus the host-to-GPU copy of each batch only when the features do not fit on the GPU."""
    per = probe_flops_per_sample(features, classes) / rates["probe_flops"]
    if not features_fit_on_gpu(all_images, features):
        per += 4 * features / rates["host_bytes"]
    return epochs * (fits * fit_images + all_images) * per


def lbfgs_probe_seconds(fit_images: int, all_images: int, features: int, classes: int, weight_decays: int,
                        rates: Rates, cluster: Cluster) -> float:
    """The full-batch probe's weight-decay path (on the fit split) and refit (on all), on one process's share of the
    CPU's cores."""
    evals = figure("lbfgs_evaluations_per_fit")
    flops = evals * (weight_decays * lbfgs_flops_per_evaluation(fit_images, features, classes)
                     + lbfgs_flops_per_evaluation(all_images, features, classes))
    return flops / (cluster.cores_per_process * rates["cpu_flops_per_core"])


def spread_probes(seconds: dict[str, float], images: dict[str, int], cluster: Cluster) -> Estimate:
    """The probes of data sets taking `seconds` each on one process, spread over the cluster's processes as transfer
    spreads them (by their training `images`): the wall clock is the busiest process's sum."""
    from ..evaluation.transfer import probe_owners

    owners = probe_owners(images, cluster.gpus)
    load = [0.0] * cluster.gpus
    for name, s in seconds.items():
        load[owners[name]] += s
    wall = max(load, default=0.0)
    if cluster.gpus == 1:
        return Estimate(wall, f"probes {hours_text(wall / 3600)} on one process")
    return Estimate(wall, f"probes {hours_text(wall / 3600)} spread over {cluster.gpus} processes (the busiest "
                          f"one's share; {hours_text(sum(load) / 3600)} of work in all)")

