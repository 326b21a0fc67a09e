"""Billing: what a task's measured usage costs, and an exact double-entry ledger of it.

A library over a SQLAlchemy Session (no gRPC): `pricing` turns usage into decimal
amounts, `factor` says which machine factor a charge uses, `terms` holds the
configured prices and spending rules, `ledger` posts balanced transactions and keeps
balances and holds, `charges` decides who pays for an attempt, and `invoices` reads
charges back for consumers and operators. docs/billing.md tells users the same rules.
"""
