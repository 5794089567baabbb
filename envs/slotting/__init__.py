"""Slotting: dynamic storage assignment in a piece-picking warehouse (issue 10)."""
