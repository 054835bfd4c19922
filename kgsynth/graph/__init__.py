"""The graph: its canonical model, the per-predicate index, schemas, stores, and assembly."""
