"""musicnn with its front end on pairs of mel bands: ~0.39 G multiply-adds per window instead of ~1.34 G.

The front end is nearly all of the transfer CRNN's cost: two timbral convolutions that span 38 and 67 of the
96 mel bands and slide over every band, and three temporal ones on every band. Here they run on the input
averaged over pairs of bands (48), each timbral kernel with its pairs of rows summed (a zero row pads an
odd one), so conv(average of pairs, summed rows) approximates the original at every other band. The mid
end, back end and tag head are untouched, so everything that reads them (genres, tags, mood, the open-set
verdict) still can. `bench --coarse-front-end` measures what it changes; `train-coarse-front` fits its
front end to the shipped one's output. It does not ship (docs/performance.md says why).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .musicnn import N_MELS, Musicnn, _FreqPooledConv

BAND_POOL = 2


def summed_rows(weight: torch.Tensor) -> torch.Tensor:
    """`(filters, 1, time, bands)` → `(filters, 1, time, ceil(bands / 2))`: adjacent band rows added."""
    if weight.shape[-1] % 2:
        weight = F.pad(weight, (0, 1))
    return weight.reshape(*weight.shape[:-1], weight.shape[-1] // 2, 2).sum(-1)


class CoarseMusicnn(Musicnn):
    """`Musicnn` whose front end reads the mel input averaged over pairs of bands."""

    def __init__(self) -> None:
        super().__init__()
        self.timbral = torch.nn.ModuleList(
            [_FreqPooledConv(204, (7, -(-int(share * N_MELS) // BAND_POOL)), (3, 3)) for share in (0.4, 0.7)]
        )

    @classmethod
    def from_musicnn(cls, musicnn: Musicnn) -> CoarseMusicnn:
        """The coarse copy of a (trainable-form) musicnn: its weights with the timbral kernels' rows summed, and
        its mode (an eval copy's batch norms use their running statistics)."""
        coarse = cls()
        state = {k: v.clone() for k, v in musicnn.state_dict().items()}
        for i in range(len(coarse.timbral)):
            key = f"timbral.{i}.conv.weight"
            state[key] = summed_rows(state[key])
        coarse.load_state_dict(state)
        return coarse.train(musicnn.training)  # in its source's mode: a new module would start in training mode

    def frontend(self, x: torch.Tensor) -> torch.Tensor:
        """`(batch, 96 mels, frames)` → `(batch, 561, frames)`, as musicnn's, from 48 band pairs."""
        x = self.input_bn(x.transpose(1, 2).unsqueeze(1))
        x = F.avg_pool2d(x, (1, BAND_POOL))
        return torch.cat([block(x) for block in (*self.timbral, *self.temporal)], dim=1)

    def front_parameters(self) -> list[torch.nn.Parameter]:
        """What fitting the front end trains: the five convolutions and their batch norms' scale and shift."""
        return [p for block in (*self.timbral, *self.temporal) for p in block.parameters()]


def front_end_macs(musicnn: Musicnn, frames: int) -> int:
    """Multiply-adds of the front end's convolutions for one window."""
    bands = N_MELS // BAND_POOL if isinstance(musicnn, CoarseMusicnn) else N_MELS
    total = 0
    for block in (*musicnn.timbral, *musicnn.temporal):
        weight = block.conv.weight if hasattr(block, "conv") else block.weight
        filters, _, k_time, k_bands = weight.shape
        total += filters * k_time * k_bands * frames * (bands - k_bands + 1)
    return int(total)
