"""A generate run: its folder (the journal), the generator, the audit, the card, the focus file."""
