"""Where a new shot starts: a frame much unlike the one before it, as x264's scenecut finds
I-frames. NIRVANA restarts its groups there with a key group: a residual to the previous shot's
network cannot learn a new picture in the few steps a group gets: on bikes at 2 minutes, key groups
at cuts warm-started from the previous shot gave 23.66 dB against 25.21 fresh
(bench/studies/2026-11-26-nirvana-design/bikes/nirvana-design.json)."""
from __future__ import annotations

import numpy as np

#: a cut: the mean absolute difference to the previous frame (0..255, on a 64-pixel-wide copy) is
#: above ABSOLUTE and RELATIVE times the median difference of the frames around it. On bikes
#: (320x136) shots differ by 52..85, motion within a shot by at most 22.
ABSOLUTE = 30.0
RELATIVE = 3.0
WINDOW = 5


def scene_cuts(frames: np.ndarray) -> list[int]:
    """The frames (uint8, (T, H, W, 3)) that start a new shot, frame 0 excepted."""
    if len(frames) < 2:
        return []
    step = max(1, frames.shape[2] // 64)
    small = frames[:, ::step, ::step].astype(np.float32)
    diff = np.abs(small[1:] - small[:-1]).mean(axis=(1, 2, 3))  # diff[i]: frame i + 1 against frame i
    cuts = []
    for i, d in enumerate(diff):
        around = np.concatenate([diff[max(0, i - WINDOW):i], diff[i + 1:i + 1 + WINDOW]])
        typical = float(np.median(around)) if len(around) else 0.0
        if d > ABSOLUTE and d > RELATIVE * typical:
            cuts.append(i + 1)
    return cuts
