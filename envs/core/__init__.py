"""Pieces shared by more than one FulfillGym operation."""
