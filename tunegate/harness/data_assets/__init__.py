"""Data files shipped with the harness (general-English drift texts, ...)."""
