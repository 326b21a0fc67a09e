"""Billing: pricing, machine factor and the ledger."""
