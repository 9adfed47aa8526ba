"""The reference baseline: the best-known open CRNN-BiGRU Streamlit genre app's network size.

Its own home so that training (`train --arch reference`) and the benchmark read one
definition, and neither imports the other.
"""

from __future__ import annotations

from typing import Any

#: 3 conv blocks (32/64/128), one GRU layer of 128 read at its last step, at the 22050 Hz / 128-mel input.
REFERENCE_ARCH: dict[str, Any] = {
    "conv_channels": (32, 64, 128),
    "freq_pools": (2, 2, 2),
    "time_pools": (2, 2, 2),
    "gru_hidden": 128,
    "gru_layers": 1,
    "pooling": "last",
}
