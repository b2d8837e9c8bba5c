"""Test-wide settings: one torch thread, so timings and results do not depend on a busy machine's scheduler."""

import torch

torch.set_num_threads(1)
