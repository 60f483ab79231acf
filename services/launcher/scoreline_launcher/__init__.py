"""The local launcher (``make run``): starts the suite as processes and bootstraps every registered task."""
