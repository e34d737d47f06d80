"""The demo's step functions: small but real work on the files and SQLite of the data folder.

Each function is a ``call`` target of ``pipelines.yaml``. It receives its upstream steps'
outputs by name and the runner's ``ctx`` (``data_dir``, ``run_id``, ``attempt``, ``log``,
``watermark``, ``commit``, ``should_stop``), and returns a small JSON-serialisable output;
file outputs are paths relative to ``ctx.data_dir``. Steps are paced to take 50-500 ms so
the views have something to show; ``$FLOWWIDGETS_DEMO_PACE`` scales that (0 = no pauses).
"""

from __future__ import annotations

import csv
import json
import os
import random
import re
import sqlite3
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flowwidgets.demo._data import failure_enabled

PACE_ENV = "FLOWWIDGETS_DEMO_PACE"
STREAM_BATCH = 25
"""Events per streaming batch."""
STREAM_INTERVAL_S = 0.5
STREAM_WINDOW = 5000
"""Events kept in stream.sqlite (a rolling window)."""
_EVENT_KINDS = ["page_view"] * 6 + ["add_to_cart"] * 3 + ["checkout", "refund"]


# ------------------------------------------------------------------------- warehouse_etl


def extract_orders(ctx: Any) -> dict[str, Any]:
    """Copy the shop's orders and payments into this run's staging folder."""
    orders = _read_csv(ctx, "source/orders.csv")
    payments = _read_csv(ctx, "source/payments.csv")
    out = _run_dir(ctx)
    _write_json(out / "orders_raw.json", orders)
    _write_json(out / "payments_raw.json", payments)
    ctx.log(f"extracted {len(orders)} orders and {len(payments)} payments")
    _pace(0.3)
    return {"orders": _rel(ctx, out / "orders_raw.json"), "orders_rows": len(orders),
            "payments": _rel(ctx, out / "payments_raw.json"), "payments_rows": len(payments)}


def transform_orders(extract_orders: dict[str, Any], ctx: Any) -> dict[str, Any]:
    """Drop cancelled and duplicate orders, type the amounts."""
    clean: dict[str, dict[str, Any]] = {}
    for row in _read_json(ctx, extract_orders["orders"]):
        if row["status"] != "cancelled":
            clean[row["order_id"]] = {**row, "amount_cents": int(row["amount_cents"])}
    out = _run_dir(ctx) / "orders.json"
    _write_json(out, list(clean.values()))
    dropped = extract_orders["orders_rows"] - len(clean)
    ctx.log(f"kept {len(clean)} orders, dropped {dropped} cancelled or duplicate")
    _pace(0.2)
    return {"path": _rel(ctx, out), "rows": len(clean), "dropped": dropped}


def transform_payments(extract_orders: dict[str, Any], ctx: Any) -> dict[str, Any]:
    """Sum the payments of each order and note how it was paid."""
    paid: dict[str, int] = defaultdict(int)
    methods: dict[str, set[str]] = defaultdict(set)
    rows = _read_json(ctx, extract_orders["payments"])
    for row in rows:
        paid[row["order_id"]] += int(row["amount_cents"])
        methods[row["order_id"]].add(row["method"])
    by_order = {k: {"paid_cents": v, "methods": sorted(methods[k])} for k, v in paid.items()}
    out = _run_dir(ctx) / "payments_by_order.json"
    _write_json(out, by_order)
    ctx.log(f"{len(rows)} payments over {len(by_order)} orders")
    _pace(0.25)
    return {"path": _rel(ctx, out), "orders": len(by_order), "payments": len(rows)}


def merge_payments(transform_orders: dict[str, Any], transform_payments: dict[str, Any],
                   ctx: Any) -> dict[str, Any]:
    """Join orders with their payments; fails while the demo's failure switch is on."""
    orders = _read_json(ctx, transform_orders["path"])
    paid = _read_json(ctx, transform_payments["path"])
    _pace(0.15)
    if failure_enabled(ctx.data_dir, step="merge_payments"):
        raise ValueError("amount column missing in batch 47")
    merged = []
    for o in orders:
        got = paid.get(o["order_id"], {"paid_cents": 0})["paid_cents"]
        state = "paid" if got >= o["amount_cents"] else "partial" if got else "unpaid"
        merged.append({**o, "paid_cents": got, "payment_status": state})
    out = _run_dir(ctx) / "merged.json"
    _write_json(out, merged)
    counts = Counter(m["payment_status"] for m in merged)
    ctx.log(f"merged {len(merged)} orders: {dict(counts)}")
    return {"path": _rel(ctx, out), "rows": len(merged), "unpaid": counts["unpaid"],
            "partial": counts["partial"]}


