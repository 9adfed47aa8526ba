"""Distillation targets: the teacher's window probabilities at the right time, blended with the label."""

from __future__ import annotations

import numpy as np
import torch

from genre_core.training.common import smoothed_targets
from genre_core.training.distill import TeacherWindows
from genre_core.training.train import distilled_targets


def test_a_crop_gets_the_teacher_window_nearest_its_start_in_original_time():
    probs = np.eye(4, dtype=np.float32)  # window j (every 1.5 s) says genre j
    teacher = TeacherWindows([probs], hop_s=1.5)
    assert teacher.at(0, 0.0).argmax() == 0
    assert teacher.at(0, 1.4).argmax() == 1 and teacher.at(0, 3.1).argmax() == 2
    assert teacher.at(0, 99.0).argmax() == 3  # past the end: the last window
    # A crop at 2.9 s of the x1.059 vari-speed copy starts at 3.07 s of the original.
    assert teacher.at(0, 2.9 * 1.059).argmax() == 2


def test_targets_blend_teacher_and_label_and_fall_back_to_the_label():
    hard = smoothed_targets(np.array([0, 1]), 3, 0.0)
    teacher = torch.tensor([[0.2, 0.8, 0.0], [float("nan")] * 3])
    out = distilled_targets(hard, teacher, 0.7)
    torch.testing.assert_close(out[0], torch.tensor([0.3 + 0.14, 0.56, 0.0]))
    torch.testing.assert_close(out[1], hard[1])  # an unreadable recording: its label alone
    torch.testing.assert_close(out.sum(dim=1), torch.ones(2))
