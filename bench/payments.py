"""HTTP payments benchmark: merchant payments and transfers through `qianbao serve` on PostgreSQL.

    .venv/bin/python bench/payments.py                  # ledger single-transfer yardstick, then 30 s of HTTP load
    .venv/bin/python bench/payments.py --quick          # smaller, for trying the script out

One run, one PostgreSQL server:

1. the yardstick: the ledger benchmark's single-transfer loop (bench/ledger.py, 8 workers, uniform
   over 10,000 accounts) for `--ledger-seconds`;
2. a scratch database, migrated and seeded through the domain's own functions: wallets (opened by SMS
   registration, password-free payments on, funded by a top-up), merchants with API credentials, one
   bearer session per wallet;
3. `qianbao serve --no-worker --workers N` as a child process on a free port;
4. `--clients` concurrent HTTP clients (asyncio + httpx, in this process) for `--seconds`, each looping
   over a mix of
     * static-QR merchant payments   POST /api/v1/qr-payments {payload, amount}
     * order payments                POST /api/merchant/v1/orders (signed) → POST /api/v1/qr-payments {payload}
     * transfers                     POST /api/v1/transfers {recipient, amount}
   every payment with its own Idempotency-Key; a payment counts when the server answered 201;
5. the ledger check and the conservation of money over everything written.

It prints payments/s and p50/p99 latency per kind and overall, and the ratio to the ledger's
single-transfer rate (target: ≥ 0.25×, p99 < 100 ms at that load). Nothing here is a test: run it by hand
on a quiet machine and copy the figures into docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import itertools
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "Bench-Pass-2026"


def _load_ledger_bench() -> Any:
    spec = importlib.util.spec_from_file_location("ledger_bench", Path(__file__).with_name("ledger.py"))
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["ledger_bench"] = module
    spec.loader.exec_module(module)
    return module


lb = _load_ledger_bench()


@dataclass
class Wallet:
    customer_id: int
    wallet_id: int
    number: str
    account_id: int
    token: str


@dataclass
class Shop:
    merchant_no: str
    api_key: str
    secret: str
    account_id: int
    static_payload: str


@dataclass
class Seeded:
    wallets: list[Wallet]
    shops: list[Shop]
    funded_fen: int


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def seed(url: str, key_file: Path, n_wallets: int, n_shops: int, fund_fen: int) -> Seeded:
    """Wallets, merchants and sessions, made through the domain's own functions (setup, not measured)."""
    from qianbao import audit, bootstrap, credentials, merchants, migrate, payments, wallets
    from qianbao.credentials import Principal
    from qianbao.db import Database
    from qianbao.payments import Order, Party
    from qianbao.settings import Settings

    settings = Settings(database_url=url, key_file=key_file, environment="development")
    bootstrap.keyring(settings, create=True)
    db = Database(url)
    migrate.upgrade(db.engine)
    out: list[Wallet] = []
    keys = itertools.count(1)
    with db.transaction() as session:
        clearing = int(payments.system_account(session, "bank_clearing:PSBC"))
    for i in range(n_wallets):
        phone = f"+86139{70000000 + i:08d}"
        with db.transaction() as session:
            # One address per registration: the per-IP code limit is there for real clients, not for the seed.
            issued = wallets.start_registration(session, phone, f"10.9.{i // 250}.{i % 250 + 1}", "zh-CN", send=False,
                                                settings=settings)
        with db.transaction() as session:
            customer, wallet = wallets.complete_registration(session, phone, issued.code, PASSWORD, True,
                                                             settings=settings)
            payments.set_password_free(session, customer.id, enabled=True, threshold=100_000)
            started = credentials.start_session(session, Principal.customer(customer.id),
                                                device_id=f"bench-device-{i:06d}", settings=settings)
            out.append(Wallet(customer.id, wallet.id, wallet.number, wallet.ledger_account_id, started.token))
        with db.transaction() as session:
            payments.execute(session, Order(
                key=f"bench:fund:{next(keys)}", kind="topup", payer=Party.account(clearing, "邮储银行 储蓄卡 0000"),
                payee=Party.wallet(wallet.id), amount=fund_fen, confirmation="system", channel="system"))
    shops: list[Shop] = []
    for i in range(n_shops):
        with db.transaction() as session:
            created = merchants.create_merchant(
                session, name_zh=f"压测商户{i + 1}", name_en=f"Bench Shop {i + 1}", category="retail", mdr_bp=60,
                by=audit.Actor.system("bench"), settings=settings)
            m, c = created.merchant, created.credentials
            shops.append(Shop(m.merchant_no, c.api_key, c.secret, m.ledger_account_id,
                              merchants.static_qr_payload(m)))
    db.dispose()
    return Seeded(out, shops, fund_fen * n_wallets)


