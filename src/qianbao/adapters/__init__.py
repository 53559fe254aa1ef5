"""Adapters to outside parties (bank, SMS, identity, ID-card reader, billers): a Protocol and a sandbox each.

Adapters know nothing of the domain's tables; the domain calls them through their Protocol and the
implementation is chosen by settings.
"""
