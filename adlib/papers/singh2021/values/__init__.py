"""Paper-reported values (data only; see adlib.paper_values)."""
