"""Lost sales (``fulfillgym/LostSales-v0``): tuned heuristics, the exact optimum and the task."""
