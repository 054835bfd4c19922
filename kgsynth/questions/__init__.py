"""Question making: starts, walks, drafts, distractors, the open world, wording, items."""
