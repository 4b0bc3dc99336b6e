"""Exports of what the service stores, for retraining: one documented, versioned format each."""
