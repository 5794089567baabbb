"""Multi-echelon replenishment networks (supplier -> DC -> micro-fulfilment centres)."""
