"""musicnn (Pons & Serra 2019) in PyTorch, and the transfer CRNN built on it.

`Musicnn` is a layer-for-layer port of the `MSD_musicnn` graph in the
`musicnn` 0.1.0 wheel (`musicnn/models.py: build_musicnn`), trained on the
Million Song Dataset's 50 most used last.fm tags. Its weights are converted
once from the wheel's TensorFlow checkpoint (`python -m genre_core.pretrained`)
and proven equal to the original by `tests/test_musicnn_parity.py`.

`MusicnnCRNN` keeps the pretrained front and mid end, reads their per-frame
features with a bidirectional GRU and pools them into genre logits: the same
CRNN shape as the from-scratch model, but starting from what was learned on
far more music than ours. The original tag head stays, so one forward pass
gives genres and the 50 MSD tags.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from ..config import ModelConfig

#: The 50 MSD last.fm tags, in the order of the pretrained head's outputs.
MSD_TAGS: tuple[str, ...] = (
    "rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s",
    "alternative rock", "jazz", "beautiful", "metal", "chillout", "male vocalists", "classic rock",
    "soul", "indie rock", "Mellow", "electronica", "80s", "folk", "90s", "chill", "instrumental",
    "punk", "oldies", "blues", "hard rock", "ambient", "acoustic", "experimental",
    "female vocalist", "guitar", "Hip-Hop", "70s", "party", "country", "easy listening", "sexy",
    "catchy", "funk", "electro", "heavy metal", "Progressive rock", "60s", "rnb", "indie pop",
    "sad", "House", "happy",
)  # fmt: skip

#: TensorFlow's `tf.layers.batch_normalization` default; torch's is 1e-5.
TF_BN_EPS = 1e-3
N_MELS = 96
FRONTEND_CHANNELS = 2 * 204 + 3 * 51  # 561: two timbral and three temporal blocks
MIDEND_CHANNELS = 64
EMBED_CHANNELS = FRONTEND_CHANNELS + 3 * MIDEND_CHANNELS  # 753 per frame: front end + three mid-end layers


def _bn(channels: int) -> nn.Module:
    return nn.BatchNorm1d(channels, eps=TF_BN_EPS)


class _FreqPooledConv(nn.Module):
    """conv → ReLU → batch norm → max over all frequencies (musicnn's order: BN after ReLU)."""

    def __init__(self, filters: int, kernel: tuple[int, int], time_pad: tuple[int, int]) -> None:
        super().__init__()
        self.time_pad = time_pad
        self.conv = nn.Conv2d(1, filters, kernel)
        self.bn = nn.BatchNorm2d(filters, eps=TF_BN_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (batch, 1, time, freq)
        x = F.pad(x, (0, 0, *self.time_pad))
        return self.bn(F.relu(self.conv(x))).amax(dim=3)  # (batch, filters, time)


class _FastFreqPooledConv(nn.Module):
    """`_FreqPooledConv`'s function, reordered so the big tensor is only convolved and max-reduced.

    ReLU is increasing and batch norm is, per channel, an increasing or a decreasing affine
    map, so max over frequency commutes with both once decreasing channels take the minimum
    instead: their filters are negated so one `amax` serves all. Bias, ReLU and BN then
    touch a tensor 59-96x smaller.
    """

    def __init__(self, block: _FreqPooledConv) -> None:
        super().__init__()
        bn = block.bn
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        sign = torch.where(scale >= 0, 1.0, -1.0)
        self.time_pad = block.time_pad
        self.register_buffer("weight", (block.conv.weight * sign[:, None, None, None]).detach().clone())
        self.register_buffer("sign", sign[:, None].detach().clone())
        self.register_buffer("bias", block.conv.bias[:, None].detach().clone())
        self.register_buffer("scale", scale[:, None].detach().clone())
        self.register_buffer("shift", (bn.bias - bn.running_mean * scale)[:, None].detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        peak = F.conv2d(F.pad(x, (0, 0, *self.time_pad)), self.weight).amax(dim=3)
        return F.relu(peak * self.sign + self.bias) * self.scale + self.shift


class Musicnn(nn.Module):
    """`(batch, 96 mels, frames)` log-compressed mel → per-frame features, pooled features and tag logits.

    `frontend=False` builds only the mid and back end (run on a front end's output).
    """

    def __init__(self, n_tags: int = len(MSD_TAGS), frontend: bool = True) -> None:
        super().__init__()
        if frontend:
            self.input_bn = nn.BatchNorm2d(1, eps=TF_BN_EPS)
            # Timbral: 7 frames x 38 or 67 mel bands ("valid" in frequency, time padded by 3 each side).
            self.timbral = nn.ModuleList(
                [
                    _FreqPooledConv(204, (7, int(0.4 * N_MELS)), (3, 3)),
                    _FreqPooledConv(204, (7, int(0.7 * N_MELS)), (3, 3)),
                ]
            )
            # Temporal: 128/64/32 frames x 1 band, TensorFlow "same" padding (the extra frame goes after).
            self.temporal = nn.ModuleList([_FreqPooledConv(51, (k, 1), ((k - 1) // 2, k // 2)) for k in (128, 64, 32)])
        self.mid = nn.ModuleList(
            [nn.Conv1d(FRONTEND_CHANNELS, MIDEND_CHANNELS, 7, padding=3)]
            + [nn.Conv1d(MIDEND_CHANNELS, MIDEND_CHANNELS, 7, padding=3) for _ in range(2)]
        )
        self.mid_bn = nn.ModuleList([_bn(MIDEND_CHANNELS) for _ in range(3)])
        self.pool_bn = _bn(2 * EMBED_CHANNELS)
        self.dense = nn.Linear(2 * EMBED_CHANNELS, 200)
        self.dense_bn = _bn(200)
        self.tag_head = nn.Linear(200, n_tags)

    def frontend(self, x: torch.Tensor) -> torch.Tensor:
        """`(batch, mels, frames)` → `(batch, 561, frames)`."""
        x = self.input_bn(x.transpose(1, 2).unsqueeze(1))  # (batch, 1, time, freq), as the original
        return torch.cat([block(x) for block in (*self.timbral, *self.temporal)], dim=1)

    def midend(self, front: torch.Tensor) -> torch.Tensor:
        """Three 1-D convs with residual connections; returns the dense concatenation `(batch, 753, frames)`."""
        layers, x = [front], front
        for i, (conv, bn) in enumerate(zip(self.mid, self.mid_bn, strict=True)):
            out = bn(F.relu(conv(x)))
            x = out if i == 0 else out + x
            layers.append(x)
        return torch.cat(layers, dim=1)

    def pooled(self, embed: torch.Tensor) -> torch.Tensor:
        """Max and mean over time, interleaved per channel as TensorFlow's flatten of `(753, 2)` leaves them."""
        return torch.stack([embed.amax(dim=2), embed.mean(dim=2)], dim=2).flatten(1)

    def penultimate(self, embed: torch.Tensor) -> torch.Tensor:
        return self.dense_bn(F.relu(self.dense(self.pool_bn(self.pooled(embed)))))

    def tag_logits(self, embed: torch.Tensor) -> torch.Tensor:
        return self.tag_head(self.penultimate(embed))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Tag probabilities (sigmoid), as the original `extractor` returns them."""
        return torch.sigmoid(self.tag_logits(self.midend(self.frontend(x))))


class MusicnnCRNN(nn.Module):
    """Pretrained musicnn front and mid end, then two paths summed into genre logits.

    - sequence: frames max-pooled into steps → projection → BiGRU → mean+max over steps → linear;
    - summary: the pretrained back end's 200-d penultimate layer (what MSD tagging was learned
      from, and alone a strong genre feature) → dropout → linear.

    Training fine-tunes the mid end and the penultimate layer for genres, so the MSD tags come
    from `musicnn_tags`, an untouched copy of the pretrained mid end, back end and tag head that
    reads the same (shared, frozen) front-end output: the tags stay exactly the original network's.

    `embed()` ends where the frozen front end ends; training caches the front end's output
    once and trains the rest on it.
    """

    tag_labels: tuple[str, ...] = MSD_TAGS
    #: Occlusion patch and stride (mel bands, frames): ~100 forward passes, a few seconds on a CPU.
    saliency_grid: tuple[tuple[int, int], tuple[int, int]] = ((24, 24), (12, 12))
    #: Set on inference copies whose musicnn stayed as pretrained: the tags then reuse the genre path's layers.
    tags_share_backbone: bool = False

    def __init__(self, cfg: ModelConfig, n_mels: int, n_classes: int) -> None:
        super().__init__()
        if n_mels != N_MELS:
            raise ValueError(f"musicnn reads {N_MELS} mel bands, not {n_mels}")
        if cfg.pooling != "meanmax":
            raise ValueError("the transfer CRNN pools with meanmax")
        self.cfg = cfg
        self.musicnn = Musicnn()
        self.musicnn_tags = Musicnn(frontend=False)
        self.register_buffer("band_mean", torch.zeros(n_mels))  # mean input per band (saliency's neutral value)
        self.register_buffer("embed_mean", torch.zeros(EMBED_CHANNELS))
        self.register_buffer("embed_std", torch.ones(EMBED_CHANNELS))
        self.project = nn.Sequential(nn.Linear(EMBED_CHANNELS, cfg.embed_dim), nn.ReLU(), nn.Dropout(cfg.dropout))
        self.gru = nn.GRU(
            input_size=cfg.embed_dim,
            hidden_size=cfg.gru_hidden,
            num_layers=cfg.gru_layers,
            batch_first=True,
            bidirectional=True,
            dropout=cfg.dropout if cfg.gru_layers > 1 else 0.0,
        )
        self.head = nn.Sequential(nn.Dropout(cfg.dropout), nn.Linear(4 * cfg.gru_hidden, n_classes))
        self.summary_head = nn.Sequential(nn.Dropout(cfg.dropout), nn.Linear(200, n_classes))

    def set_normalisation(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        self.embed_mean.copy_(mean)
        self.embed_std.copy_(torch.clamp(std, min=1e-3))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The frozen part: `(batch, 96, 187)` → per-frame musicnn features `(batch, 753, frames)`."""
        return self.musicnn.midend(self.musicnn.frontend(x))

    def steps(self, embed: torch.Tensor) -> torch.Tensor:
        """Max-pool frames by `cfg.step_pool` → `(batch, steps, 753)`; cached in training."""
        if self.cfg.step_pool > 1:
            embed = F.max_pool1d(embed, self.cfg.step_pool, ceil_mode=True)
        return embed.transpose(1, 2)

    def sequence_logits(self, steps: torch.Tensor) -> torch.Tensor:
        """`(batch, steps, 753)` → the recurrent path's genre logits."""
        z = self.project((steps - self.embed_mean) / self.embed_std)
        seq, _ = self.gru(z)
        return self.head(torch.cat([seq.mean(dim=1), seq.amax(dim=1)], dim=1))

    def genre_logits(self, embed: torch.Tensor, penultimate: torch.Tensor) -> torch.Tensor:
        """Both paths from the per-frame features and the pretrained penultimate layer."""
        return self.combine(self.steps(embed), penultimate)

    def combine(self, steps: torch.Tensor, penultimate: torch.Tensor) -> torch.Tensor:
        """The two paths' logits, summed (a frozen mid end's run trains on cached steps and penultimate)."""
        return self.cfg.sequence_weight * self.sequence_logits(steps) + self.summary_head(penultimate)

    def forward_embed(self, embed: torch.Tensor) -> torch.Tensor:
        """`(batch, 753, frames)` per-frame features → genre logits (what training runs on cached input)."""
        return self.genre_logits(embed, self.musicnn.penultimate(embed))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_embed(self.embed(x))

    def forward_with_tags(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Genre logits and the pretrained network's MSD tag probabilities from one front-end pass."""
        front = self.musicnn.frontend(x)
        embed = self.musicnn.midend(front)
        if self.tags_share_backbone:  # musicnn stayed as pretrained: the tag copy would recompute the same layers
            penultimate = self.musicnn.penultimate(embed)
            tags = torch.sigmoid(self.musicnn_tags.tag_head(penultimate))
            return self.genre_logits(embed, penultimate), tags
        tags = torch.sigmoid(self.musicnn_tags.tag_logits(self.musicnn_tags.midend(front)))
        return self.forward_embed(embed), tags

    def backbone_is_pretrained(self) -> bool:
        """True when the genre path's mid and back end still equal the tag copy's (a frozen-musicnn model)."""
        tag_copy = self.musicnn_tags.state_dict()
        return all(
            torch.equal(value, tag_copy[name])
            for name, value in self.musicnn.state_dict().items()
            if name in tag_copy and not name.startswith("tag_head")
        )

    def for_inference(self) -> MusicnnCRNN:
        """An eval copy whose front-end blocks pool before ReLU and BN (same outputs to float rounding)."""
        fast = copy.deepcopy(self).eval()
        fast.tags_share_backbone = self.backbone_is_pretrained()
        for blocks in (fast.musicnn.timbral, fast.musicnn.temporal):
            for i, block in enumerate(blocks):
                if isinstance(block, _FreqPooledConv):  # a fast copy of a fast copy is the same copy
                    blocks[i] = _FastFreqPooledConv(block)
        return fast
