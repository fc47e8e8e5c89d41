"""Cheaper performance estimation: stop, shrink or share the training of candidates.

- `median_stop`: stop a candidate whose val accuracy falls below the median of earlier ones.
- `hyperband`: the pure successive-halving / Hyperband schedule (no TensorFlow).
- `multifidelity`: the driver that runs such a schedule with any strategy as sampler.
- `cell_space`: the reduced space shared by the weight-sharing methods, and its mapping to the CNN space.
- `supernet`: a single-path one-shot supernet (SPOS); `darts`: a differentiable supernet (DARTS).

Modules are imported one by one (this package imports none), so the TF-free ones stay TF-free.
"""
