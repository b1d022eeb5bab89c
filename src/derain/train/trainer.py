"""A generic training loop: any model, any objective, checkpoints that resume exactly.

The trainer knows nothing about a particular model. It takes an ``objective(model, batch) ->
(loss, logs)`` (see :mod:`derain.train.losses`), an iterable dataset or map-style dataset of
batches' items, and a :class:`TrainConfig`. It owns the things every run needs:

- Adam with the learning rate held, then decaying log-linearly from ``lr`` to ``lr_min`` (the
  J4R-Net paper decays 1e-3 -> 1e-5), gradient clipping;
- bf16 autocast + channels_last on capable CPUs, fp16/bf16 autocast on CUDA (``precision``);
- a CSV log (``log.csv``), a training-curve PNG (``curve.png``), validation PSNR-Y every
  ``val_every`` steps on a fixed validation set;
- checkpoints (``last.pt`` every ``ckpt_every`` steps and at the end; ``best.pt`` by validation
  PSNR) that carry the model's architecture and config, the resolved training config, optimizer,
  step and RNG state, so ``resume`` continues exactly where a run stopped;
- torch.distributed (DDP) when launched by torchrun: rank 0 logs and checkpoints.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from derain import runtime
from derain.errors import DerainError
from derain.models import config_flag
from derain.train import distributed as dist_utils

Objective = Callable[[nn.Module, dict[str, torch.Tensor]], tuple[torch.Tensor, dict]]


@dataclasses.dataclass
class TrainConfig:
    """Everything that defines a run; stored resolved inside every checkpoint."""

    out_dir: str
    steps: int = 1000
    batch_size: int = 8
    lr: float = 1e-3
    lr_min: float = 1e-5
    decay_start: float = 0.3  # fraction of the run at the full lr before the decay begins
    grad_clip: float = 1.0
    weight_decay: float = 0.0
    device: str = "auto"
    precision: str = "auto"
    seed: int = 0
    num_workers: int = 1
    log_every: int = 25
    val_every: int = 500
    ckpt_every: int = 250
    threads: int | None = None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def lr_at(step: int, cfg: TrainConfig) -> float:
    """``cfg.lr`` for the first ``decay_start`` of the run, then log-linear decay to ``cfg.lr_min``.

    The paper decays 1e-3 -> 1e-5 over hundreds of epochs; our CPU runs are short, and decaying
    from the first step starves them (measured: RRGNet gained 0.2 dB in 300 steps with an immediate
    decay, 5.4 dB at a constant 1e-3), so the decay starts part-way.
    """
    if cfg.steps <= 1 or cfg.lr_min >= cfg.lr:
        return cfg.lr
    start = cfg.decay_start * (cfg.steps - 1)
    frac = max(0.0, (step - start) / max(1e-9, cfg.steps - 1 - start))
    return cfg.lr * math.exp(min(1.0, frac) * math.log(cfg.lr_min / cfg.lr))


def _batches(loader: DataLoader, sampler, start_step: int) -> Iterator[dict]:
    """Endless batches; on resume, continue in the epoch and at the batch where the run stopped."""
    per_epoch = len(loader)
    epoch, offset = divmod(start_step, per_epoch)
    while True:
        sampler.set_epoch(epoch)
        sampler.skip_samples(offset * loader.batch_size)
        yield from loader
        epoch, offset = epoch + 1, 0


def _config_hint(model: nn.Module, ckpt: dict) -> str:
    flag = config_flag(ckpt.get("arch", ""), ckpt.get("model_config", {}), getattr(model, "config", {}))
    return f"it was trained with {flag}" if flag else "its weights do not match the architecture"


class Trainer:
    """Trains ``model`` on ``dataset`` with ``objective``; see the module docstring.

    Args:
        model: an ``nn.Module`` with ``arch`` and ``config`` attributes (so checkpoints rebuild it).
        objective: ``(model, batch) -> (loss, logs)``.
        dataset: a map-style dataset of dict items (collated into batches).
        config: the run's :class:`TrainConfig`.
        params: the parameters to optimise (default: all that require grad). To train a subset
            (J4R-Net's stage 1) freeze the rest with ``requires_grad_(False)`` so DDP agrees.
        validate: ``model -> {"psnr": float, ...}``, called every ``val_every`` steps.
        extra_state: JSON-able info stored in the checkpoint (e.g. the data description).
    """

    def __init__(
        self,
        *,
        model: nn.Module,
        objective: Objective,
        dataset: Dataset,
        config: TrainConfig,
        params: list[nn.Parameter] | None = None,
        validate: Callable[[nn.Module], dict] | None = None,
        extra_state: dict | None = None,
    ) -> None:
        self.cfg = config
        self.dist = dist_utils.setup()
        self.device = dist_utils.device_for_rank(self.dist, config.device)
        if self.device.type == "cpu":
            runtime.set_cpu_threads(config.threads)
        self.precision = runtime.resolve_precision(config.precision, self.device)
        torch.manual_seed(config.seed)
        self.model = runtime.prepare_model(model, self.device)
        self.ddp_model = dist_utils.wrap(self.model, self.dist, self.device)
        self.objective = objective
        self.validate = validate
        self.extra_state = extra_state or {}
        trainable = params if params is not None else [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.Adam(trainable, lr=config.lr, weight_decay=config.weight_decay)
        self.sampler = dist_utils.sampler(dataset, self.dist, seed=config.seed)
        self.loader = DataLoader(
            dataset,
            batch_size=dist_utils.local_batch_size(config.batch_size, self.dist),
            sampler=self.sampler,
            num_workers=config.num_workers,
            persistent_workers=config.num_workers > 0,
            drop_last=True,
            worker_init_fn=_worker_init,
        )
        self.step = 0
        self.best_psnr = -math.inf
        self.out_dir = Path(config.out_dir)
        self.wall_time = 0.0  # accumulated over resumed sessions, for the model card
        self.history: list[dict] = []

    # -- checkpoints ---------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {
            "arch": getattr(self.model, "arch", type(self.model).__name__),
            "model_config": getattr(self.model, "config", {}),
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "step": self.step,
            "best_psnr": self.best_psnr,
            "wall_time": self.wall_time,
            "train_config": self.cfg.to_dict(),
            "precision": self.precision,
            "extra": self.extra_state,
            "rng": torch.get_rng_state(),
            "history": self.history,
        }

    def save(self, name: str) -> Path:
        path = self.out_dir / name
        if self.dist.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            torch.save(self.state_dict(), tmp)
            tmp.replace(path)  # never leave a half-written checkpoint under the real name
        return path

    def load(self, path: str | Path, *, weights_only: bool = False) -> dict:
        """Restore a checkpoint; ``weights_only`` takes the model weights and starts a new schedule.

        Returns the checkpoint's ``train_config`` (what the restored run was trained with).
        """
        ckpt = torch.load(path, map_location=self.device, weights_only=False)
        # Missing keys are fine only when taking weights as an initialisation (J4R-Net stage 2 from
        # the single-frame stage, RRGNet's zero-initialised context layer from a plain model).
        missing, unexpected = self.model.load_state_dict(ckpt["model"], strict=False)
        if unexpected or (missing and not weights_only):
            raise DerainError(f"{path} does not fit this model ({_config_hint(self.model, ckpt)})")
        if weights_only:
            return ckpt.get("train_config", {})
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.step = ckpt["step"]
        self.best_psnr = ckpt.get("best_psnr", -math.inf)
        self.wall_time = ckpt.get("wall_time", 0.0)
        self.history = ckpt.get("history", [])
        torch.set_rng_state(ckpt["rng"].cpu())
        return ckpt.get("train_config", {})

    # -- the loop ------------------------------------------------------------------------------
    def fit(self) -> dict:
        cfg = self.cfg
        batches = _batches(self.loader, self.sampler, self.step)
        log_path = self.out_dir / "log.csv"
        if self.dist.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            (self.out_dir / "config.json").write_text(json.dumps(self._describe(), indent=2))
        self.model.train()
        running: dict[str, float] = {}
        count, t_window, seen = 0, time.perf_counter(), 0
        while self.step < cfg.steps:
            t0 = time.perf_counter()
            batch = {
                k: v.to(self.device, non_blocking=True)
                for k, v in next(batches).items()
                if isinstance(v, torch.Tensor)
            }
            for group in self.optimizer.param_groups:
                group["lr"] = lr_at(self.step, cfg)
            with runtime.autocast(self.device, self.precision):
                loss, logs = self.objective(self.ddp_model, batch)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
            self.optimizer.step()
            self.step += 1
            self.wall_time += time.perf_counter() - t0
            seen += batch["rainy"].shape[0]
            for k, v in {"loss": loss.item(), **logs}.items():
                running[k] = running.get(k, 0.0) + v
            count += 1
            if self.step % cfg.log_every == 0 or self.step == cfg.steps:
                elapsed = time.perf_counter() - t_window
                row = {
                    "step": self.step,
                    "lr": lr_at(self.step - 1, cfg),
                    **{k: v / count for k, v in running.items()},
                    "samples_per_s": seen * self.dist.world_size / max(elapsed, 1e-9),
                    "wall_time": self.wall_time,
                }
                if self.validate is not None and (self.step % cfg.val_every == 0 or self.step == cfg.steps):
                    row.update({f"val_{k}": v for k, v in self._run_validation().items()})
                self._log(log_path, row)
                running, count, t_window, seen = {}, 0, time.perf_counter(), 0
            if self.step % cfg.ckpt_every == 0 or self.step == cfg.steps:
                self.save("last.pt")
        self._record_ranks()
        if self.dist.is_main:
            from derain.train.plots import plot_training_curve

            plot_training_curve(log_path, self.out_dir / "curve.png")
        return self.history[-1] if self.history else {}

    def _record_ranks(self) -> None:
        """Under torchrun, write every rank's parameter checksum to ``ranks.json`` (they must agree)."""
        if not self.dist.enabled:
            return
        checksum = float(sum(p.detach().double().sum() for p in self.model.parameters()))
        rows = dist_utils.all_gather_objects(
            {"rank": self.dist.rank, "param_sum": checksum, "step": self.step}
        )
        if self.dist.is_main:
            (self.out_dir / "ranks.json").write_text(json.dumps(rows, indent=2))

    def _run_validation(self) -> dict:
        self.model.eval()
        with torch.no_grad(), runtime.autocast(self.device, self.precision):
            result = self.validate(self.model)
        self.model.train()
        if result.get("psnr", -math.inf) > self.best_psnr:
            self.best_psnr = result["psnr"]
            self.save("best.pt")
        return result

    def _log(self, path: Path, row: dict) -> None:
        self.history.append(row)
        if not self.dist.is_main:
            return
        fields = list(dict.fromkeys(k for r in self.history for k in r))
        with open(path, "w", newline="") as fh:  # rewritten whole: new columns may appear (val_*)
            writer = csv.DictWriter(fh, fieldnames=fields)
            writer.writeheader()
            writer.writerows(self.history)
        shown = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items())
        print(shown, flush=True)

    def _describe(self) -> dict:
        return {
            "arch": getattr(self.model, "arch", type(self.model).__name__),
            "model_config": getattr(self.model, "config", {}),
            "train_config": self.cfg.to_dict(),
            "precision": self.precision,
            "device": str(self.device),
            "world_size": self.dist.world_size,
            "extra": self.extra_state,
        }


def _worker_init(worker_id: int) -> None:
    # One thread per data worker: the main process owns the cores for the convolutions.
    torch.set_num_threads(1)
