"""Calibration: service profiles from measurements (``sources`` reads them, ``fit`` fits
them) and from rules for instance types that were not measured (``transfer``)."""
