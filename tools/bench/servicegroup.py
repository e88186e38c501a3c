"""Heartbeat cost of the db servicegroup driver on SQLite and PostgreSQL.

    python tools/bench/servicegroup.py [--postgresql URL] [--seconds S]

For each database it prints:
- the most reports per second it absorbs, with 1 and with several
  processes x threads reporting back to back on 1000 distinct services;
- whether 1000 services reporting every 10 s (100 reports/s, paced) is
  sustained, with the 50th/99th percentile report latency;
- how long ``svc-manage service list`` takes with 1000 rows
  (API.get_all + state + table rendering, no process start).

Not a test: nothing passes or fails, the figures are for comparing changes.
"""

import argparse
import multiprocessing
import statistics
import tempfile
import threading
import time
import uuid

import sqlalchemy as sa

from svcframe import servicegroup
from svcframe.cmd import manage_service
from svcframe.cmd.manage import load_config
from svcframe.cmd.table import format_table
from svcframe.conf import database as database_conf
from svcframe.conf import servicegroup as servicegroup_conf

SERVICES = 1000
BINARY = "svc-bench"


def make_api(url):
    conf = load_config([], [])
    servicegroup_conf.register_opts(conf)
    database_conf.register_opts(conf)
    conf.set_override("connection", url, group="database")
    return servicegroup.API(conf)


def _flood(url, worker, threads, seconds, counts):
    """Report back to back on this worker's share of the services."""
    api = make_api(url)
    done = []

    def run(thread):
        n = 0
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            service = (worker * threads + thread + n * 64) % SERVICES
            api.driver.report(f"host-{service:04d}", BINARY)
            n += 1
        done.append(n)

    pool = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    counts.put(sum(done))


def max_throughput(url, processes, threads, seconds):
    context = multiprocessing.get_context("fork")
    counts = context.Queue()
    workers = [
        context.Process(target=_flood, args=(url, w, threads, seconds, counts))
        for w in range(processes)
    ]
    for worker in workers:
        worker.start()
    total = sum(counts.get() for _ in workers)
    for worker in workers:
        worker.join()
    return total / seconds


def _paced(url, worker, processes, rate, seconds, latencies):
    """This worker's share of `rate` reports per second, on a fixed schedule."""
    api = make_api(url)
    interval = processes / rate
    mine = [s for s in range(SERVICES) if s % processes == worker]
    samples = []
    start = time.monotonic()
    n = 0
    while True:
        due = start + n * interval
        if due - start >= seconds:
            break
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        began = time.monotonic()
        api.driver.report(f"host-{mine[n % len(mine)]:04d}", BINARY)
        samples.append(time.monotonic() - began)
        n += 1
    latencies.put((samples, time.monotonic() - start))


def sustained(url, rate, processes, seconds):
    context = multiprocessing.get_context("fork")
    latencies = context.Queue()
    workers = [
        context.Process(target=_paced, args=(url, w, processes, rate, seconds, latencies))
        for w in range(processes)
    ]
    for worker in workers:
        worker.start()
    results = [latencies.get() for _ in workers]
    for worker in workers:
        worker.join()
    samples = sorted(s for r in results for s in r[0])
    elapsed = max(r[1] for r in results)
    p99 = samples[int(len(samples) * 0.99) - 1]
    return len(samples) / elapsed, statistics.median(samples), p99


def listing_time(url, repeats=5):
    api = make_api(url)
    timings = []
    for _ in range(repeats):
        began = time.perf_counter()
        records = api.get_all()
        rows = [manage_service.table_row(manage_service.describe(api, r)) for r in records]
        format_table(manage_service.COLUMNS, rows)
        timings.append(time.perf_counter() - began)
    assert len(records) == SERVICES, len(records)
    api.close()
    return statistics.median(timings)


def seed(url):
    api = make_api(url)
    api.driver.sync_schema()
    for service in range(SERVICES):
        api.driver.report(f"host-{service:04d}", BINARY)
    api.close()


def bench(name, url, seconds):
    seed(url)
    print(f"\n{name}, {SERVICES} services")
    for processes, threads in ((1, 1), (2, 4), (4, 4)):
        rate = max_throughput(url, processes, threads, seconds)
        print(f"  max reports/s, {processes} process(es) x {threads} thread(s): {rate:8.0f}")
    rate, p50, p99 = sustained(url, rate=100, processes=4, seconds=seconds)
    verdict = "sustained" if rate >= 99 else "NOT sustained"
    print(
        f"  1000 services every 10 s (100 reports/s from 4 processes): {rate:.1f}/s {verdict}, "
        f"latency p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms"
    )
    print(
        f"  service list, {SERVICES} rows (get_all + state + table): "
        f"{listing_time(url) * 1000:.0f} ms"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--postgresql", default="postgresql+psycopg2://postgres@127.0.0.1/test", metavar="URL"
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="per measurement (5)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="svcframe-bench-") as directory:
        bench("SQLite (WAL)", f"sqlite:///{directory}/services.sqlite", args.seconds)

    # A schema of its own, so the bench never touches real registry tables.
    schema = f"sg_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(args.postgresql)
    with admin.begin() as connection:
        connection.execute(sa.text(f"CREATE SCHEMA {schema}"))
    try:
        url = sa.make_url(args.postgresql).update_query_dict({"options": f"-csearch_path={schema}"})
        bench("PostgreSQL", url.render_as_string(hide_password=False), args.seconds)
    finally:
        with admin.begin() as connection:
            connection.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


if __name__ == "__main__":
    main()
