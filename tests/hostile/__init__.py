"""The hostile script corpus and its expectations (see cases.py)."""
