"""The short-training proxy: train an architecture briefly, report validation top-1.

Recipe (for binary networks, after the ReActNet / Bi-Real references, shortened):

* Adam (betas 0.9, 0.999), one-cycle learning rate (25% warm-up from lr/25 to ``lr`` = 1e-2,
  cosine decay to lr/1000), batch 32 (the fidelity's), cross-entropy;
* weight decay only on full-precision conv and classifier weights (5e-6); none on binary
  latent weights (they only carry a sign), BN, PReLU or biases;
* horizontal flips; random crops (``crop_pad``) are off by default, as two epochs are too
  short to profit from them (binarized MobileNet-Sp, 5,000 images: 35.9% with flips only,
  34.0% with 4-pixel crops too); validation on a stratified split held out of the training
  set, never on the test split.

A NaN or infinite loss ends the evaluation with ``diverged=True`` instead of raising, so a
search survives it. A per-epoch callback receives the validation top-1 and may ask to stop
(the search's pruner).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from search_space import ArchConfig, BinaryConv2d, BuildOptions, build_model
from search_space.arch import WIDTH_RANGE

from ..data.loader import ProxyData
from ..data.runtime import channels_last as uses_channels_last
from ..data.runtime import keep_freed_memory, machine_tag, select_device
from .fidelity import Fidelity

__all__ = ["ProxyResult", "TrainRecipe", "evaluate", "param_groups", "proxy_arch", "run_identity"]

EpochCallback = Callable[[int, float, float], bool]


@dataclass(frozen=True)
class TrainRecipe:
    lr: float = 1e-2
    weight_decay: float = 5e-6
    warmup: float = 0.25
    label_smoothing: float = 0.0
    eval_batch_size: int = 500
    crop_pad: int = 0


@dataclass
class ProxyResult:
    arch: str
    fidelity: str
    seed: int
    val_top1: float
    val_loss: float
    epochs_done: int
    seconds: float
    images_per_s: float
    diverged: bool = False
    pruned: bool = False
    history: list[dict] = field(default_factory=list)
    device: str = "cpu"
    sotl_e: float = float("nan")  # sum of the training losses over the last epoch run (SoTL-E)
    test_top1: float | None = None  # top-1 on the test split, when the data holds one
    machine: str = ""  # where it trained (proxies.machine_tag); "A, then B" for a run resumed elsewhere

    def to_dict(self) -> dict:
        return asdict(self)


def proxy_arch(arch: ArchConfig, fidelity: Fidelity) -> ArchConfig:
    """The architecture trained by the proxy: ``arch`` with its width scaled."""
    if fidelity.width_scale == 1.0:
        return arch
    width = round(arch.width * fidelity.width_scale, 2)
    if not WIDTH_RANGE[0] <= width <= WIDTH_RANGE[1]:
        raise ValueError(
            f"width_scale: {fidelity.width_scale:g} turns width {arch.width:g} into {width:g}, outside"
            f" {WIDTH_RANGE[0]}..{WIDTH_RANGE[1]}"
        )
    return ArchConfig(arch.stages, width, arch.depth)


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Adam groups: weight decay on full-precision conv and classifier weights only (none on binary
    latent weights, which only carry a sign, nor on BN, PReLU or biases)."""
    binary, decay, no_decay = [], [], []
    for module in model.modules():
        for name, p in module.named_parameters(recurse=False):
            if isinstance(module, BinaryConv2d) and name == "weight":
                binary.append(p)
            elif isinstance(module, nn.Conv2d | nn.Linear) and name == "weight":
                decay.append(p)
            else:
                no_decay.append(p)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay + binary, "weight_decay": 0.0},
    ]


@torch.no_grad()
def _accuracy(model: nn.Module, batches) -> tuple[float, float]:
    model.eval()
    correct, loss, n = 0, 0.0, 0
    for x, y in batches:
        out = model(x)
        loss += F.cross_entropy(out, y, reduction="sum").item()
        correct += (out.argmax(1) == y).sum().item()
        n += len(y)
    model.train()
    return correct / n, loss / n


def _validate(model: nn.Module, data: ProxyData, device: torch.device, channels_last: bool,
              batch_size: int) -> tuple[float, float]:
    return _accuracy(model, data.val_loader(batch_size, device=device, channels_last=channels_last))


def _top1(model: nn.Module, batches) -> float:
    return _accuracy(model, batches)[0]


def _prepare_device(device: str | None) -> torch.device:
    dev = select_device(device)
    if dev.type == "cpu":
        keep_freed_memory()
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
    return dev


def run_identity(arch: ArchConfig, fidelity: Fidelity, seed: int, recipe: TrainRecipe | None = None,
                 options: BuildOptions | None = None) -> list:
    """What a checkpoint of :func:`evaluate` must match to be resumed: the same run."""
    return [arch.encode(), fidelity.key(), seed, repr(recipe or TrainRecipe()), repr(options)]


def _restore(state: dict, identity: list, model: nn.Module, opt: torch.optim.Optimizer, sched, result: ProxyResult
             ) -> tuple[float, int, int, int, float]:
    """Load a checkpoint ``state`` (of ``evaluate``'s ``on_checkpoint``) into the run; returns its
    (train_time, images, step, epochs done, seconds)."""
    if state.get("identity") != identity:
        raise ValueError(f"resume: the state is of {state.get('identity')}, not of {identity}")
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    sched.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["rng"])  # dropout, when on, draws from it
    if state.get("cuda_rng") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    result.val_top1, result.val_loss, result.sotl_e = state["val_top1"], state["val_loss"], state["sotl_e"]
    result.epochs_done, result.history = state["epoch"], list(state["history"])
    before = state.get("machine", "unrecorded")  # states saved before the tag was kept
    if before != result.machine:
        result.machine = f"{before}, then {result.machine}"
    return state["train_time"], state["images"], state["step"], state["epoch"], state["seconds"]


