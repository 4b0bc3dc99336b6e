"""Learned ranking of a note\x27s candidate codes, and calibrated confidence."""
