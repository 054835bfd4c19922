"""Datasets: the row views of an item, and the export (dedup, decontamination, split, Hub)."""
