"""J4R-Net: Joint Recurrent Rain Removal and Reconstruction Network (Liu et al., CVPR 2018).

The paper's *hybrid rain model* says a rainy frame is ``O = (1 - alpha)(B + S) + alpha * A``:
where ``alpha = 0`` rain only adds streaks ``S`` that can be *erased* (``B = O - S``); where
``alpha = 1`` rain hides the background completely and it must be *filled* from other frames.
The network therefore has, per frame ``t`` (names as in the paper):

- ``first_conv`` + ``extractor`` (a conv then residual units) -> spatial features ``F_t``;
- **D-Net**: degradation classification from ``F_t`` and the memory ``H_{t-1}`` -> 2-class
  logits ``f^d_t`` for ``alpha_t`` (class 1 = occluded);
- **F-Net**: a convolutional GRU whose update gate ``z`` (sigmoid) and read gate ``r`` (ReLU, as in
  the paper) also see ``f^d_t`` (the ``V_z``, ``V_r`` terms); candidate
  ``tanh(W_h F_t + U_h (r * H_{t-1}))``; ``H_t = (1 - z) H_{t-1} + z H~_t``;
- **R-Net**: streak estimate ``S^_t`` from ``F_t`` (removal: ``B^_rm = O_t - S^_t``);
- **C-Net**: reconstruction of occluded detail from the temporal memory ``H_t``
  (``B^_c = O_t + C(H_t, F_t)``);
- **JRC-Net**: joint fusion. The erase/fill decision is explicit:
  ``B^_t = (1 - p_t) B^_rm + p_t B^_c + JRC(...)``, with ``p_t = softmax(f^d_t)[1]``
  and a residual refinement from the R-Net and C-Net features plus a skip from the first conv.

Choices where the paper is silent (see docs/j4rnet.md): RGB instead of luminance only, a causal
recurrence over time (so a video streams chunk by chunk with the state carried over, and chunked
equals whole), widths sized for CPU training. Frames need not be a multiple of anything: every
layer is a stride-1 3x3 conv.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from derain.models.blocks import ResBlock, conv3x3


def _two_convs(in_ch: int, out_ch: int) -> nn.Sequential:
    return nn.Sequential(
        conv3x3(in_ch, out_ch), nn.ReLU(inplace=True), conv3x3(out_ch, out_ch), nn.ReLU(inplace=True)
    )


class J4RNet(nn.Module):
    """Joint recurrent rain removal (R-Net) and reconstruction (C-Net) with degradation classes (D-Net).

    Args:
        channels: width of every feature map (the released model used 64; 32 trains on a CPU).
        extractor_blocks: residual units in the per-frame feature extractor (the release used 4).
        single_frame: run only the single-frame path (first conv, extractor, R-Net): the stage-1
            model of the paper's two-stage training, kept as a baseline.

    Shape:
        - Input: rainy clip ``(N, T, 3, H, W)`` in [0, 1], any ``H, W``.
        - Output: dict with ``clean`` ``(N, T, 3, H, W)`` (B^, unclamped), ``streak``
          ``(N, T, 3, H, W)`` (S^), ``alpha_logits`` ``(N, T, 2, H, W)`` and ``state`` (the GRU memory
          ``H_T``, ``(N, channels, H, W)``) to pass to the next chunk.
    """

    arch = "j4rnet"
    #: Largest frame area the engine runs untiled: full-resolution 32-channel features cost ~1 KB/pixel.
    max_tile_pixels = 1_000_000

    def __init__(self, *, channels: int = 32, extractor_blocks: int = 4, single_frame: bool = False) -> None:
        super().__init__()
        c = channels
        self.config = {
            "channels": channels,
            "extractor_blocks": extractor_blocks,
            "single_frame": single_frame,
        }
        self.single_frame = single_frame
        self.channels = c
        # Spatial features F_t.
        self.first_conv = conv3x3(3, c)
        self.extractor = nn.Sequential(*[ResBlock(c) for _ in range(extractor_blocks)])
        # R-Net: streaks from spatial appearance; rnet_out gives S^.
        self.rnet = _two_convs(c, c)
        self.rnet_out = conv3x3(c, 3)
        # D-Net: degradation classes from F_t and H_{t-1}.
        self.dnet = nn.Sequential(conv3x3(2 * c, c), nn.ReLU(inplace=True))
        self.dnet_out = conv3x3(c, 2)
        # F-Net: one conv over [F_t, H_{t-1}, f^d_t] is exactly W F + U H + V f^d for both gates.
        self.fnet_gates = conv3x3(2 * c + 2, 2 * c)
        self.fnet_candidate = conv3x3(2 * c, c)
        # C-Net: background detail from the memory (and the current features for alignment).
        self.cnet = _two_convs(2 * c, c)
        self.cnet_out = conv3x3(c, 3)
        # JRC-Net: fuse both branches; the first-conv skip keeps fine detail.
        self.jrc = _two_convs(2 * c + 1, c)
        self.jrc_out = conv3x3(c, 3)
        nn.init.zeros_(self.jrc_out.weight)
        nn.init.zeros_(self.jrc_out.bias)

    # -- parts ---------------------------------------------------------------------------------
    def _features(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f0 = F.relu(self.first_conv(frames))
        return f0, self.extractor(f0)

    def _removal(self, feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        r_feat = self.rnet(feats)
        return r_feat, self.rnet_out(r_feat)

    def stage1_parameters(self) -> list[nn.Parameter]:
        """Parameters trained by the single-frame pre-training stage (first conv, extractor, R-Net)."""
        mods = [self.first_conv, self.extractor, self.rnet, self.rnet_out]
        return [p for m in mods for p in m.parameters()]

    def forward_single(self, frames: torch.Tensor) -> dict[str, torch.Tensor]:
        """Single-frame rain removal (stage-1 pre-training and the single-frame baseline).

        Shape:
            ``(N, 3, H, W)`` -> dict ``clean`` = ``O - S^`` and ``streak`` = ``S^``, both ``(N, 3, H, W)``.
        """
        _, feats = self._features(frames)
        _, streak = self._removal(feats)
        return {"clean": frames - streak, "streak": streak}

    # -- the recurrent network -----------------------------------------------------------------
    def init_state(self, like: torch.Tensor) -> torch.Tensor:
        """Zero memory ``H_0`` for a clip shaped like ``like`` ``(N, T, 3, H, W)``."""
        n, _, _, h, w = like.shape
        return like.new_zeros(n, self.channels, h, w, dtype=torch.float32)

    def forward(
        self, clip: torch.Tensor, state: torch.Tensor | None = None, *, single_frame: bool | None = None
    ) -> dict[str, torch.Tensor]:
        """Run the recurrence over ``clip``; ``single_frame=True`` (default: the constructor's choice)
        runs :meth:`forward_single` on every frame instead (a keyword so that DDP wraps both)."""
        if self.single_frame if single_frame is None else single_frame:
            out = self.forward_single(clip.flatten(0, 1))
            return {**{k: v.reshape(clip.shape) for k, v in out.items()}, "state": state}
        if clip.dim() != 5 or clip.shape[2] != 3:
            raise ValueError(f"J4RNet expects (N, T, 3, H, W), got {tuple(clip.shape)}")
        n, t, _, h, w = clip.shape
        frames = clip.reshape(n * t, 3, h, w)
        # Everything that does not depend on the memory runs batched over all T frames.
        f0, feats = self._features(frames)
        r_feat, streak = self._removal(feats)
        feats_t = feats.reshape(n, t, *feats.shape[1:])

        hidden = self.init_state(clip) if state is None else state
        memories, logits = [], []
        for i in range(t):
            f_t = feats_t[:, i]
            h_prev = hidden.to(f_t.dtype)
            d_logits = self.dnet_out(self.dnet(torch.cat([f_t, h_prev], 1)))
            z, r = self.fnet_gates(torch.cat([f_t, h_prev, d_logits], 1)).chunk(2, dim=1)
            z, r = torch.sigmoid(z), F.relu(r)
            candidate = torch.tanh(self.fnet_candidate(torch.cat([f_t, r * h_prev], 1)))
            # Keep the memory in fp32 between steps: under bf16 autocast, rounding would accumulate.
            hidden = ((1 - z) * h_prev + z * candidate).float()
            memories.append(hidden)
            logits.append(d_logits)

        memory = torch.stack(memories, 1).reshape(n * t, self.channels, h, w).to(feats.dtype)
        alpha_logits = torch.stack(logits, 1).reshape(n * t, 2, h, w)
        c_feat = self.cnet(torch.cat([memory, feats], 1))
        rect = frames + self.cnet_out(c_feat)
        p_occ = torch.softmax(alpha_logits.float(), dim=1)[:, 1:2]
        removal = frames - streak
        joint_feat = self.jrc(torch.cat([r_feat + f0, c_feat, p_occ.to(r_feat.dtype)], 1))
        clean = (1 - p_occ) * removal + p_occ * rect + self.jrc_out(joint_feat)

        def unflat(x: torch.Tensor) -> torch.Tensor:
            return x.reshape(n, t, *x.shape[1:])

        return {
            "clean": unflat(clean),
            "streak": unflat(streak),
            "alpha_logits": unflat(alpha_logits),
            "reconstruction": unflat(rect),
            "state": hidden,
        }

    # -- streaming protocol used by derain.inference -------------------------------------------
    delay = 0

    def stream_init(self) -> dict:
        return {"hidden": None}

    def stream_push(self, clip: torch.Tensor, state: dict) -> tuple[torch.Tensor, dict]:
        """Derain the next chunk ``(N, t, 3, H, W)``; returns its ``t`` outputs (causal: no delay)."""
        out = self.forward(clip, state["hidden"])
        return out["clean"], {"hidden": out["state"]}

    def stream_flush(self, state: dict) -> torch.Tensor | None:
        return None
