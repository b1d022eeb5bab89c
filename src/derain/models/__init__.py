"""Models and their weights.

``ARCHITECTURES`` maps an architecture name to its class (explicit: no import-by-string).
Shipped weights live in ``derain/weights/<name>.safetensors`` with the architecture and its
config in the safetensors metadata, so a weight file alone rebuilds its model, offline.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import torch
from torch import nn

from derain.errors import DerainError
from derain.models.j4rnet import J4RNet
from derain.models.rrgnet import RRGNet

ARCHITECTURES: dict[str, type[nn.Module]] = {"j4rnet": J4RNet, "rrgnet": RRGNet}

#: The model a user gets without choosing: the general, fast one.
DEFAULT_MODEL = "rrgnet"


# Constructor options whose default changed after weights were saved without them: a saved config
# that lacks the key was trained with this value. (RRGNet's context layer became its default once
# the full continual run showed it forgets less; docs/rrgnet.md.)
_SAVED_BEFORE_OPTION = {"rrgnet": {"context": False}}


def saved_config(arch: str, config: dict) -> dict:
    """Constructor keywords for a *saved* model's ``config``, filling options it predates."""
    return {**_SAVED_BEFORE_OPTION.get(arch, {}), **config}


def config_flag(arch: str, saved: dict, current: dict) -> str:
    """The ``--config`` that rebuilds a saved model where it differs from ``current`` (``""`` if not).

    ``saved``: the model config a checkpoint or weight file records; ``current``: e.g. a fresh
    model's ``config`` (today's defaults).
    """
    differ = {k: v for k, v in saved_config(arch, saved).items() if current.get(k) != v}
    return ("--config " + ",".join(f"{k}={json.dumps(v)}" for k, v in differ.items())) if differ else ""


def build_model(arch: str, **config) -> nn.Module:
    """A fresh model of architecture ``arch`` with constructor keywords ``config``."""
    if arch not in ARCHITECTURES:
        raise DerainError(f"unknown architecture {arch!r}: choose one of {', '.join(sorted(ARCHITECTURES))}")
    return ARCHITECTURES[arch](**config)


def shipped_weights() -> dict[str, Path]:
    """Names of the weights shipped inside the package -> their files."""
    folder = resources.files("derain") / "weights"
    out = {}
    for entry in folder.iterdir():
        if entry.name.endswith(".safetensors"):
            out[entry.name.removesuffix(".safetensors")] = Path(str(entry))
    return out


def save_weights(model: nn.Module, path: str | Path, *, extra: dict | None = None) -> Path:
    """Write ``model``'s weights as safetensors (fp32) with ``arch``/``config`` metadata."""
    from safetensors.torch import save_file

    meta = {"arch": model.arch, "config": json.dumps(model.config)}
    if extra:
        meta["extra"] = json.dumps(extra)
    state = {k: v.detach().float().contiguous().cpu() for k, v in model.state_dict().items()}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    save_file(state, str(tmp), metadata=meta)
    tmp.replace(path)
    return path


def _load_safetensors(path: Path) -> nn.Module:
    from safetensors import safe_open
    from safetensors.torch import load_file

    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
        state = load_file(str(path))
    except Exception as exc:  # safetensors raises several types for a damaged file
        raise DerainError(f"cannot read weights {path}: {exc}") from exc
    if "arch" not in meta:
        raise DerainError(f"{path} has no 'arch' metadata: not a derain weight file")
    model = build_model(meta["arch"], **saved_config(meta["arch"], json.loads(meta.get("config", "{}"))))
    _load_state(model, state, path)
    return model


def _load_state(model: nn.Module, state: dict, path: Path) -> None:
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise DerainError(f"{path} does not match architecture {model.arch!r}: {first}") from exc


def _load_checkpoint(path: Path) -> nn.Module:
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:
        raise DerainError(f"cannot read checkpoint {path}: {exc}") from exc
    if not isinstance(ckpt, dict) or "arch" not in ckpt or "model" not in ckpt:
        raise DerainError(f"{path} is not a derain training checkpoint (no 'arch'/'model' entries)")
    model = build_model(ckpt["arch"], **saved_config(ckpt["arch"], ckpt.get("model_config", {})))
    _load_state(model, ckpt["model"], path)
    return model


def load_model(name: str | Path = DEFAULT_MODEL, *, device: str | torch.device = "cpu") -> nn.Module:
    """A ready-to-run model (eval mode) by shipped name (``"rrgnet"``, ``"j4rnet"``) or file path.

    Files may be ``.safetensors`` exported weights or ``.pt`` training checkpoints. Nothing is
    downloaded: shipped weights are inside the package.
    """
    shipped = shipped_weights()
    key = str(name)
    if key in shipped:
        model = _load_safetensors(shipped[key])
    else:
        path = Path(key).expanduser()
        if not path.exists():
            known = ", ".join(sorted(shipped)) or "none"
            if path.suffix in (".pt", ".pth", ".safetensors") or "/" in key:
                raise DerainError(f"model file not found: {key}")
            raise DerainError(f"unknown model {key!r}: shipped models are {known}, or give a checkpoint path")
        model = _load_safetensors(path) if path.suffix == ".safetensors" else _load_checkpoint(path)
    return model.to(torch.device(device) if isinstance(device, str) else device).eval()


__all__ = [
    "ARCHITECTURES",
    "DEFAULT_MODEL",
    "J4RNet",
    "RRGNet",
    "build_model",
    "config_flag",
    "load_model",
    "save_weights",
    "saved_config",
    "shipped_weights",
]
