"""Billing: what a task's measured usage costs, and an exact double-entry ledger of it.

A library over a SQLAlchemy Session (no gRPC): `pricing` turns usage into decimal
amounts; `benchmark` measures a contributor's machine and `factor` verifies its claim
and says which machine factor a charge uses; `terms` holds the configured prices and
spending rules; `ledger` posts balanced transactions and keeps balances and holds;
`charges` decides who pays for an attempt; `invoices` reads charges back for consumers
and operators. docs/billing.md and docs/machine-factor.md tell users the same rules.
"""
