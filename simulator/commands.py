"""``carbonledger simulate …``: the simulated city's registry, its readings over MQTT, a look at it.

* ``simulate register`` writes the city's enterprises, gateways and meters into the registry;
* ``simulate run`` publishes readings: a fast-forward over ``--from``..``--to`` (history, as fast
  as the broker acknowledges) and/or ``--live`` (real time, or ``--speed`` times faster);
* ``simulate history`` writes the rollups the meters would produce (COPY), for benchmarks;
* ``simulate city`` prints what the city is made of.

psycopg is imported only by ``register``; ``run`` needs nothing but the broker.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

from carbonledger.config import Settings
from carbonledger.mqtt import MqttEndpoint
from carbonledger.tz import SHANGHAI

from .city import City, Meter, build_city, region_names
from .profiles import HOUR
from .publisher import FleetPublisher, PublishStats, log_progress, publish_ticks
from .simulation import Fault, FaultRates, Simulation

log = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    simulate = subparsers.add_parser(
        "simulate",
        help="a simulated city of metered enterprises (Lishui, or a province)",
        description="A deterministic, seeded city of enterprises, gateways and meters.",
    )
    sub = simulate.add_subparsers(dest="simulate_command", metavar="ACTION", required=True)

    reg = sub.add_parser("register", help="write the city into the registry (idempotent)")
    _city_flags(reg)
    reg.set_defaults(func=_register)

    loans = sub.add_parser(
        "loans", help="write two simulated banks' loan books (the banks must exist; idempotent)"
    )
    _city_flags(loans)
    loans.set_defaults(func=_loans)

    _add_history_parser(sub)
    _add_run_parser(sub)

    projects = sub.add_parser(
        "projects", help="declare the demo's climate projects and a bank's loans to them"
    )
    _city_flags(projects)
    projects.add_argument("--bank", default=None, help="the bank lending to them (registered)")
    projects.set_defaults(func=_projects)

    show = sub.add_parser("city", help="print the city: districts, industries, meters")
    _city_flags(show)
    show.add_argument("--json", action="store_true", help="the whole city as JSON")
    show.set_defaults(func=_city)


def _add_history_parser(sub: Any) -> None:
    history = sub.add_parser(
        "history",
        help="write the city's 15-minute rollups directly (COPY), for benchmarks",
        description="Write the rollups the city's meters would produce over local days, without "
        "publishing a reading (register the city first). Idempotent: days written again are "
        "replaced. --months N: the N months before --to (plus --to's month so far).",
    )
    _city_flags(history)
    history.add_argument(
        "--to",
        dest="end",
        type=date.fromisoformat,
        default=None,
        metavar="YYYY-MM-DD",
        help="the day after the last one written (default: today, Asia/Shanghai)",
    )
    span = history.add_mutually_exclusive_group()
    span.add_argument(
        "--months",
        type=_positive_int,
        default=None,
        metavar="N",
        help="whole months before --to's month (and that month up to --to)",
    )
    span.add_argument("--days", type=_positive_int, default=None, metavar="N",
                      help="the N days before --to")  # fmt: skip
    history.set_defaults(func=_history)


def _add_run_parser(sub: Any) -> None:
    run = sub.add_parser(
        "run",
        help="publish the city's readings over MQTT",
        description="Fast-forward over --from..--to, then (with --live) continue in real time. "
        "Without --from, --live is implied and starts now. Naive times are Asia/Shanghai.",
    )
    _city_flags(run)
    run.add_argument(
        "--from",
        dest="start",
        type=_instant,
        metavar="ISO8601",
        help="first reading time of the fast-forward",
    )
    run.add_argument(
        "--to",
        dest="end",
        type=_instant,
        metavar="ISO8601",
        help="last reading time of the fast-forward (default: now)",
    )
    run.add_argument("--live", action="store_true", help="continue in real time after --to")
    run.add_argument(
        "--speed",
        type=_positive_float,
        default=1.0,
        metavar="X",
        help="live mode: simulated seconds per wall-clock second (default 1)",
    )
    run.add_argument(
        "--faults",
        type=_faults,
        default=frozenset(),
        metavar="LIST",
        help=f"comma-separated faults to inject: {','.join(f.value for f in Fault)}",
    )
    run.add_argument(
        "--fault-scale",
        type=_positive_float,
        default=1.0,
        metavar="X",
        help="multiply the (low) default fault rates, e.g. 50 for a visible demo",
    )
    run.add_argument(
        "--interval",
        type=_interval,
        default=None,
        metavar="SECONDS",
        help="seconds between readings; must divide 3600 (default: settings)",
    )
    run.add_argument(
        "--max-readings",
        type=_positive_int,
        default=None,
        metavar="N",
        help="stop after the tick in which N readings have been published",
    )
    run.add_argument(
        "--anchor",
        type=_instant,
        default=None,
        metavar="ISO8601",
        help="instant the registers start from (default: --from, else now); pin it "
        "across runs to get identical readings for the same instants",
    )
    run.set_defaults(func=_run, parser=run)


def _city_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--enterprises",
        type=_positive_int,
        default=None,
        metavar="N",
        help="number of enterprises (default: settings simulator.enterprises)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        metavar="S",
        help="random seed of the city and its readings (default: settings)",
    )
    parser.add_argument(
        "--region",
        choices=region_names(),
        default=None,
        help="where the enterprises are: Lishui's nine districts or a province's cities"
        " (default: settings simulator.region)",
    )


def _city_of(args: argparse.Namespace, settings: Settings) -> City:
    enterprises = args.enterprises or settings.simulator.enterprises
    seed = settings.simulator.seed if args.seed is None else args.seed
    return build_city(enterprises, seed, args.region or settings.simulator.region)


# -- argument types: a bad value is an argparse error naming the flag ----------------------------


def _instant(text: str) -> datetime:
    if text == "now":
        return datetime.now(SHANGHAI).replace(microsecond=0)
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 time such as 2026-03-01T00:00:00+08:00"
        ) from None
    return value if value.tzinfo is not None else value.replace(tzinfo=SHANGHAI)


def _faults(text: str) -> frozenset[Fault]:
    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    try:
        return frozenset(Fault(name) for name in names)
    except ValueError:
        unknown = [n for n in names if n not in {f.value for f in Fault}]
        raise argparse.ArgumentTypeError(
            f"unknown fault {unknown[0]!r}; choose from {', '.join(f.value for f in Fault)}"
        ) from None


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text} must be a positive, finite number")
    return value


def _interval(text: str) -> int:
    value = _positive_int(text)
    if HOUR % value:
        raise argparse.ArgumentTypeError(
            f"{value} s does not divide an hour; use e.g. 1, 5, 10, 15, 30 or 60"
        )
    return value


# -- handlers -------------------------------------------------------------------------------------


def _projects(args: argparse.Namespace, settings: Settings) -> int:
    import psycopg  # noqa: PLC0415 - `simulate run` needs no database driver

    from carbonledger.config import require_database_url  # noqa: PLC0415

    from .projects import register_projects  # noqa: PLC0415

    city = _city_of(args, settings)
    with psycopg.connect(require_database_url(settings), autocommit=True) as conn:
        lines = register_projects(conn, city, args.bank, datetime.now(SHANGHAI))
    for line in lines:
        print(line)  # noqa: T201
    return 0


def _register(args: argparse.Namespace, settings: Settings) -> int:
    # Imported here: `simulate run` and gateways never need a database driver.
    import psycopg  # noqa: PLC0415

    from carbonledger.config import require_database_url  # noqa: PLC0415

    from .registry import register_city, register_economics  # noqa: PLC0415

    city = _city_of(args, settings)
    with psycopg.connect(require_database_url(settings)) as conn:
        added = register_city(conn, city)
        economics = register_economics(conn, city, datetime.now(SHANGHAI).date())
    print(  # noqa: T201
        f"registry: added {added[0]} enterprises, {added[1]} gateways, {added[2]} meters, "
        f"{economics} economic-data rows written (city of {len(city.enterprises)} enterprises, "
        f"{len(city.meters)} meters, seed {city.seed})"
    )
    return 0


def _loans(args: argparse.Namespace, settings: Settings) -> int:
    import psycopg  # noqa: PLC0415

    from carbonledger.config import require_database_url  # noqa: PLC0415

    from .banks import register_loans  # noqa: PLC0415

    city = _city_of(args, settings)
    with psycopg.connect(require_database_url(settings)) as conn:
        written = register_loans(conn, city, datetime.now(SHANGHAI).date())
    for bank, count in written.items():
        print(f"loan book of {bank}: {count} loans added or changed")  # noqa: T201
    return 0


def _history(args: argparse.Namespace, settings: Settings) -> int:
    import psycopg  # noqa: PLC0415 - `simulate run` and gateways never need a database driver

    from carbonledger.config import require_database_url  # noqa: PLC0415

    from .history import write_city_history  # noqa: PLC0415 - loads analytics (Numba)

    city = _city_of(args, settings)
    end = args.end or datetime.now(SHANGHAI).date()
    if args.days is not None:
        first = end - timedelta(days=args.days)
    else:
        back = (end.year * 12 + end.month - 1) - (args.months or 1)
        first = date(back // 12, back % 12 + 1, 1)
    began = time.monotonic()
    total = (end - first).days

    def progress(day: date, rows: int) -> None:
        done = (day - first).days + 1
        elapsed = time.monotonic() - began
        print(  # noqa: T201
            f"history: {day} written ({done}/{total} days), {rows:,} rows, "
            f"{rows / max(elapsed, 1e-9):,.0f} rows/s, "
            f"~{elapsed / done * (total - done):.0f} s left",
            flush=True,
        )

    with psycopg.connect(require_database_url(settings)) as conn:
        report = write_city_history(conn, city, first, end, progress=progress)
    print(  # noqa: T201
        f"history: {report.rows:,} rollup rows for {report.series:,} series over "
        f"{report.days} days ({first}..{end - timedelta(days=1)}) "
        f"in {time.monotonic() - began:.0f} s"
    )
    return 0


@dataclass(frozen=True, slots=True)
class _Window:
    """What ``simulate run`` covers: a fast-forward over start..end and/or a live run."""

    start: datetime
    end: datetime | None  # None: no fast-forward, live from start
    live: bool
    interval: int


def _window(args: argparse.Namespace, settings: Settings) -> _Window:
    """Check the flags against each other; a conflict is an argparse error (exit 2)."""
    parser: argparse.ArgumentParser = args.parser
    now = datetime.now(SHANGHAI).replace(microsecond=0)
    live = args.live or args.start is None
    if args.end is not None and args.start is None:
        parser.error("--to needs --from (the fast-forward covers --from..--to)")
    end = args.end or (now if args.start is not None else None)
    if args.start is not None and end is not None and end < args.start:
        parser.error(f"--to {end.isoformat()} is before --from {args.start.isoformat()}")
    if args.speed != 1.0 and not live:
        parser.error("--speed applies to --live only (a fast-forward runs as fast as acked)")
    interval = args.interval or settings.simulator.interval_s
    if HOUR % interval:
        parser.error(f"simulator.interval_s = {interval} does not divide an hour")
    return _Window(args.start or now, end, live, interval)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    window = _window(args, settings)
    city = _city_of(args, settings)
    sim = Simulation(
        city,
        window.start,
        interval_s=window.interval,
        faults=args.faults,
        rates=FaultRates().scaled(args.fault_scale),
        anchor=args.anchor or window.start,
    )
    log.info(
        "simulating",
        extra={
            "enterprises": len(city.enterprises),
            "meters": len(city.meters),
            "readings_per_tick": city.readings_per_tick(),
            "interval_s": window.interval,
            "from": window.start.isoformat(),
            "to": window.end.isoformat() if window.end else None,
            "live": window.live,
            "speed": args.speed,
            "faults": ",".join(sorted(args.faults)) or "none",
        },
    )
    _publish(sim, window, args, settings)
    return 0


def _publish(
    sim: Simulation, window: _Window, args: argparse.Namespace, settings: Settings
) -> None:
    """Fast-forward, then go live, on one connection; a signal stops either after its tick."""
    stats = PublishStats(started=time.monotonic())
    stop = threading.Event()
    with (
        _stop_on_signals(stop),
        FleetPublisher(
            MqttEndpoint.from_url(settings.mqtt_url), root=settings.topic_root
        ) as publisher,
    ):
        publish = partial(
            publish_ticks, sim, publisher, stop=stop, max_readings=args.max_readings, stats=stats
        )
        if window.end is not None:  # held-back batches carry over into a following live run
            publish(end=window.end, drain=not window.live)
            log_progress(stats, publisher, "fast-forward done")
        if window.live:
            publish(speed=args.speed)
    log_progress(stats, publisher, "stopped; everything acknowledged")


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT/SIGTERM ask the run to finish its tick, flush and exit 0."""

    def request_stop(signum: int, frame: object) -> None:
        log.info("stop requested", extra={"signal": signal.Signals(signum).name})
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _city(args: argparse.Namespace, settings: Settings) -> int:
    city = _city_of(args, settings)
    summary = city.summary()
    if args.json:
        doc = {
            "summary": summary,
            "enterprises": [dataclasses.asdict(e) for e in city.enterprises],
            "gateways": [dataclasses.asdict(g) for g in city.gateways],
            "meters": [_meter_json(m) for m in city.meters],
        }
        print(json.dumps(doc, ensure_ascii=False, indent=2, default=str))  # noqa: T201
        return 0
    lines = [
        f"city (seed {city.seed}): {summary['enterprises']} enterprises, "
        f"{summary['meters']} meters, {summary['readings_per_tick']} readings per tick",
        "by district:   " + _counts(summary["by_district"]),
        "by size:       " + _counts(summary["by_size"]),
        "meters:        " + _counts(summary["meters_by_carrier"]),
        f"rollover-prone registers: {summary['rollover_prone']}",
        "by industry (GB/T 4754):",
        *(f"  {name}: {count}" for name, count in summary["by_industry"].items()),
        "enterprises:",
        *(
            f"  {e.code}  {e.industry_code}  {e.size_class:<6}  {e.district}  {e.name}  "
            f"({len(city.meters_of(g.id))} meters)"
            for e, g in zip(city.enterprises, city.gateways, strict=True)
        ),
    ]
    print("\n".join(lines))  # noqa: T201
    return 0


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {count}" for name, count in counts.items())


def _meter_json(meter: Meter) -> dict[str, Any]:
    doc = dataclasses.asdict(meter)
    doc["register_max"] = str(meter.register_max) if meter.register_max is not None else None
    doc["initial"] = str(meter.initial)
    return doc
