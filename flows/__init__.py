"""Prefect flows and the command line of the nightly WhatsApp webhook ETL."""
