"""Writes and business rules of the checkout, one module per concern.

Anything that needs a transaction is a sync function with an async twin beside it
(`a<name>`), because Django cannot enter `atomic()` from async code. Outside calls
(Stripe, the inventory API) are never made inside a transaction.
"""