def load_warehouse(merge_payments: dict[str, Any], ctx: Any) -> dict[str, Any]:
    """Upsert the merged orders into warehouse.sqlite's fact_orders."""
    rows = _read_json(ctx, merge_payments["path"])
    with _db(ctx) as db, db:
        db.execute("CREATE TABLE IF NOT EXISTS fact_orders (order_id TEXT PRIMARY KEY, "
                   "customer_id TEXT, created_at TEXT, amount_cents INTEGER, paid_cents "
                   "INTEGER, payment_status TEXT, loaded_by TEXT)")
        db.executemany(
            "INSERT INTO fact_orders VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(order_id) DO "
            "UPDATE SET paid_cents = excluded.paid_cents, payment_status = "
            "excluded.payment_status, loaded_by = excluded.loaded_by",
            [(r["order_id"], r["customer_id"], r["created_at"], r["amount_cents"],
              r["paid_cents"], r["payment_status"], str(ctx.run_id)) for r in rows])
        total = db.execute("SELECT count(*) FROM fact_orders").fetchone()[0]
    ctx.log(f"loaded {len(rows)} rows; fact_orders has {total}")
    _pace(0.3)
    return {"table": "fact_orders", "rows": len(rows), "total": total}


# ------------------------------------------------------------------------- events_stream


def consume_events(ctx: Any) -> dict[str, Any]:
    """Process event batches until asked to stop, committing the offset after each batch.

    Starts from ``ctx.watermark`` (an event offset) so a resumed run continues where the
    failed one left off; re-processing a batch is harmless (events are keyed by offset).
    """
    offset = _offset(ctx.watermark)
    batches = 0
    with _db(ctx, "stream.sqlite") as db:
        with db:
            db.execute("CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, "
                       "kind TEXT, user_id TEXT, amount_cents INTEGER, received_at TEXT)")
            db.execute("CREATE TABLE IF NOT EXISTS event_counts (kind TEXT PRIMARY KEY, "
                       "n INTEGER)")
        while not ctx.should_stop():
            if batches >= 3 and failure_enabled(ctx.data_dir, step="events_stream"):
                raise ValueError(f"malformed event at offset {offset}: field 'user_id' is null")
            events = [_event(i) for i in range(offset, offset + STREAM_BATCH)]
            with db:
                db.executemany("INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?)", events)
                db.execute("DELETE FROM events WHERE seq < ?",
                           (offset + STREAM_BATCH - STREAM_WINDOW,))
                db.execute("DELETE FROM event_counts")
                db.execute("INSERT INTO event_counts SELECT kind, count(*) FROM events "
                           "GROUP BY kind")
            offset += STREAM_BATCH
            ctx.commit(str(offset), rows=STREAM_BATCH)
            batches += 1
            ctx.log(f"batch {batches}: {STREAM_BATCH} events, watermark {offset}")
            _wait(ctx, STREAM_INTERVAL_S)
    return {"watermark": str(offset), "batches": batches}


def _offset(watermark: Any) -> int:
    if watermark is None:
        return 0
    if not re.fullmatch(r"\d{1,18}", str(watermark)):
        raise ValueError(f"watermark {str(watermark)[:40]!r} is not an event offset")
    return int(watermark)


def _event(i: int) -> tuple[int, str, str, int, str]:
    rng = random.Random(i)
    kind = rng.choice(_EVENT_KINDS)
    amount = rng.randint(5, 300) * 100 if kind in ("checkout", "refund") else 0
    now = datetime.now(UTC).isoformat(timespec="milliseconds")
    return (i, kind, f"U-{rng.randint(1, 500)}", amount, now)


def _wait(ctx: Any, seconds: float) -> None:
    deadline = time.monotonic() + seconds * _pace_factor()
    while time.monotonic() < deadline and not ctx.should_stop():
        time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))


