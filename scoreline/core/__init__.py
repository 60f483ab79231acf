"""Core: the domain error type and the shared settings. Imports nothing else of scoreline."""
