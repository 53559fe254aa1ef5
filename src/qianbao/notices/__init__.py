"""Notices: the transactional outbox, the in-app inbox, and the worker job that delivers them.

Producers call `qianbao.notices.outbox.enqueue_sms` / `enqueue_inbox` (or `enqueue`) inside their own
unit of work; the worker's `deliver_due` job hands the messages to the SMS gateway or the inbox.
See docs/notices.md for the guarantees.
"""
