"""Evaluation: question sets, the models asked, scoring as the rewards do, paired comparisons."""