def evaluate(
    arch: ArchConfig,
    fidelity: Fidelity,
    data: ProxyData,
    seed: int = 0,
    *,
    recipe: TrainRecipe | None = None,
    on_epoch: EpochCallback | None = None,
    device: str | None = None,
    options: BuildOptions | None = None,
    progress: Callable[[int, int, float], None] | None = None,
    on_checkpoint: Callable[[dict], None] | None = None,
    resume: dict | None = None,
) -> ProxyResult:
    """Train ``arch`` at ``fidelity`` on ``data`` and return its validation top-1.

    ``on_epoch(epoch, val_top1, val_loss)`` is called after every epoch; returning True stops
    the evaluation (``pruned=True``). ``progress(step, total_steps, loss)`` is called after
    every training step.

    ``on_checkpoint(state)`` is called after every epoch but the last with everything needed to
    go on (model, optimizer and schedule states, counters, the result so far; save it at once,
    it holds the live tensors); ``resume=state`` goes on from such a state, and ends as the
    uninterrupted run would (each epoch's batches depend only on the seed and the epoch; the
    random number generators are restored). A state of another architecture, fidelity, seed,
    recipe or build options is refused.
    """
    recipe = recipe or TrainRecipe()
    dev = _prepare_device(device)
    channels_last = uses_channels_last(dev)
    if data.image_size != (fidelity.resolution, fidelity.resolution):
        raise ValueError(
            f"fidelity resolution {fidelity.resolution} does not match the data's images"
            f" {data.image_size[0]}x{data.image_size[1]}"
        )
    torch.manual_seed(seed)
    trained = proxy_arch(arch, fidelity)
    model = build_model(trained, data.num_classes, fidelity.resolution, options).to(dev)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    loader = data.train_loader(fidelity.batch_size, seed, device=dev, channels_last=channels_last,
                               pad=recipe.crop_pad)
    steps_per_epoch = len(loader)
    if steps_per_epoch == 0:
        raise ValueError(
            f"train_subset: {len(data.train_y)} images give no full batch of {fidelity.batch_size}"
        )
    total = steps_per_epoch * fidelity.epochs
    opt = torch.optim.Adam(param_groups(model, recipe.weight_decay), lr=recipe.lr)
    # OneCycleLR divides by (warm-up fraction x steps - 1): a warm-up of exactly one step (4 steps in all
    # at the default 25%) would divide by zero, so it gets two
    pct = recipe.warmup if abs(recipe.warmup * total - 1) > 1e-9 else 2 / total
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=recipe.lr, total_steps=total, pct_start=pct,
        div_factor=25.0, final_div_factor=40.0, anneal_strategy="cos",
    )
    result = ProxyResult(arch.encode(), fidelity.key(), seed, float("nan"), float("nan"), 0, 0.0, 0.0,
                         device=str(dev), machine=machine_tag(dev))
    identity = run_identity(arch, fidelity, seed, recipe, options)
    train_time, images, step, first_epoch, before = (0.0, 0, 0, 0, 0.0) if resume is None else \
        _restore(resume, identity, model, opt, sched, result)
    start = time.perf_counter() - before  # seconds count the time spent before the resume too
    model.train()
    for epoch in range(first_epoch, fidelity.epochs):
        t0 = time.perf_counter()
        epoch_loss = 0.0
        for x, y in loader.epoch(epoch):
            loss = F.cross_entropy(model(x), y, label_smoothing=recipe.label_smoothing)
            loss_value = loss.item()
            if not math.isfinite(loss_value):
                result.diverged = True
                break
            epoch_loss += loss_value
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            images += len(y)
            if progress is not None:
                progress(step, total, loss_value)
        train_time += time.perf_counter() - t0
        if result.diverged:
            break
        top1, vloss = _validate(model, data, dev, channels_last, recipe.eval_batch_size)
        if not math.isfinite(vloss):
            result.diverged = True
            break
        result.val_top1, result.val_loss, result.epochs_done = top1, vloss, epoch + 1
        result.sotl_e = epoch_loss
        result.history.append({"epoch": epoch + 1, "val_top1": top1, "val_loss": vloss,
                               "train_loss": epoch_loss / steps_per_epoch,
                               "seconds": time.perf_counter() - start})
        if on_epoch is not None and on_epoch(epoch + 1, top1, vloss) and epoch + 1 < fidelity.epochs:
            result.pruned = True
            break
        if on_checkpoint is not None and epoch + 1 < fidelity.epochs:
            on_checkpoint({"identity": identity, "epoch": epoch + 1, "model": model.state_dict(),
                           "optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "step": step,
                           "images": images, "train_time": train_time, "seconds": time.perf_counter() - start,
                           "val_top1": top1, "val_loss": vloss, "sotl_e": epoch_loss,
                           "history": list(result.history), "rng": torch.get_rng_state(),
                           "machine": result.machine,
                           "cuda_rng": torch.cuda.get_rng_state_all() if dev.type == "cuda" else None})
    if result.diverged:
        result.val_top1, result.val_loss, result.sotl_e = float("nan"), float("nan"), float("nan")
    elif data.test_x is not None and not result.pruned:
        result.test_top1 = _top1(model, data.test_loader(recipe.eval_batch_size, device=dev,
                                                         channels_last=channels_last))
    result.seconds = time.perf_counter() - start
    result.images_per_s = images / train_time if train_time > 0 else 0.0
    return result
