"""A KPI column of a task's results (``results.csv`` and the printed tables)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kpi:
    """A KPI column of a task's results: name (the rollout's key), table header, format.
    ``table``: shown in the printed table (``results.csv`` always has every KPI). ``parts``:
    a display-only column showing several KPIs side by side (e.g. fill rate by class).
    ``ci``: ``results.csv`` also has ``<name>_ci95``, the KPI's 95% CI over replications,
    and the table shows ``mean ± CI``."""

    name: str
    header: str
    fmt: str = "{:.4f}"
    table: bool = True
    parts: tuple[str, ...] = ()
    ci: bool = False

    def show(self, value: float) -> str:
        return "-" if value is None or value != value else self.fmt.format(value)

    def cell(self, row) -> str:
        if self.ci:
            return f"{self.show(getattr(row, self.name, float('nan')))} ± {self.show(getattr(row, self.name + '_ci95', float('nan')))}"
        if not self.parts:
            return self.show(getattr(row, self.name, float("nan")))
        return " / ".join(self.show(getattr(row, p, float("nan"))) for p in self.parts)