# ------------------------------------------------------------------------ customers_sync


def pull_customers(ctx: Any) -> dict[str, Any]:
    """Pull the CRM's customers; every other sync's first attempt times out (then retries)."""
    state_file = Path(ctx.data_dir) / "state" / "customers_sync.json"
    if ctx.attempt == 1:
        state = json.loads(state_file.read_text()) if state_file.exists() else {"pulls": 0}
        state["pulls"] += 1
        _write_json(state_file, state)
        if state["pulls"] % 2 == 1:
            _pace(0.1)
            raise ConnectionError(f"CRM API timed out (pull #{state['pulls']}); retrying")
    rows = _read_csv(ctx, "source/customers.csv")
    out = _run_dir(ctx) / "customers.json"
    _write_json(out, rows)
    _pace(0.2)
    return {"path": _rel(ctx, out), "rows": len(rows)}


def upsert_customers(pull_customers: dict[str, Any], ctx: Any) -> dict[str, Any]:
    """Upsert the pulled customers into warehouse.sqlite's dim_customers."""
    rows = _read_json(ctx, pull_customers["path"])
    with _db(ctx) as db, db:
        db.execute("CREATE TABLE IF NOT EXISTS dim_customers (customer_id TEXT PRIMARY KEY, "
                   "name TEXT, email TEXT, country TEXT, opt_in INTEGER, updated_at TEXT)")
        before = db.execute("SELECT count(*) FROM dim_customers").fetchone()[0]
        db.executemany("INSERT OR REPLACE INTO dim_customers VALUES (?, ?, ?, ?, ?, ?)",
                       [(r["customer_id"], r["name"], r["email"], r["country"],
                         int(r["opt_in"]), r["updated_at"]) for r in rows])
        after = db.execute("SELECT count(*) FROM dim_customers").fetchone()[0]
    _pace(0.15)
    return {"table": "dim_customers", "rows": len(rows), "inserted": after - before,
            "updated": len(rows) - (after - before)}


# -------------------------------------------------------------------- inventory_snapshot


def count_stock(ctx: Any) -> dict[str, Any]:
    """Units on hand per warehouse."""
    units: Counter[str] = Counter()
    rows = _read_csv(ctx, "source/inventory.csv")
    for row in rows:
        units[row["warehouse"]] += int(row["on_hand"])
    _pace(0.12)
    return {"units": dict(sorted(units.items())), "skus": len({r["sku"] for r in rows})}


def value_stock(ctx: Any) -> dict[str, Any]:
    """Stock value per warehouse, at unit cost."""
    value: Counter[str] = Counter()
    for row in _read_csv(ctx, "source/inventory.csv"):
        value[row["warehouse"]] += int(row["on_hand"]) * int(row["unit_cost_cents"])
    _pace(0.18)
    return {"value_cents": dict(sorted(value.items()))}


def write_snapshot(count_stock: dict[str, Any], value_stock: dict[str, Any],
                   ctx: Any) -> dict[str, Any]:
    """Append today's stock levels to warehouse.sqlite's inventory_snapshots."""
    taken = datetime.now(UTC).isoformat(timespec="seconds")
    rows = [(taken, str(ctx.run_id), wh, n, value_stock["value_cents"].get(wh, 0))
            for wh, n in count_stock["units"].items()]
    with _db(ctx) as db, db:
        db.execute("CREATE TABLE IF NOT EXISTS inventory_snapshots (taken_at TEXT, run_id "
                   "TEXT, warehouse TEXT, units INTEGER, value_cents INTEGER)")
        db.executemany("INSERT INTO inventory_snapshots VALUES (?, ?, ?, ?, ?)", rows)
        total = db.execute("SELECT count(DISTINCT run_id) FROM inventory_snapshots").fetchone()
    _pace(0.1)
    return {"rows": len(rows), "snapshots": total[0]}


# ---------------------------------------------------------------------- marketing_export


def select_audience(ctx: Any) -> dict[str, Any]:
    """Write the opted-in customers to exports/audience.csv (compressed by the next step)."""
    rows = [r for r in _read_csv(ctx, "source/customers.csv") if r["opt_in"] == "1"]
    out = Path(ctx.data_dir) / "exports" / "audience.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["email", "name", "country"])
        writer.writerows([r["email"], r["name"], r["country"]] for r in rows)
    _pace(0.15)
    return {"path": _rel(ctx, out), "rows": len(rows)}


