"""Measurements of trained models: RSV and, later, accuracy and information."""
