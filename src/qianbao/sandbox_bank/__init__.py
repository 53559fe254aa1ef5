"""The sandbox bank (SPEC §5, §12): a separate HTTP service standing in for the card-issuing banks.

It is NOT part of the wallet: its own FastAPI app (`app.create_sandbox_app`), its own database (a SQLite file
by default, its own SQLAlchemy metadata, created with create_all), its own process
(`qianbao sandbox-bank serve --port 8100`; `qianbao serve --demo` starts one). The wallet talks to it only
over HTTP through `qianbao.adapters.bank`.

    config    SandboxBankSettings (QIANBAO_SANDBOX_BANK_*), Behaviour (changeable at run time)
    models    cards, bindings, vault tokens, operations, callbacks, nonces, texts
    service   the rules (binding OTP, idempotent debits/credits, settlement, callbacks, the settlement CSV)
    app       the HTTP API (signed merchant API, admin, dev outbox)
    worker    the thread that settles operations and pushes callbacks with backoff
    client    SandboxBankClient: admin/dev calls for tests, the demo and scripts
    process   SandboxBankProcess: start/stop it as a child process
    demo      the demo customers' cards

docs/sandbox-bank.md describes the protocol and the behaviour.
"""
