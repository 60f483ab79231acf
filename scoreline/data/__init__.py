"""Data: object storage and immutable dataset versions."""
