"""Continual learning over rain types: knowledge distillation from the previous model + rain review.

RRGNet learns rain types one after another (task k = one preset of the synthesizer) and must not
forget the earlier ones. Two mechanisms, both from the paper's abstract, plug into the generic
trainer through one objective, :class:`ContinualObjective`:

- **Teacher**: the model as it was after task k-1, frozen (no gradients, eval mode). A
  distillation loss keeps the student's outputs close to the teacher's on replayed inputs (where
  the teacher is right) and, with a smaller weight, on the new task's inputs.
- **Rain review** (:class:`RainReview`): a bounded memory of old tasks' samples, filled by
  reservoir sampling while each task trains and rebalanced to equal shares when a new task
  starts. It stores the *rain layers* (S, alpha, A) rather than rainy frames, and replays them
  re-composited with the hybrid model onto the current batch's clean backgrounds:
  ``O' = (1 - alpha)(B_new + S) + alpha A``. Old rain on new scenes gives more variety per byte
  than replaying old frames; ``mode="stored"`` replays the stored frames as they were instead.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from derain.train.losses import centre_frames, charbonnier

#: What the review keeps of each sample (``mode="recomposite"`` needs the rain layers only).
_LAYER_KEYS = {"recomposite": ("streak", "alpha", "reliance"), "stored": ("rainy", "clean")}


class RainReview:
    """A bounded replay memory of old tasks' samples with equal shares per task.

    Args:
        budget: the most samples held in total, over all old tasks (each sample is one clip).
        mode: ``"recomposite"`` (old rain layers on new backgrounds) or ``"stored"``.
        seed: for reservoir sampling and replay draws.
    """

    def __init__(self, *, budget: int, mode: str = "recomposite", seed: int = 0) -> None:
        if budget < 1:
            raise ValueError("the review budget must be at least one sample")
        if mode not in _LAYER_KEYS:
            raise ValueError(f"unknown review mode {mode!r}: {sorted(_LAYER_KEYS)}")
        self.budget, self.mode = budget, mode
        self.gen = torch.Generator().manual_seed(seed)
        self.tasks: dict[str, list[dict[str, torch.Tensor]]] = {}
        self.seen: dict[str, int] = {}
        self.current: str | None = None

    def __len__(self) -> int:
        return sum(len(v) for v in self.tasks.values())

    def _share(self) -> int:
        return max(1, self.budget // max(1, len(self.tasks)))

    def start_task(self, name: str) -> None:
        """Begin collecting ``name``; shrink every task's share so the total stays within budget."""
        self.current = name
        self.tasks.setdefault(name, [])
        self.seen.setdefault(name, 0)
        share = self._share()
        for items in self.tasks.values():
            while len(items) > share:
                items.pop(int(torch.randint(len(items), (1,), generator=self.gen)))

    def offer(self, batch: dict[str, torch.Tensor]) -> None:
        """Reservoir-sample the samples of ``batch`` into the current task's share."""
        if self.current is None:
            return
        items, share = self.tasks[self.current], self._share()
        keys = _LAYER_KEYS[self.mode]
        n = batch[keys[0]].shape[0]
        for i in range(n):
            self.seen[self.current] += 1
            # Half precision on the CPU: the memory bound is on samples, but bytes matter too.
            sample = {k: batch[k][i].detach().to("cpu", torch.float16) for k in keys}
            if len(items) < share:
                items.append(sample)
            else:
                j = int(torch.randint(self.seen[self.current], (1,), generator=self.gen))
                if j < share:
                    items[j] = sample

    def state_dict(self) -> dict:
        return {"tasks": self.tasks, "seen": self.seen, "current": self.current, "gen": self.gen.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.tasks, self.seen, self.current = state["tasks"], state["seen"], state["current"]
        self.gen.set_state(state["gen"])

    def old_tasks(self) -> list[str]:
        return [k for k, v in self.tasks.items() if k != self.current and v]

    def draw(self, count: int, clean: torch.Tensor) -> dict[str, torch.Tensor] | None:
        """``count`` replay samples spread evenly over old tasks, as a batch like the trainer's.

        ``clean`` ``(N, T, 3, h, w)``: new backgrounds for re-compositing (cycled if fewer).
        """
        old = self.old_tasks()
        if not old or count < 1:
            return None
        picks = []
        for i in range(count):
            items = self.tasks[old[i % len(old)]]
            picks.append(items[int(torch.randint(len(items), (1,), generator=self.gen))])
        dev, dtype = clean.device, clean.dtype
        # Stored in float16: widen each sample before stacking (CPU autocast refuses half tensors).
        stacked = {k: torch.stack([p[k].to(dev, dtype) for p in picks]) for k in picks[0]}
        if self.mode == "stored":
            return {"rainy": stacked["rainy"], "clean": stacked["clean"]}
        background = clean[torch.arange(count, device=dev) % clean.shape[0]]
        alpha = stacked["alpha"]
        # Streaks saturate at white on the new background as the synthesizer's do.
        streak = torch.minimum(stacked["streak"], 1 - background).clamp_min(0)
        rainy = (1 - alpha) * (background + streak) + alpha * stacked["reliance"]
        return {"rainy": rainy, "clean": background}


def freeze_teacher(model: nn.Module) -> nn.Module:
    """A frozen copy of ``model``: eval mode, no gradients, never updated by the optimizer."""
    teacher = copy.deepcopy(model).eval()
    teacher.requires_grad_(False)
    return teacher


@dataclass
class ContinualObjective:
    """Task loss on new data + replay loss + output distillation from the frozen teacher.

    ``loss = L(s(x), B) + w_replay L(s(x_r), B_r) + w_kd_old |s(x_r) - t(x_r)| + w_kd_new |s(x) - t(x)|``
    where ``s`` is the student, ``t`` the teacher, ``x`` the new task's rainy clips and ``x_r`` the
    review's replayed clips; ``L`` is the Charbonnier restoration loss on the centre frames.
    With ``teacher=None`` and ``review=None`` it is plain fine-tuning.
    """

    teacher: nn.Module | None = None
    review: RainReview | None = None
    replay_fraction: float = 0.5  # replayed clips per new clip in a batch
    w_replay: float = 1.0
    w_kd_old: float = 1.0
    w_kd_new: float = 0.1

    def __call__(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict]:
        rainy, clean = batch["rainy"], batch["clean"]
        pred = model(rainy, pad=False)
        n_out = pred.shape[1]
        loss = charbonnier(pred, centre_frames(clean, n_out))
        logs = {"task": loss.item()}
        replay = None
        if self.review is not None:
            count = max(1, round(self.replay_fraction * rainy.shape[0]))
            replay = self.review.draw(count, clean)
            self.review.offer(batch)
        if replay is not None:
            pred_r = model(replay["rainy"], pad=False)
            l_replay = charbonnier(pred_r, centre_frames(replay["clean"], n_out))
            loss = loss + self.w_replay * l_replay
            logs["replay"] = l_replay.item()
        if self.teacher is not None:
            with torch.no_grad():
                t_new = self.teacher(rainy, pad=False)
            l_kd = self.w_kd_new * charbonnier(pred, t_new)
            if replay is not None:
                with torch.no_grad():
                    t_old = self.teacher(replay["rainy"], pad=False)
                l_kd = l_kd + self.w_kd_old * charbonnier(pred_r, t_old)
            loss = loss + l_kd
            logs["distill"] = l_kd.item()
        return loss, logs

    def predict(self, model: nn.Module, rainy: torch.Tensor) -> torch.Tensor:
        return model(rainy, pad=True)
