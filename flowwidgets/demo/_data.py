"""The demo's data folder: seed files, and the failure switches shared across processes.

Layout of a prepared folder::

    source/orders.csv  payments.csv  customers.csv  inventory.csv   seeded inputs
    switches.json                                                 failure switches
    staging/<run id>/   per-run intermediate files of warehouse_etl and customers_sync
    warehouse.sqlite    fact_orders, dim_customers, inventory_snapshots
    stream.sqlite       events (a rolling window) and event_counts of events_stream
    exports/  reports/  state/

The switches live in a JSON file so a notebook can flip them while the runner (another
process) executes the steps that read them.
"""

from __future__ import annotations

import csv
import json
import os
import random
import threading
from datetime import datetime, timedelta
from pathlib import Path

__all__ = [
    "DATA_ENV",
    "FAILURE_POINTS",
    "default_data_dir",
    "failure_enabled",
    "pipelines_path",
    "prepare",
    "set_failure",
]

DATA_ENV = "FLOWWIDGETS_DEMO_DATA"
"""Environment variable naming the demo data folder (see :func:`default_data_dir`)."""
FAILURE_POINTS = {"merge_payments": True, "events_stream": False}
"""Steps that fail while their switch is on, with the switch's default."""
SWITCH_FILE = "switches.json"
SEED = 47
_SEED_DAY = datetime(2026, 11, 1)


def pipelines_path() -> Path:
    """The packaged demo pipelines file."""
    return Path(__file__).with_name("pipelines.yaml")


def default_data_dir() -> Path:
    """``$FLOWWIDGETS_DEMO_DATA``, else ``$XDG_DATA_HOME/flowwidgets/demo`` (~/.local/share)."""
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV]).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "flowwidgets" / "demo"


def _folder(data_dir: str | os.PathLike[str] | None) -> Path:
    return Path(data_dir).expanduser() if data_dir is not None else default_data_dir()


def _switches(folder: Path) -> dict[str, bool]:
    try:
        raw = json.loads((folder / SWITCH_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raw = {}
    raw = raw if isinstance(raw, dict) else {}
    return {k: raw[k] if isinstance(raw.get(k), bool) else d for k, d in FAILURE_POINTS.items()}


def failure_enabled(data_dir: str | os.PathLike[str] | None = None, *,
                    step: str = "merge_payments") -> bool:
    """Whether ``step`` fails on purpose now (read from the folder's switch file each call)."""
    _known(step)
    return _switches(_folder(data_dir))[step]


def set_failure(on: bool, data_dir: str | os.PathLike[str] | None = None, *,
                step: str = "merge_payments") -> None:
    """Turn the failure of ``step`` on or off for every process using ``data_dir``.

    ``merge_payments`` raises ``ValueError("amount column missing in batch 47")`` while on
    (the default); ``events_stream`` fails after a few batches while on (default off).
    """
    _known(step)
    folder = _folder(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    switches = _switches(folder)
    switches[step] = bool(on)
    tmp = folder / f".{SWITCH_FILE}.{os.getpid()}.{threading.get_ident()}.tmp"
    tmp.write_text(json.dumps(switches, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, folder / SWITCH_FILE)  # atomic: a reader sees the old or the new file


def _known(step: str) -> None:
    if step not in FAILURE_POINTS:
        raise ValueError(f"no failure switch for step {step!r}; switches: "
                         f"{', '.join(FAILURE_POINTS)}")


def prepare(data_dir: str | os.PathLike[str] | None = None, *,
            failure: bool | None = True) -> Path:
    """Create the demo data folder with its seed files; return its absolute path.

    Existing seed files are kept (the call is idempotent). ``failure`` sets the
    merge_payments switch (None leaves it as it is), so a freshly prepared demo shows a
    failed warehouse run to restart.
    """
    folder = _folder(data_dir).resolve()
    for sub in ("source", "staging", "exports", "reports", "state"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    rng = random.Random(SEED)
    customers = _customers(rng)
    orders, payments = _orders(rng, customers)
    seeds = {"customers.csv": customers, "orders.csv": orders, "payments.csv": payments,
             "inventory.csv": _inventory(rng)}
    for name, rows in seeds.items():
        path = folder / "source" / name
        if not path.exists():
            tmp = path.with_suffix(".tmp")
            with tmp.open("w", newline="", encoding="utf-8") as f:
                writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
                writer.writeheader()
                writer.writerows(rows)
            os.replace(tmp, path)
    if failure is not None:
        set_failure(failure, folder)
    return folder


_FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Margaret", "Dennis", "Frances",
          "Donald", "Radia", "Tim", "Katherine", "Linus", "Hedy", "John"]
_LAST = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Thompson", "Hamilton",
         "Ritchie", "Allen", "Knuth", "Perlman", "Berners-Lee", "Johnson", "Torvalds"]
_COUNTRIES = ["US", "US", "US", "CA", "MX", "GB", "DE", "FR", "JP", "BR"]


def _customers(rng: random.Random) -> list[dict[str, object]]:
    rows = []
    for i in range(1, 241):
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        updated = _SEED_DAY - timedelta(days=rng.randint(0, 90), minutes=rng.randint(0, 1439))
        rows.append({"customer_id": f"C-{1000 + i}", "name": f"{first} {last}",
                     "email": f"{first}.{last}{i}@example.com".lower(),
                     "country": rng.choice(_COUNTRIES), "opt_in": int(rng.random() < 0.55),
                     "updated_at": updated.isoformat(timespec="seconds")})
    return rows


def _orders(rng: random.Random, customers: list[dict[str, object]]
            ) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    orders: list[dict[str, object]] = []
    payments: list[dict[str, object]] = []
    for i in range(1, 601):
        created = _SEED_DAY + timedelta(minutes=rng.randint(0, 14 * 1440 - 1))
        amount = rng.randint(5, 400) * 100 + rng.choice([0, 49, 95, 99])
        status = rng.choices(["placed", "shipped", "cancelled"], [30, 65, 5])[0]
        order_id = f"O-{10000 + i}"
        orders.append({"order_id": order_id, "customer_id": rng.choice(customers)["customer_id"],
                       "created_at": created.isoformat(timespec="seconds"), "status": status,
                       "amount_cents": amount})
        if status == "cancelled":
            continue
        paid = amount if rng.random() > 0.08 else amount * rng.randint(0, 3) // 4
        parts = [paid] if paid == 0 or rng.random() > 0.2 else [paid // 2, paid - paid // 2]
        for n, part in enumerate(p for p in parts if p):
            payments.append({"payment_id": f"P-{order_id[2:]}-{n + 1}", "order_id": order_id,
                             "method": rng.choice(["card", "card", "paypal", "bank"]),
                             "amount_cents": part})
    return orders, payments


def _inventory(rng: random.Random) -> list[dict[str, object]]:
    return [{"sku": f"SKU-{100 + i}", "warehouse": wh, "on_hand": rng.randint(0, 500),
             "unit_cost_cents": rng.randint(2, 250) * 100}
            for i in range(40) for wh in ("DFW", "ORD", "RNO")]
