"""The ingest service: uploads, URLs and object-store events become immutable dataset versions."""
