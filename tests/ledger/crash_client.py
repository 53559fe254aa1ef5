"""A client that streams transfers and acknowledges each committed batch on stdout.

Run by test_crash.py as a separate process so that it can be killed with SIGKILL mid-stream:
    python crash_client.py DATABASE_URL FIRST_BATCH LAST_BATCH WALLET_ID,WALLET_ID,...
Batch n always carries the same ten requests under the same keys, so a retry is an exact retry.
"""

from __future__ import annotations

import sys

from qianbao import ledger
from qianbao.db import Database
from qianbao.ledger import NewTransfer

PER_BATCH = 10


def requests(batch: int, wallets: list[int]) -> list[NewTransfer]:
    items = []
    for j in range(PER_BATCH):
        i = batch * PER_BATCH + j
        debit = wallets[i % len(wallets)]
        credit = wallets[(i * 3 + 1) % len(wallets)]
        if credit == debit:
            credit = wallets[(i + 1) % len(wallets)]
        # The last two of each batch are a linked pair (a payment and its fee).
        items.append(NewTransfer(f"stream-{i}", debit, credit, 1 + i % 50, "stream", linked=j == PER_BATCH - 2))
    return items


def main() -> None:
    url, first, last, wallet_ids = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    wallets = [int(w) for w in wallet_ids.split(",")]
    db = Database(url)
    for batch in range(first, last):
        with db.transaction() as s:
            results = ledger.create_transfers(s, requests(batch, wallets))
        assert all(r.ok for r in results), [r.code for r in results]
        # Printed only after the commit returned: an acknowledged batch is durable.
        print(f"ACK {batch} {sum(r.replayed for r in results)}", flush=True)


if __name__ == "__main__":
    main()