def start_server(url: str, key_file: Path, port: int, workers: int, data_dir: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "QIANBAO_DATABASE_URL": url, "QIANBAO_KEY_FILE": str(key_file),
           "QIANBAO_DATA_DIR": str(data_dir), "QIANBAO_LOG_LEVEL": "WARNING", "QIANBAO_ENVIRONMENT": "development"}
    cmd = [str(ROOT / ".venv/bin/qianbao"), "serve", "--no-worker", "--port", str(port), "--workers", str(workers)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"qianbao serve exited: {proc.stderr.read().decode() if proc.stderr else ''}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise SystemExit("qianbao serve did not become ready in 60 s")


@dataclass
class Load:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    ok: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    moved_fen: int = 0


def signed(shop: Shop, method: str, path: str, body: bytes) -> dict[str, str]:
    from qianbao.merchants import signing

    headers = signing.signed_headers(shop.merchant_no, shop.secret, method, path, body, api_key=shop.api_key)
    headers["Content-Type"] = "application/json"
    return headers


async def client_loop(index: int, base: str, seeded: Seeded, mix: list[str], stop_at: float, load: Load,
                      warm_until: float) -> None:
    rng = random.Random(index)
    wallets = seeded.wallets
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        while time.monotonic() < stop_at:
            kind = rng.choice(mix)
            payer = rng.choice(wallets)
            amount = rng.randint(1, 50)  # fen: small enough for a whole run within every daily cap
            auth = {"Authorization": f"Bearer {payer.token}", "Idempotency-Key": uuid.uuid4().hex}
            started = time.perf_counter()
            if kind == "transfer":
                payee = rng.choice(wallets)
                while payee is payer:
                    payee = rng.choice(wallets)
                response = await http.post("/api/v1/transfers", headers=auth, json={
                    "recipient": payee.number, "amount": f"{amount / 100:.2f}"})
            elif kind == "qr_static":
                shop = rng.choice(seeded.shops)
                response = await http.post("/api/v1/qr-payments", headers=auth, json={
                    "payload": shop.static_payload, "amount": f"{amount / 100:.2f}"})
            else:
                shop = rng.choice(seeded.shops)
                path = "/api/merchant/v1/orders"
                body = json.dumps({"merchant_order_no": f"B{index}x{uuid.uuid4().hex[:20]}", "amount": amount,
                                   "description": "压测订单"}).encode()
                created = await http.post(path, content=body, headers=signed(shop, "POST", path, body))
                if created.status_code != 201:
                    load.refused[f"order_create:{created.status_code}:{_code(created)}"] += 1
                    continue
                response = await http.post("/api/v1/qr-payments", headers=auth,
                                           json={"payload": created.json()["qr_payload"]})
            elapsed = time.perf_counter() - started
            if response.status_code == 201:
                if time.monotonic() >= warm_until:
                    load.latencies[kind].append(elapsed)
                    load.ok[kind] += 1
                load.moved_fen += amount
            else:
                load.refused[f"{kind}:{response.status_code}:{_code(response)}"] += 1


def _code(response: httpx.Response) -> str:
    try:
        return str(response.json().get("code"))
    except ValueError:
        return "-"


async def drive(base: str, seeded: Seeded, clients: int, seconds: float, warmup: float, mix: list[str]) -> Load:
    load = Load()
    now = time.monotonic()
    await asyncio.gather(*(client_loop(i, base, seeded, mix, now + warmup + seconds, load, now + warmup)
                           for i in range(clients)))
    return load


def conservation(url: str, seeded: Seeded) -> tuple[bool, float, int, int, int]:
    """The ledger check, and money conserved: the wallets and merchants hold exactly what was funded."""
    from sqlalchemy import func, select

    from qianbao import ledger, payments
    from qianbao.db import Database
    from qianbao.ledger.models import LedgerTransfer

    db = Database(url)
    started = time.perf_counter()
    with db.read() as session:
        report = ledger.check_invariants(session)
        rows = int(session.scalar(select(func.count()).select_from(LedgerTransfer)) or 0)
        held = sum(ledger.balance(session, w.account_id).posted for w in seeded.wallets)
        held += sum(ledger.balance(session, s.account_id).posted for s in seeded.shops)
        held += ledger.balance(session, int(payments.system_account(session, "fee_income"))).posted
    db.dispose()
    return report.ok, time.perf_counter() - started, rows, held, seeded.funded_fen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg-url", default=os.environ.get("QIANBAO_BENCH_PG_URL",
                                                           "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--seconds", type=float, default=30, help="measured HTTP load")
    parser.add_argument("--warmup", type=float, default=5, help="HTTP load before measuring")
    parser.add_argument("--ledger-seconds", type=int, default=20, help="the ledger single-transfer yardstick")
    parser.add_argument("--clients", type=int, default=16, help="concurrent HTTP clients")
    parser.add_argument("--workers", type=int, default=2, help="`qianbao serve --workers`")
    parser.add_argument("--wallets", type=int, default=200)
    parser.add_argument("--shops", type=int, default=8)
    parser.add_argument("--mix", default="qr_static,order,transfer",
                        help="comma-separated kinds drawn uniformly: qr_static, order, transfer")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.warmup, args.ledger_seconds, args.wallets = 8, 2, 5, 40
    mix = [k.strip() for k in args.mix.split(",") if k.strip()]
    for line in lb.machine(args.pg_url):
        print(line)

    print(f"\n== ledger single transfers (yardstick), 8 workers, uniform, {args.ledger_seconds} s")
    with lb.scratch_pg(args.pg_url, "qbbench_ledger") as url:
        _, accounts = lb.prepare(url)
        yard = lb.single(url, accounts, args.ledger_seconds, "uniform")
    print("   " + yard.line())

    with lb.scratch_pg(args.pg_url, "qbbench_pay") as url, tempfile.TemporaryDirectory() as tmp:
        key_file = Path(tmp) / "keys.json"
        print(f"\n== seeding {args.wallets} wallets and {args.shops} merchants")
        started = time.perf_counter()
        seeded = seed(url, key_file, args.wallets, args.shops, fund_fen=200_000)
        print(f"   done in {time.perf_counter() - started:.1f} s")
        port = free_port()
        server = start_server(url, key_file, port, args.workers, Path(tmp))
        try:
            print(f"\n== HTTP load: {args.clients} clients, {args.workers} server processes, mix {mix}, "
                  f"{args.warmup:.0f} s warm-up + {args.seconds:.0f} s")
            load = asyncio.run(drive(f"http://127.0.0.1:{port}", seeded, args.clients, args.seconds, args.warmup,
                                     mix))
        finally:
            server.terminate()
            server.wait(timeout=30)
        every: list[float] = []
        for kind in mix:
            values = load.latencies[kind]
            every += values
            if values:
                print(f"   {kind:10s} {len(values) / args.seconds:8,.0f} payments/s   "
                      f"p50 {lb.percentile(values, .5) * 1000:6.1f} ms   "
                      f"p99 {lb.percentile(values, .99) * 1000:6.1f} ms")
        rate = len(every) / args.seconds
        print(f"   {'all':10s} {rate:8,.0f} payments/s   p50 {lb.percentile(every, .5) * 1000:6.1f} ms   "
              f"p99 {lb.percentile(every, .99) * 1000:6.1f} ms")
        print(f"   refused or failed: {dict(load.refused) or 'none'}")
        print(f"\n   ratio to the ledger's single transfers: {rate / yard.rate:.2f}×  (target ≥ 0.25×, "
              "p99 < 100 ms)")
        ok, took, rows, held, funded = conservation(url, seeded)
        print(f"\n== ledger check over {rows:,} journal rows: {'pass' if ok else 'FAIL'} in {took:.1f} s; "
              f"money in wallets + merchants + fees {held:,} fen vs funded {funded:,} fen: "
              f"{'conserved' if held == funded else 'NOT CONSERVED'}")
        if not ok or held != funded:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
