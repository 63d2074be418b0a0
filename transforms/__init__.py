"""Stages of the nightly ETL: read, validate, flatten, model, publish."""
