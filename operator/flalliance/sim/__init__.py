"""Whole-task simulation on one machine: anvil, the contracts, participant processes, a report."""
