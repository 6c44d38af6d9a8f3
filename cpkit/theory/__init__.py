"""Closed forms, ODEs and small exact simulations of the paper's theory.

Stands beside the data → model → training pipeline: nothing here reads
data sets, and the pipeline does not import it.
"""
