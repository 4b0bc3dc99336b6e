"""Service storage: SQLAlchemy 2 models, engine and session set-up, and repository functions."""
