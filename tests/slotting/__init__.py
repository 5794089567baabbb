"""Tests of the slotting operation."""
