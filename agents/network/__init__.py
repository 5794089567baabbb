"""The multi-echelon network task: base-stock policies, the exact serial optimum, bounds."""
