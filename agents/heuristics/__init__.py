"""Classic replenishment heuristics, tuned by CRN simulation (see ``replenishment``)."""

from agents.heuristics.replenishment import (
    HEURISTICS,
    SS,
    TUNERS,
    BaseStock,
    CappedBaseStock,
    ConstantOrder,
    Myopic,
    RandomPolicy,
    default_warmup,
    tune,
    tune_all,
    tune_base_stock,
    tune_capped_base_stock,
    tune_constant_order,
    tune_s_S,
)

__all__ = [
    "HEURISTICS",
    "SS",
    "TUNERS",
    "BaseStock",
    "CappedBaseStock",
    "ConstantOrder",
    "Myopic",
    "RandomPolicy",
    "default_warmup",
    "tune",
    "tune_all",
    "tune_base_stock",
    "tune_capped_base_stock",
    "tune_constant_order",
    "tune_s_S",
]
