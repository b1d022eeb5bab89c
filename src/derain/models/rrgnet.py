"""RRGNet: a fast frame-grouping encoder-decoder for general video deraining (Cai et al., 2023).

Only the abstract is public, so the layout is ours (see docs/rrgnet.md for the measurements that
chose it). A window of ``window = num_groups + group_size - 1`` frames (5 by default) is split into
overlapping groups of ``group_size`` consecutive frames (triplets) that share one light encoder:

    group g_k = frames (k-1, k, k+1)  --pixel-unshuffle x2--> conv (1/2 res, skip s_k)
                                      --stride-2 conv + residual blocks--> e_k (1/4 res)
    fuse  [e_{t-1}, e_t, e_{t+1}] --1x1 conv + residual blocks (1/4 res)-->
    decode --pixel-shuffle--> + s_t --convs--pixel-shuffle--> residual added to frame t

Why this shape, for CPU speed:
- Almost all FLOPs run at 1/4 resolution, where a 3x3 conv costs 1/16 of a full-resolution one;
  pixel-unshuffle (not pooling) moves detail into channels losslessly, so thin streaks survive.
- Each group is encoded once and reused by the three outputs that need it, so streaming costs one
  group encoding per frame, not three (``stream_push`` keeps the last groups' features).
- Only conv / ReLU / pixel (un)shuffle: fast in oneDNN with channels_last + bf16, and on GPUs.
- It restores the centre frame of each window (not every frame): the encoder cache already
  shares the expensive part between neighbouring outputs, and one output per step keeps the
  decoder small.

At the ends of a clip the frames are replicated (frame -1 := frame 0), both in
:meth:`forward` with ``pad=True`` and in streaming, so streaming equals processing whole.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from derain.models.blocks import ResBlock, conv1x1, conv3x3, crop_to, pad_to_multiple


class RRGNet(nn.Module):
    """Frame-grouping encoder-decoder restoring the centre frame of a temporal window.

    Args:
        width: channels at 1/4 resolution, where most computation happens.
        skip_width: channels at 1/2 resolution (the skip connection).
        encoder_blocks: residual blocks in the shared group encoder.
        fusion_blocks: residual blocks after the group features are fused.
        group_size: frames per group (3 = triplets).
        num_groups: groups per window (3: centred at t-1, t, t+1).
        context: modulate the fused features by their own frame-wide mean (FiLM, zero-initialised,
            so training starts from the plain model). Tells a veil of heavy rain from a naturally
            dark, flat scene, which a ~100-pixel receptive field cannot (docs/rrgnet.md). On by
            default (the shipped weight has it); ``False`` gives the plain layout of the first
            shipped weight. Streaming still equals whole; a tiled frame pools per tile.

    Shape:
        - Input: ``(N, T, 3, H, W)`` in [0, 1], any ``H, W`` (padded internally to a multiple of 4).
        - Output of ``forward(clip, pad=True)``: ``(N, T, 3, H, W)`` (unclamped);
          with ``pad=False``: the ``T - window + 1`` centre frames that have a full window.
    """

    arch = "rrgnet"
    #: Largest frame area the engine runs untiled (4K fits: features live at 1/2 and 1/4 resolution).
    max_tile_pixels = 8_300_000

    def __init__(
        self,
        *,
        width: int = 48,
        skip_width: int = 16,
        encoder_blocks: int = 1,
        fusion_blocks: int = 3,
        group_size: int = 3,
        num_groups: int = 3,
        context: bool = True,
    ) -> None:
        super().__init__()
        if group_size % 2 != 1 or num_groups % 2 != 1:
            raise ValueError("group_size and num_groups must be odd so that windows have a centre frame")
        self.config = {
            "width": width,
            "skip_width": skip_width,
            "encoder_blocks": encoder_blocks,
            "fusion_blocks": fusion_blocks,
            "group_size": group_size,
            "num_groups": num_groups,
            "context": context,
        }
        self.group_size, self.num_groups = group_size, num_groups
        self.window = num_groups + group_size - 1
        self.delay = self.window // 2
        gin = 3 * group_size * 4  # a group's frames after pixel-unshuffle by 2
        # Shared group encoder.
        self.enc_half = conv3x3(gin, skip_width)
        self.enc_down = conv3x3(skip_width, width, stride=2)
        self.enc_blocks = nn.Sequential(*[ResBlock(width) for _ in range(encoder_blocks)])
        # Fusion of the groups' features.
        self.fuse = conv1x1(num_groups * width, width)
        self.fuse_blocks = nn.Sequential(*[ResBlock(width) for _ in range(fusion_blocks)])
        # Decoder with the centre group's skip.
        self.dec_up = conv3x3(width, 4 * skip_width)
        self.dec_half = conv3x3(skip_width, skip_width)
        self.dec_out = conv3x3(skip_width, 3 * 4)
        nn.init.zeros_(self.dec_out.weight)
        nn.init.zeros_(self.dec_out.bias)
        # Frame-wide context, created last so the other layers' initial weights do not depend on it.
        self.film = conv1x1(width, 2 * width) if context else None
        if self.film is not None:
            nn.init.zeros_(self.film.weight)
            nn.init.zeros_(self.film.bias)

    # -- parts ---------------------------------------------------------------------------------
    @staticmethod
    def unshuffle(frames: torch.Tensor) -> torch.Tensor:
        """Pixel-unshuffle by 2, once per frame.

        A group's encoder input is the channel concatenation of its frames' unshuffled tensors (the
        same channel order as ``F.pixel_unshuffle`` of the stacked frames), so each frame is unshuffled
        once and shared by the groups that contain it.

        Shape:
            ``(..., 3, H, W)`` with even ``H, W`` -> ``(..., 12, H/2, W/2)``.
        """
        return F.pixel_unshuffle(frames, 2)

    def encode(self, groups: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Encode groups of unshuffled frames (see :meth:`unshuffle`).

        Shape:
            ``(M, 12 * group_size, H/2, W/2)`` -> skip ``(M, skip_width, H/2, W/2)`` and features
            ``(M, width, H/4, W/4)``.
        """
        skip = F.relu(self.enc_half(groups))
        feats = self.enc_blocks(F.relu(self.enc_down(skip)))
        return skip, feats

    def _groups(self, unshuffled: torch.Tensor) -> torch.Tensor:
        """``(N, T, 12, h, w)`` -> every run of ``group_size`` frames ``(N * (T - g + 1), 12 g, h, w)``."""
        n, t, c, h, w = unshuffled.shape
        num_g = t - self.group_size + 1
        unshuffled = unshuffled.contiguous()
        if num_g == 1:
            return unshuffled.reshape(n, c * t, h, w)  # one group: a view, no unfold copy
        groups = unshuffled.unfold(1, self.group_size, 1).permute(0, 1, 5, 2, 3, 4)
        return groups.reshape(n * num_g, self.group_size * c, h, w)

    def decode(self, feats: list[torch.Tensor], skip: torch.Tensor, centre: torch.Tensor) -> torch.Tensor:
        """Fuse ``num_groups`` group features and restore the centre frame ``(M, 3, H, W)``."""
        # fuse(cat(feats)) as a sum of per-group 1x1 convs: same weights, no channel concat (a
        # strided copy in channels_last).
        weights = self.fuse.weight.split(self.config["width"], dim=1)
        x = F.conv2d(feats[0], weights[0], self.fuse.bias)
        for f, w in zip(feats[1:], weights[1:], strict=True):
            x = x + F.conv2d(f, w)
        x = F.relu(x)
        if self.film is not None:
            gain, shift = self.film(x.mean((2, 3), keepdim=True)).chunk(2, dim=1)
            x = x * (1 + gain) + shift
        x = self.fuse_blocks(x)
        x = F.pixel_shuffle(self.dec_up(x), 2)
        x = F.relu(self.dec_half(F.relu(x + skip)))
        return centre + F.pixel_shuffle(self.dec_out(x), 2)

    # -- whole clips ---------------------------------------------------------------------------
    def forward(self, clip: torch.Tensor, *, pad: bool = True) -> torch.Tensor:
        if clip.dim() != 5 or clip.shape[2] != 3:
            raise ValueError(f"RRGNet expects (N, T, 3, H, W), got {tuple(clip.shape)}")
        clip, size = pad_to_multiple(clip, 4)
        if pad:
            d = self.delay
            clip = torch.cat(
                [clip[:, :1].expand(-1, d, -1, -1, -1), clip, clip[:, -1:].expand(-1, d, -1, -1, -1)], 1
            )
        n, t = clip.shape[:2]
        out_t = t - self.window + 1
        if out_t < 1:
            raise ValueError(f"need at least {self.window} frames without padding, got {t}")
        # One encoding per group, shared by every window that contains it.
        num_g = t - self.group_size + 1
        unshuffled = self.unshuffle(clip.flatten(0, 1)).unflatten(0, (n, t))
        skip, feats = self.encode(self._groups(unshuffled))
        skip = skip.reshape(n, num_g, *skip.shape[1:])
        feats = feats.reshape(n, num_g, *feats.shape[1:])
        half = self.num_groups // 2
        centres = clip[:, self.delay : self.delay + out_t]
        out = self.decode(
            [feats[:, j : j + out_t].flatten(0, 1) for j in range(self.num_groups)],
            skip[:, half : half + out_t].flatten(0, 1),
            centres.flatten(0, 1),
        )
        return crop_to(out.reshape(n, out_t, *out.shape[1:]), size)

    # -- streaming protocol used by derain.inference -------------------------------------------
    def stream_init(self) -> dict:
        # frames / unshuffled: the last group_size-1 (padded) input frames, raw and unshuffled, as
        # lists (appending costs nothing; re-concatenating full frames every step would);
        # groups: cached (skip, feats, centre frame) of the groups not yet fully used.
        return {"frames": [], "unshuffled": [], "groups": [], "size": None, "started": False}

    def _push_padded(self, frames: torch.Tensor, state: dict) -> torch.Tensor | None:
        """Add already padded frames ``(N, t, 3, H, W)``; return outputs that became computable."""
        raw, unshuffled, g = state["frames"], state["unshuffled"], self.group_size
        new = self.unshuffle(frames)
        # Store each frame as the encoder's conv will read it (the autocast dtype, channels_last), so
        # a group is one concatenation instead of a concatenation plus two full-size conversions
        # (measured: the conversions were 10% of a 360p step).
        kind = new.device.type
        dtype = torch.get_autocast_dtype(kind) if torch.is_autocast_enabled(kind) else None
        groups, centres = [], []
        for i in range(frames.shape[1]):
            raw.append(frames[:, i])
            unshuffled.append(new[:, i].to(dtype=dtype, memory_format=torch.channels_last))
            if len(raw) >= g:
                groups.append(torch.cat(unshuffled[-g:], 1))
                centres.append(raw[-g + g // 2])
                del raw[: len(raw) - (g - 1)], unshuffled[: len(unshuffled) - (g - 1)]
        if not groups:
            return None
        skip, feats = self.encode(torch.cat(groups, 0) if len(groups) > 1 else groups[0])
        n, cache = frames.shape[0], state["groups"]
        for i, centre in enumerate(centres):
            cache.append((skip[i * n : (i + 1) * n], feats[i * n : (i + 1) * n], centre))
        outs = []
        while len(cache) >= self.num_groups:
            window = cache[: self.num_groups]
            mid = window[self.num_groups // 2]
            outs.append(self.decode([w[1] for w in window], mid[0], mid[2]))
            cache.pop(0)
        return torch.stack(outs, 1) if outs else None

    def stream_push(self, clip: torch.Tensor, state: dict) -> tuple[torch.Tensor | None, dict]:
        """Add the next chunk ``(N, t, 3, H, W)``; returns the outputs now complete (lagging by ``delay``)."""
        clip, size = pad_to_multiple(clip, 4)
        state["size"] = size
        if not state["started"]:
            state["started"] = True
            clip = torch.cat([clip[:, :1].expand(-1, self.delay, -1, -1, -1), clip], 1)
        state["last"] = clip[:, -1:]
        out = self._push_padded(clip, state)
        return (None if out is None else crop_to(out, size)), state

    def stream_flush(self, state: dict) -> torch.Tensor | None:
        """Outputs for the last ``delay`` frames, replicating the final frame as right padding."""
        if not state["started"]:
            return None
        tail = state["last"].expand(-1, self.delay, -1, -1, -1)
        out = self._push_padded(tail, state)
        return None if out is None else crop_to(out, state["size"])