# ------------------------------------------------------------------------ revenue_report


def summarise_revenue(ctx: Any) -> dict[str, Any]:
    """Daily revenue from the warehouse's fact_orders (empty until warehouse_etl loads)."""
    with _db(ctx) as db, db:
        db.execute("CREATE TABLE IF NOT EXISTS fact_orders (order_id TEXT PRIMARY KEY, "
                   "customer_id TEXT, created_at TEXT, amount_cents INTEGER, paid_cents "
                   "INTEGER, payment_status TEXT, loaded_by TEXT)")
        days = db.execute("SELECT substr(created_at, 1, 10) AS day, count(*), "
                          "sum(amount_cents), sum(paid_cents) FROM fact_orders "
                          "GROUP BY day ORDER BY day").fetchall()
    summary = [{"day": d, "orders": n, "billed_cents": b, "paid_cents": p}
               for d, n, b, p in days]
    out = Path(ctx.data_dir) / "reports" / "revenue_daily.json"
    _write_json(out, summary)
    if not summary:
        ctx.log("fact_orders is empty: warehouse_etl has not loaded anything yet")
    _pace(0.2)
    return {"path": _rel(ctx, out), "days": len(summary),
            "billed_cents": sum(s["billed_cents"] for s in summary)}


def publish_report(summarise_revenue: dict[str, Any], ctx: Any) -> dict[str, Any]:
    """Render the daily revenue as a Markdown table in reports/revenue.md."""
    days = _read_json(ctx, summarise_revenue["path"])
    lines = ["# Daily revenue", "", "| day | orders | billed | paid |", "|---|---:|---:|---:|"]
    lines += [f"| {d['day']} | {d['orders']} | {d['billed_cents'] / 100:,.2f} | "
              f"{d['paid_cents'] / 100:,.2f} |" for d in days]
    if not days:
        lines.append("| (no orders loaded yet) | | | |")
    out = Path(ctx.data_dir) / "reports" / "revenue.md"
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _pace(0.1)
    return {"path": _rel(ctx, out), "days": len(days)}


# ------------------------------------------------------------------------------- helpers


def _pace_factor() -> float:
    try:
        return min(10.0, max(0.0, float(os.environ.get(PACE_ENV, "1"))))
    except ValueError:
        return 1.0


def _pace(seconds: float) -> None:
    """Pause so the step takes a visible time in the demo (scaled by $FLOWWIDGETS_DEMO_PACE)."""
    if (factor := _pace_factor()) > 0:
        time.sleep(seconds * factor)


def _run_dir(ctx: Any) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", str(ctx.run_id))[:80].lstrip(".") or "run"
    path = Path(ctx.data_dir) / "staging" / safe
    path.mkdir(parents=True, exist_ok=True)
    return path


def _inside(ctx: Any, rel: str) -> Path:
    root = Path(ctx.data_dir).resolve()
    path = (root / rel).resolve()
    if not path.is_relative_to(root):
        raise ValueError(f"path {rel[:80]!r} is outside the data folder")
    return path


def _rel(ctx: Any, path: Path) -> str:
    return path.resolve().relative_to(Path(ctx.data_dir).resolve()).as_posix()


def _read_csv(ctx: Any, rel: str) -> list[dict[str, str]]:
    path = _inside(ctx, rel)
    if not path.exists():
        raise FileNotFoundError(f"{rel} is missing in {ctx.data_dir}; run "
                                "flowwidgets.demo.prepare(data_dir) first")
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _read_json(ctx: Any, rel: str) -> Any:
    return json.loads(_inside(ctx, rel).read_text(encoding="utf-8"))


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, path)


@contextmanager
def _db(ctx: Any, name: str = "warehouse.sqlite") -> Iterator[sqlite3.Connection]:
    """A connection to one of the demo's SQLite files (WAL, waits for writers), closed after."""
    with closing(sqlite3.connect(Path(ctx.data_dir) / name, timeout=30)) as db:
        db.execute("PRAGMA journal_mode=WAL")
        yield db
