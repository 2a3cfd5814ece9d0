"""Calibration: service profiles from measurements, and transfer to unmeasured instance types.

Readers and fitting come with issue 5; ``transfer`` already derives entries for instance
types a profile does not cover.
"""
