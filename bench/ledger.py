"""Ledger benchmark: single and batched transfers on PostgreSQL and SQLite, beside pgbench.

    .venv/bin/python bench/ledger.py                       # everything, a few minutes
    .venv/bin/python bench/ledger.py --seconds 5 --quick   # a smoke run

It creates its own scratch databases on the PostgreSQL server (and drops them), so point --pg-url at
a server where the user may CREATE DATABASE. Measured, in one run on one machine:

* pgbench TPC-B-like (`pgbench -i -s 10`, then `pgbench -c 8 -j 2 -T <seconds>`): the yardstick;
* single transfers, 8 worker processes, each its own transaction (`create_transfer`), uniform over
  10,000 wallets and then between 8 hot wallets: transfers/s, p50/p99 latency, ratio to pgbench;
* batched transfers, 1,000 per `create_transfers` call, uniform over 10,000 wallets, on PostgreSQL
  and on SQLite: transfers/s and p50/p99 per batch;
* memory over 1,000,000 batched transfers: resident set size at the start and the end;
* `check_invariants` on the result, which must pass.

Time figures never go into unit tests; they are printed here and copied into docs/performance.md.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from qianbao import ledger, migrate
from qianbao.db import Database
from qianbao.ledger import NewTransfer

WALLETS = 10_000
HOT = 8
WORKERS = 8
BATCH = 1_000
FUNDING = 10**12  # fen per wallet: no benchmark transfer is ever refused for lack of money


# ------------------------------------------------------------------------------------------ machinery


def rss_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def machine(pg_url: str) -> list[str]:
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as fh:
            names = [line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as fh:
            mem = f"{int(fh.readline().split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    engine = create_engine(pg_url)
    with engine.connect() as conn:
        server = conn.execute(text("SHOW server_version")).scalar_one()
        sync = conn.execute(text("SHOW synchronous_commit")).scalar_one()
        fsync = conn.execute(text("SHOW fsync")).scalar_one()
    engine.dispose()
    import sqlite3

    import psycopg

    return [
        f"CPU         {cpu}, {os.cpu_count()} logical CPUs; RAM {mem}; load average {os.getloadavg()[0]:.2f}",
        f"OS          {platform.platform()}",
        f"Python      {platform.python_version()}; SQLAlchemy {sqlalchemy.__version__}; psycopg {psycopg.__version__}",
        f"PostgreSQL  {server} (synchronous_commit={sync}, fsync={fsync}), same machine, TCP to 127.0.0.1",
        f"SQLite      {sqlite3.sqlite_version} (WAL, synchronous=NORMAL), a file in {tempfile.gettempdir()}",
    ]


@contextmanager
def scratch_pg(admin_url: str, prefix: str) -> Iterator[str]:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


# -------------------------------------------------------------------------------------------- pgbench


def run_pgbench(admin_url: str, seconds: int) -> float:
    if shutil.which("pgbench") is None:
        raise SystemExit("pgbench is not on PATH (Debian: apt-get install postgresql-contrib / postgresql-client)")
    with scratch_pg(admin_url, "qb_pgbench") as url:
        u = make_url(url)
        env = {**os.environ}
        if u.password:
            env["PGPASSWORD"] = u.password
        args = ["-h", u.host or "127.0.0.1", "-p", str(u.port or 5432), "-U", u.username or "postgres"]
        subprocess.run(["pgbench", *args, "-i", "-s", "10", "-q", u.database], env=env, check=True,
                       capture_output=True)
        out = subprocess.run(["pgbench", *args, "-c", str(WORKERS), "-j", "2", "-T", str(seconds), u.database],
                             env=env, check=True, capture_output=True, text=True).stdout
    match = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", out)
    if match is None:
        raise SystemExit(f"could not read pgbench's output:\n{out}")
    return float(match.group(1))


# --------------------------------------------------------------------------------------------- ledger


def prepare(url: str) -> tuple[int, list[int]]:
    """A migrated database with a bank clearing account and 10,000 funded wallets."""
    db = Database(url)
    migrate.upgrade(db.engine)
    with db.transaction() as s:
        bank = ledger.open_account(s, "bank_clearing", code="BENCH-BANK").id
        wallets = [ledger.open_account(s, "customer_wallet", code=f"BENCH-W{i:05d}").id for i in range(WALLETS)]
    for start in range(0, WALLETS, BATCH):
        with db.transaction() as s:
            ledger.create_transfers(s, [NewTransfer(f"fund-{w}", bank, w, FUNDING, "topup")
                                        for w in wallets[start:start + BATCH]])
    db.dispose()
    return bank, wallets


@dataclass
class Result:
    label: str
    count: int
    seconds: float
    latencies: list[float]
    # This process's CPU time per batch (thread CPU: for SQLite all of the work, for PostgreSQL the
    # client's share). On a shared machine the wall clock also counts other processes' turns.
    cpu: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.count / self.seconds

    def line(self, unit: str = "transfers/s", per: str = "transfer") -> str:
        text = (f"{self.label:<46} {self.rate:>10,.0f} {unit}   p50 {percentile(self.latencies, .5) * 1000:7.2f} ms"
                f"   p99 {percentile(self.latencies, .99) * 1000:7.2f} ms per {per}")
        if self.cpu:
            text += f"   (CPU p50 {percentile(self.cpu, .5) * 1000:.2f} ms)"
        return text


def _single_worker(url: str, accounts: list[int], seconds: float, seed: int, start_at: float,
                   queue: mp.Queue) -> None:
    db = Database(url, pool_size=1, max_overflow=0)
    rnd = random.Random(seed)
    latencies: list[float] = []
    refused = 0
    prefix = f"s{seed}-{uuid.uuid4().hex[:6]}"
    n = 0
    while time.time() < start_at:
        time.sleep(0.001)
    end = time.perf_counter() + seconds
    while True:
        debit, credit = rnd.sample(accounts, 2)
        begin = time.perf_counter()
        if begin >= end:
            break
        try:
            with db.transaction() as s:
                ledger.create_transfer(s, key=f"{prefix}-{n}", debit=debit, credit=credit,
                                       amount=rnd.randint(1, 10_000), code="p2p")
        except Exception:
            refused += 1
        latencies.append(time.perf_counter() - begin)
        n += 1
    db.dispose()
    queue.put((len(latencies) - refused, latencies, refused))


def single(url: str, accounts: list[int], seconds: float, label: str) -> Result:
    ctx = mp.get_context("fork")
    queue: mp.Queue = ctx.Queue()
    start_at = time.time() + 1.0
    procs = [ctx.Process(target=_single_worker, args=(url, accounts, seconds, i, start_at, queue))
             for i in range(WORKERS)]
    for p in procs:
        p.start()
    done, latencies, refused = 0, [], 0
    for _ in procs:
        count, lats, bad = queue.get()
        done, refused = done + count, refused + bad
        latencies += lats
    for p in procs:
        p.join()
    if refused:
        print(f"  ({refused} transfers failed: see the ledger's errors)")
    return Result(label, done, seconds, latencies)


def batched(url: str, wallets: list[int], batches: int, label: str, *, memory: bool = False) -> Result:
    db = Database(url)
    rnd = random.Random(7)
    prefix = uuid.uuid4().hex[:6]
    latencies: list[float] = []
    cpu: list[float] = []
    busy = 0.0
    rss_start = rss_end = rss_max = 0.0
    for b in range(batches):
        items = []
        for j in range(BATCH):
            debit, credit = rnd.sample(wallets, 2)
            items.append(NewTransfer(f"{prefix}-{b}-{j}", debit, credit, rnd.randint(1, 10_000), "bulk"))
        begin, cpu_begin = time.perf_counter(), time.thread_time()
        with db.transaction() as s:
            results = ledger.create_transfers(s, items)
        took = time.perf_counter() - begin
        cpu.append(time.thread_time() - cpu_begin)
        busy += took
        latencies.append(took)
        if not all(r.ok for r in results):
            raise SystemExit(f"batch {b} refused {sum(not r.ok for r in results)} transfers")
        if memory:
            rss = rss_mib()
            if b == 9:  # after warm-up: pools, prepared statements, caches filled
                rss_start = rss
            rss_max = max(rss_max, rss)
            rss_end = rss
            if b % 100 == 99:
                print(f"    {(b + 1) * BATCH:>9,} transfers   RSS {rss:7.1f} MiB", flush=True)
    db.dispose()
    result = Result(label, batches * BATCH, busy, latencies, cpu)
    if memory:
        result.label += f"  [RSS {rss_start:.1f} → {rss_end:.1f} MiB, max {rss_max:.1f}]"
    return result


def check(url: str) -> tuple[bool, float, int]:
    db = Database(url)
    begin = time.perf_counter()
    with db.read() as s:
        report = ledger.check_invariants(s)
    took = time.perf_counter() - begin
    db.dispose()
    return report.ok, took, report.transfers


# ----------------------------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg-url", default=os.environ.get("QIANBAO_BENCH_PG_URL",
                                                           "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--seconds", type=int, default=20, help="duration of pgbench and of each single run")
    parser.add_argument("--batches", type=int, default=50, help="batches of 1,000 in each batched run")
    parser.add_argument("--million-on", choices=["postgresql", "sqlite", "none"], default="postgresql",
                        help="where to run the 1,000,000-transfer memory run")
    parser.add_argument("--quick", action="store_true", help="smaller runs, for trying the script out")
    parser.add_argument("--only", choices=["all", "postgresql", "sqlite"], default="all",
                        help="run only one database's part (pgbench and the summary come with postgresql)")
    parser.add_argument("--sqlite-runs", type=int, default=1,
                        help="repeat the SQLite uniform batched run on fresh files; prints the best and the median")
    args = parser.parse_args()
    million = 100 if args.quick else 1_000
    if args.quick:
        args.batches = min(args.batches, 10)

    print("Qianbao ledger benchmark")
    for line in machine(args.pg_url):
        print("  " + line)
    print()
    if args.only == "sqlite":
        sqlite_part(args, million)
        return

    print(f"pgbench -i -s 10; pgbench -c {WORKERS} -j 2 -T {args.seconds} …", flush=True)
    tps = run_pgbench(args.pg_url, args.seconds)
    print(f"{'pgbench TPC-B-like, 8 clients':<46} {tps:>10,.0f} tps")
    print()

    rows: list[Result] = []
    with scratch_pg(args.pg_url, "qb_bench") as url:
        print("PostgreSQL: preparing 10,000 funded wallets …", flush=True)
        _bank, wallets = prepare(url)
        uniform = single(url, wallets, args.seconds, "single, 8 workers, uniform over 10,000")
        print(uniform.line() + f"   = {uniform.rate / tps:.2f} × pgbench", flush=True)
        hot = single(url, wallets[:HOT], args.seconds, "single, 8 workers, 8 hot accounts")
        print(hot.line() + f"   = {hot.rate / tps:.2f} × pgbench", flush=True)
        pg_batched = batched(url, wallets, args.batches, "batched ×1,000, uniform over 10,000")
        print(pg_batched.line(per="batch"), flush=True)
        rows += [uniform, hot, pg_batched]
        if args.million_on == "postgresql":
            print(f"PostgreSQL: {million * BATCH:,} batched transfers for the memory check …", flush=True)
            mem = batched(url, wallets, million, f"batched, {million * BATCH:,} transfers", memory=True)
            rows.append(mem)
            print(mem.line(per="batch"), flush=True)
        ok, took, count = check(url)
        print(f"check_invariants over {count:,} journal rows: {'pass' if ok else 'FAIL'} in {took:.1f} s")
        if not ok:
            raise SystemExit(1)
    print()

    if args.only == "postgresql":
        print(f"single uniform / pgbench = {uniform.rate / tps:.2f}  (target ≥ 0.50)")
        print(f"batched PostgreSQL       = {pg_batched.rate:,.0f}/s (target ≥ 20,000)")
        return
    lite = sqlite_part(args, million)

    print()
    print(f"single uniform / pgbench = {uniform.rate / tps:.2f}  (target ≥ 0.50)")
    print(f"batched PostgreSQL       = {pg_batched.rate:,.0f}/s (target ≥ 20,000)")
    print(f"batched SQLite           = {lite.rate:,.0f}/s (target ≥ 50,000)")


def sqlite_part(args: argparse.Namespace, million: int) -> Result:
    """Batched transfers on SQLite, each run on a fresh file; returns the best uniform run."""
    runs: list[Result] = []
    for n in range(max(1, args.sqlite_runs)):
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{Path(tmp) / 'bench.db'}"
            print("SQLite: preparing 10,000 funded wallets …", flush=True)
            _bank, wallets = prepare(url)
            lite = batched(url, wallets, args.batches, "SQLite batched ×1,000, uniform over 10,000")
            print(lite.line(per="batch") + f"   (load average {os.getloadavg()[0]:.2f})", flush=True)
            runs.append(lite)
            if n == 0:
                lite_hot = batched(url, wallets[:HOT], args.batches, "SQLite batched ×1,000, 8 hot accounts")
                print(lite_hot.line(per="batch"), flush=True)
                if args.million_on == "sqlite":
                    print(f"SQLite: {million * BATCH:,} batched transfers for the memory check …", flush=True)
                    mem = batched(url, wallets, million, f"SQLite batched, {million * BATCH:,} transfers",
                                  memory=True)
                    print(mem.line(per="batch"), flush=True)
                ok, took, count = check(url)
                print(f"check_invariants over {count:,} journal rows: {'pass' if ok else 'FAIL'} in {took:.1f} s")
                if not ok:
                    raise SystemExit(1)
    rates = sorted(r.rate for r in runs)
    if len(runs) > 1:
        print(f"SQLite uniform over {len(runs)} runs: best {rates[-1]:,.0f}/s, median {rates[len(rates) // 2]:,.0f}/s")
    return max(runs, key=lambda r: r.rate)


if __name__ == "__main__":
    sys.exit(main())
