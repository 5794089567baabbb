"""Seed ranges, disjoint by purpose: replication r of each purpose uses ``BASE + r``.

Test (the benchmark and the final comparison of a training run), heuristic tuning and
validation (model selection during training) never share a seed; RL training uses small
seeds (0, 1, 2, ...).
"""

EVAL_SEED_BASE = 1_000_000
TUNE_SEED_BASE = 2_000_000
VALID_SEED_BASE = 3_000_000
MAX_SEED = 2**32 - 1  # numpy.random.seed and SB3's set_random_seed accept no larger seed
