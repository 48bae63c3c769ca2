"""Churn and soak over many tenants, then faults: one command that stops by itself.

The run starts its own redis-server (cache and revocations on db 0, Celery's
broker on db 1), a second PostgreSQL cluster (tenants placed on both servers),
FakeTwilio as the SMS provider (webhooks signed like Twilio's), gunicorn, a
Celery worker and Celery beat (the sweep every 5 s). Each church has an owner,
a token pair, a sending number and a few members. Client threads send a mix of
requests (members list/search/create/update/delete, templates, small
broadcasts, inbound webhooks and delivery receipts, conversation replies,
logins, token refreshes) to Zipf-picked tenants for `--duration` s, while a
sampler records the sessions per PostgreSQL server every second, those of each
process every 3 s (pg_stat_activity joined with `ss`) and the RSS of each
gunicorn worker every 5 s. A request fails when its status is not its op's
expected one (0: no HTTP answer). Then the fault scenarios, the mix running
throughout: `redis` (stopped for `--outage` s, started again empty), `dbdown`
(the second cluster stopped for `--outage` s), `celery` (the worker SIGKILLed
mid-broadcast of `--broadcast-size` recipients, FakeTwilio slowed to
`--twilio-delay` s a message, a new worker started) and `webkill` (a gunicorn
worker SIGKILLed). The time series and its plot go to docs/load.json and .png.
With `--pooler`, each server has a PgBouncer of the run's own in front
(transaction pooling, one server connection per tenant pool); results in
load-pgbouncer.
"""

import json
import os
import re
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench import harness, loadmix, product, report, servers
from bench.client import Client
from bench.cycle import FIRST, phone
from bench.loadmix import Row, failed, unavailable
from bench.sampler import ConnectionSampler
from bench.servers import CeleryBeat, CeleryWorker, Gunicorn

SCENARIOS = ["redis", "dbdown", "celery", "webkill"]
WINDOW = 10.0  # seconds per latency window of the time series
LABELS = ("main", "second", "registry")  # the session counts sampled
READY = "readyz cache 'ok' on every answer from_s"  # after Redis returned
OTHERS = "other tenants' requests"  # in the dbdown scenario
CELERY_CHECKS = ["phones messaged twice", "phones never messaged", "rows not sent"]
Action = Callable[[], Any]


def arguments() -> Any:
    parser = harness.arguments(__doc__, "tenants clients workers zipf_s seed", lru=15)
    add = parser.add_argument
    add("--members", type=int, default=5, help="seeded per tenant")
    add("--duration", type=float, default=600, help="churn seconds")
    add("--max-requests", type=int, default=500_000, help="per phase, at most")
    add("--warmup", type=float, help="default: 20%% of --duration, at least 10 s")
    add("--celery-lru", type=int, default=5)
    add("--celery-concurrency", type=int, default=2)
    add("--scenarios", default="all", help=f"all, none, or some of {SCENARIOS}")
    add("--scenario-duration", type=float, default=150)
    add("--fault-at", type=float, default=30, help="s into a scenario")
    add("--outage", type=float, default=60, help="Redis/DB down, s")
    add("--broadcast-size", type=int, default=300)
    add("--twilio-delay", type=float, default=0.05)
    add("--others-limit", type=int, default=40, help="sessions left to others")
    add("--pooler", action="store_true", help="through a PgBouncer per server")
    args = parser.parse_args()
    names = {"all": SCENARIOS, "none": []}.get(args.scenarios)
    args.scenarios = names if names is not None else args.scenarios.split(",")
    if set(args.scenarios) - set(SCENARIOS):
        parser.error(f"unknown scenarios; known: {SCENARIOS}")
    args.warmup = args.warmup or max(10.0, 0.2 * args.duration)
    if args.fault_at + args.outage >= args.scenario_duration - 10:
        parser.error("--scenario-duration must leave 10 s after --fault-at + --outage")
    if args.tenants < 10 or args.members < 3:
        parser.error("at least 10 tenants and 3 members each")
    return args


def budget(args: Any) -> dict[str, int]:
    """Worst case per server: every process full of tenant and registry sessions."""
    return {"web": args.workers * args.lru,
            "celery": args.celery_concurrency * args.celery_lru,
            "registry": (args.workers + args.celery_concurrency) * 4}  # fmt: skip


def wait_for_room(args: Any, setup: harness.Setup) -> None:
    """The main server is shared: wait while others hold more than their share."""
    query = (
        "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
        "AND application_name <> %s AND NOT (coalesce(datname, '') LIKE %s "
        "OR datname = %s)"
    )
    for _ in range(240):
        params = [harness.APP_NAME, setup.like, setup.registry]
        if harness.pg_value(query, params) <= args.others_limit:
            return
        print("  others hold many sessions on the main server; waiting", flush=True)
        time.sleep(15)


def prepare(args: Any, second_port: int) -> tuple[list[loadmix.Church], Any]:
    """Churches on both servers; with the celery scenario, its broadcast church too."""
    tenants, _ = harness.provision_many(args.tenants, label="Load Church")
    provisioned = len(tenants)
    if "celery" in args.scenarios:
        main = next(  # its URL may name a pooler: tell the servers by port
            s for s in product.DatabaseServer.objects.all()
            if (urlsplit(s.url).port or 5432) != second_port
        )  # fmt: skip
        provision = product.provisioning.provision_tenant
        tenants.append(provision(name="Load Broadcast", server=main))
        product.subscribe(tenants[-1], "growth", by="bench")  # past the trial
    owners = harness.add_owners(tenants)

    def church(i: int) -> loadmix.Church:
        tenant, number, owner = tenants[i], phone(415, i), owners[i]
        product.update_church(tenant=tenant, phone_number=number, quiet_hours=None)
        big = i == provisioned  # the celery scenario's broadcast church
        area, count = (718, args.broadcast_size) if big else (212, args.members)
        phones = [phone(area, n) for n in range(count)]
        rows = [
            {"first_name": FIRST[n % 4], "last_name": f"Seed{n}", "phone": p,
             "email": f"seed{n}@example.org"}
            for n, p in enumerate(phones)
        ]  # fmt: skip
        port = urlsplit(tenant.server.url).port or 5432
        seeded = harness.add_members(tenant, rows)
        return loadmix.Church(
            i, "second" if port == second_port else "main", port, tenant.database_name,
            number, owner["email"], owner["access"], owner["refresh"], seeded, phones,
        )  # fmt: skip

    with ThreadPoolExecutor(max_workers=4) as pool:
        churches = list(pool.map(church, range(len(tenants))))
    big = churches.pop() if len(churches) > provisioned else None
    return churches, big


class Run:
    def __init__(self, args: Any, setup: harness.Setup) -> None:
        self.args, self.setup = args, setup
        self.redis, self.cluster = servers.RedisServer(), servers.PostgresCluster()
        self.fake = product.FakeTwilio(account_sid="AC" + "1" * 32, token="load-token")
        self.t0 = time.monotonic()
        self.phases: list[dict[str, Any]] = []
        self.faults: list[dict[str, Any]] = []
        self.workers: list[CeleryWorker] = []
        self.per_process: list[dict[str, Any]] = []  # tenant sessions, every 3 s
        self.rss: list[dict[str, Any]] = []  # of each web worker, every 5 s

    def now(self) -> float:
        return time.monotonic() - self.t0

    def start_worker(self) -> CeleryWorker:
        env = harness.service_env(TENANT_CONNECTION_LRU_SIZE=str(self.args.celery_lru))
        self.workers.append(CeleryWorker(env, self.args.celery_concurrency))
        return self.workers[-1].start()

    def run_mix(self, name: str, duration: float) -> tuple[Any, threading.Event, dict]:
        """The mix in the background for `duration` s: (thread, stop, phase)."""
        wait_for_room(self.args, self.setup)
        phase = {"name": name, "start": self.now(), "end": None}
        self.phases.append(phase)
        print(f"[{phase['start']:7.1f}s] {name}: {duration:.0f}s", flush=True)
        stop, until = threading.Event(), time.monotonic() + duration

        def body() -> None:
            try:
                self.mix.run(name, until, stop)
            finally:
                phase["end"] = self.now()

        thread = threading.Thread(target=body, daemon=True)
        thread.start()
        return thread, stop, phase

    def fault(
        self, name: str, what: str, stop: Action, start: Action, outage: float, *,
        at: Action | None = None, duration: float = 0, until: Action | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """The mix runs; `stop()` `--fault-at` s in (or once `at()` returns), `start()`
        `outage` s later; to the end (or until `until()` returns). See `classify`."""
        duration = duration or self.args.scenario_duration
        thread, halt, phase = self.run_mix(name, duration)
        if at is None:
            time.sleep(max(0.0, phase["start"] + self.args.fault_at - self.now()))
        else:
            at()
        t_stop = self.now()
        stop()
        t_down = self.now()  # stopped for sure from here ...
        time.sleep(max(0.0, t_stop + outage - self.now()))
        t_up = self.now()  # ... to here
        start()
        t_start = self.now()
        self.faults.append({"name": what, "start": t_stop, "end": t_start})
        print(f"  [{t_stop:7.1f}s] {what}; back at {t_start:.1f}s", flush=True)
        if until is not None:
            until()
            halt.set()
        thread.join()
        rows = [r for r in self.mix.rows if r.phase == name]
        window = {"t_stop": t_stop, "t_down": t_down, "t_up": t_up, "t_start": t_start}
        return {"rows": rows, **window, **classify(rows, t_stop, t_start)}

    def process_names(self) -> dict[int, str]:
        names = {os.getpid(): "harness"}
        if self.gunicorn.process is not None:
            names[self.gunicorn.process.pid] = "web master"
            names |= dict.fromkeys(self.gunicorn.worker_pids(), "web worker")
        for worker in self.workers:
            names |= dict.fromkeys(worker.group_pids(), "celery")
        return names | dict.fromkeys(self.beat.group_pids(), "celery beat")

    def sample_processes(self, tick: int, t: float) -> None:
        """Sampler hook: tenant sessions per process (every 3 s), RSS (every 5 s)."""
        if tick % 3 == 0:
            before = client_ports(self.servers.values())
            rows = [r for label in self.servers for r in self.sampler.rows(label) or []]
            after = client_ports(self.servers.values())
            names = self.process_names()
            counts: dict[int, Counter] = defaultdict(Counter)
            for database, port in rows:
                # a port counts only if it is the same process's before and after
                if (pid := after.get(port)) is not None and before.get(port) == pid:
                    counts[pid]["total"] += 1
                    counts[pid]["tenant"] += database != self.setup.registry
            self.per_process += [
                {"t": t, "pid": pid, "name": names.get(pid, "other"), **c}
                for pid, c in counts.items()
            ]
        if tick % 5 == 0:
            for pid in self.gunicorn.worker_pids():
                if (kib := rss_kib(pid)) is not None:
                    self.rss.append({"t": t, "pid": pid, "kib": kib})


def client_ports(server_ports: Any) -> dict[int, int]:
    """Client port -> pid of the TCP sessions to these server ports (`ss -tnp`)."""
    wanted = " or ".join(f"dport = :{p}" for p in server_ports)
    argv = ["ss", "-tnpH", "state", "established", f"( {wanted} )"]
    listed = subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout
    found = re.findall(r"^\S+\s+\S+\s+\S+:(\d+)\s+\S+.*?pid=(\d+)", listed, re.M)
    return {int(port): int(pid) for port, pid in found}


def rss_kib(pid: int) -> int | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    found = re.search(r"^VmRSS:\s+(\d+)", status, re.M)
    return int(found.group(1)) if found else None


def cpu_now(run: Run) -> dict[str, float]:
    """CPU seconds so far of this process, the web workers, the Celery worker."""
    return {
        "harness": sum(os.times()[:2]),
        "gunicorn workers": cpu_seconds(run.gunicorn.worker_pids()),
        "celery": cpu_seconds(run.workers[-1].group_pids()),
    }


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def classify(
    rows: list[Row], t_stop: float, t_start: float, tolerated: Any = lambda row: False
) -> dict[str, Any]:
    """Failures around a fault: when, which, and how long until none."""
    bad = [r for r in rows if failed(r) and not tolerated(r)]
    last_bad = max((r.t + r.seconds for r in bad if r.t > t_start), default=None)
    ok_after = sum(r.t > (last_bad or t_start) and not failed(r) for r in rows)
    return {
        "requests": len(rows),
        "during": sum(t_stop <= r.t <= t_start for r in rows),
        "after": sum(r.t > t_start for r in rows),
        "failed": len(bad),
        "failed by status": dict(Counter(map(status_of, bad)).most_common(8)),
        "first failures": [f"{r.t - t_stop:+.1f}s {status_of(r)}" for r in bad[:5]],
        "recovered_s": 0.0 if last_bad is None else round(last_bad - t_start, 1),
        "ok after the last failure": ok_after,
    }


def status_of(row: Row) -> str:
    parts = (row.op, row.status, row.code, row.error)
    return " ".join(str(x) for x in parts if x != "")


def outbound(church: loadmix.Church, broadcast: str | None = None) -> Counter:
    """A church's outbound messages (or one broadcast's) by status."""
    where = "broadcast_id = %s" if broadcast else "direction = 'outbound'"
    where += "" if broadcast else " AND %s::text IS NULL"  # the one parameter
    query = f"SELECT status, count(*) FROM messaging_message WHERE {where} GROUP BY 1"
    with harness.pg(church.database, church.port) as conn:
        return Counter(dict(conn.execute(query, [broadcast]).fetchall()))


def drain(run: Run, timeout: float = 90) -> dict[str, Any]:
    """Wait until no outbound message of the sending churches is queued or sending."""
    started, pending = time.monotonic(), set(run.mix.senders)
    totals: dict[int, Counter] = {}
    while pending and time.monotonic() - started < timeout:
        for index in sorted(pending):
            try:
                totals[index] = outbound(run.mix.churches[index])
            except Exception:
                totals[index] = Counter(unreachable=1)
        busy = ("queued", "sending", "unreachable")
        pending = {i for i, c in totals.items() if any(c[k] for k in busy)}
        time.sleep(3 if pending else 0)
    return {
        "churches": len(totals),
        "by status": dict(sum(totals.values(), Counter())),
        "pending": len(pending),
        "seconds": round(time.monotonic() - started),
    }


def scenario_redis(run: Run) -> dict[str, Any]:
    readyz: list[tuple[float, str]] = []  # (t, what /readyz says of the cache)
    polling = threading.Event()

    def poll() -> None:
        while not polling.wait(0.5):
            try:
                answer = run.client.get("/readyz", timeout=15).json()["checks"]["cache"]
            except Exception:
                answer = "no answer"
            readyz.append((run.now(), answer))

    (poller := threading.Thread(target=poll, daemon=True)).start()
    redis = run.redis
    seen = run.fault("redis", "Redis stopped", redis.stop, redis.start, run.args.outage)
    polling.set()
    poller.join()
    back = seen["t_start"]
    after = [(t, c) for t, c in readyz if t > back]
    last_bad = max((t for t, c in after if c != "ok"), default=back)
    ok_from = next((t for t, c in after if t > last_bad), None)
    return seen | {
        READY: None if ok_from is None else round(ok_from - back, 1),
        "readyz after the return, ok of all": f"{sum(c == 'ok' for _, c in after)}"
        f"/{len(after)}",
        "degraded seen during the outage": any(
            c != "ok" for t, c in readyz if seen["t_stop"] < t < back
        ),
        "outbound afterwards": drain(run),
    }


def scenario_dbdown(run: Run) -> dict[str, Any]:
    db = run.cluster
    seen = run.fault("dbdown", "DB server 2 down", db.stop, db.start, run.args.outage)
    stopped, started = seen["t_stop"], seen["t_start"]
    on_down = {c.index for c in run.mix.churches if c.server == "second"}
    down = [r for r in seen["rows"] if r.tenant in on_down]
    t_down, t_up = seen["t_down"], seen["t_up"]  # surely down between these
    during = [r for r in down if t_down <= r.t and r.t + r.seconds <= t_up]
    while_down = [r.seconds for r in during]
    # Its tenants: success, or 503 tenant_unavailable from the stop on (minus
    # in-flight slack); anything else is wrong at any time.
    expected = lambda r: unavailable(r) and r.t >= stopped - 5  # noqa: E731
    others = [r for r in seen["rows"] if r.tenant not in on_down]
    return {
        "tenants on the stopped server": len(on_down),
        "their requests": classify(down, stopped, started, expected),
        "their 503 tenant_unavailable": sum(map(unavailable, down)),
        "their 2xx while it was down": sum(not failed(r) for r in during),
        "their 503s while down": harness.stats(while_down, "median p99"),
        "their recovery": classify(down, stopped, started),
        OTHERS: classify(others, stopped, started),
        "outbound afterwards": drain(run),
    }


def scenario_celery(run: Run, big: loadmix.Church) -> dict[str, Any]:
    marker, sent = f"kill-{uuid.uuid4().hex[:8]}", {}

    def sent_count() -> int:
        counts = outbound(big, sent["id"])
        return counts["sent"] + counts["delivered"]

    def once_a_fifth_is_sent() -> None:
        time.sleep(10)
        text = f"Hi {{first_name}}, {marker}: the picnic moves to 1pm."
        body = {"body": text, "recipients": {"all": True}}
        answer = run.client.post("/api/messages/send", body, token=big.access)
        sent.update(answer.json())
        deadline = time.monotonic() + 120
        while sent_count() < sent["recipient_count"] / 5 < deadline - time.monotonic():
            time.sleep(0.05)
        sent["at the kill"] = dict(outbound(big, sent["id"]))

    def until_all_sent() -> None:
        deadline = time.monotonic() + 240
        while sent_count() < sent["recipient_count"] and time.monotonic() < deadline:
            time.sleep(0.5)
        after = run.now() - run.faults[-1]["end"]
        sent["all sent after the new worker_s"] = round(after, 1)

    run.fake.delay = run.args.twilio_delay
    try:
        kill, long = run.workers[-1].kill, 2 * run.args.scenario_duration
        seen = run.fault("celery", "Celery worker killed", kill, run.start_worker, 3,
            at=once_a_fifth_is_sent, until=until_all_sent, duration=long)  # fmt: skip
    finally:
        run.fake.delay = 0.0
    with run.fake.lock:
        taken = Counter(r["to"] for r in run.fake.created if marker in r["body"])
    return {k: v for k, v in sent.items() if k != "id"} | {
        "new worker ready after_s": round(seen["t_start"] - seen["t_stop"], 1),
        "provider sends": sum(taken.values()),
        "phones messaged twice": sum(n > 1 for n in taken.values()),
        "phones never messaged": len(set(big.phones) - set(taken)),
        "rows not sent": sent["recipient_count"] - sent_count(),
        "background mix": seen,
        "outbound afterwards": drain(run),
    }


def scenario_webkill(run: Run) -> dict[str, Any]:
    victim: dict[str, Any] = {}

    def kill() -> None:
        victim["workers before"] = pids = run.gunicorn.worker_pids()
        victim.update(pid=pids[0], rss_kib=rss_kib(pids[0]))
        os.kill(pids[0], signal.SIGKILL)

    def replaced() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and "workers after" not in victim:
            pids = run.gunicorn.worker_pids()
            if victim["pid"] not in pids and len(pids) >= run.args.workers:
                victim["workers after"] = pids
            time.sleep(0.1)

    long = max(60.0, run.args.scenario_duration - run.args.outage)
    seen = run.fault("webkill", "web worker killed", kill, replaced, 0, duration=long)
    kill_window = (seen["t_stop"] - 2, seen["t_stop"] + 10)
    inside = [r for r in seen["rows"] if kill_window[0] <= r.t <= kill_window[1]]
    created = [c for c in run.mix.created if c[2] >= run.phases[-1]["start"]]
    gone = run.mix.deleted | run.mix.delete_unknown
    check = [c for c in created if c[1] not in gone]
    return victim | {
        "replaced after_s": round(seen["t_start"] - seen["t_stop"], 1),
        "requests": seen["requests"],
        "failed in the kill window": classify(inside, *kill_window)["failed by status"],
        "failed outside it": seen["failed"] - sum(map(failed, inside)),
        "members answered 201": len(created),
        "checked": len(check),
        "missing": missing_members(run, check),
    }


def missing_members(run: Run, created: list[tuple[int, str, float]]) -> int:
    by_church: dict[int, list[str]] = defaultdict(list)
    for index, member, _ in created:
        by_church[index].append(member)
    query = "SELECT count(*) FROM members_member WHERE id = ANY(%s::uuid[])"
    missing = 0
    for index, ids in by_church.items():
        church = run.mix.churches[index]
        with harness.pg(church.database, church.port) as conn:
            missing += len(ids) - conn.execute(query, [ids]).fetchone()[0]
    return missing


def endpoints(rows: list[Row], seconds: float) -> list[dict[str, Any]]:
    by_op: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        by_op[row.op].append(row)
    out = []
    for op, mine in [*by_op.items(), ("**all**", rows)]:
        answered = [r.seconds for r in mine if r.status > 0]
        bad = Counter(status_of(r) for r in mine if failed(r))
        rate = round(len(mine) / seconds, 1)
        row = {"endpoint": op, "requests": len(mine), "req/s": rate}
        row |= harness.stats(answered, "median p99", n=False)
        out.append(row | {"failed": dict(bad) or 0})
    return out


def memory(rss: list[dict[str, Any]], churn: dict[str, Any], warmup: float) -> list:
    """Per web worker: median RSS just after warm-up and at the end of the churn run."""
    warm, end = churn["start"] + warmup, churn["end"]
    span = min(30.0, max(5.0, (end - warm) / 4))
    by_pid: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for s in rss:
        if churn["start"] <= s["t"] <= end:
            by_pid[s["pid"]].append((s["t"], s["kib"] / 1024))
    workers = []
    for pid, samples in by_pid.items():
        base = [m for t, m in samples if warm <= t <= warm + span]
        last = [m for t, m in samples if t >= end - span]
        if not (base and last):
            continue
        start, top = samples[0][1], max(m for _, m in samples)
        base, final = harness.median(base), harness.median(last)
        workers.append(
            {"gunicorn worker": pid, "start_mib": round(start, 1),
             "after warm-up_mib": round(base, 1), "final_mib": round(final, 1),
             "max_mib": round(top, 1), "growth_pct": round(100 * (final / base - 1), 1),
             "max growth_pct": round(100 * (top / base - 1), 1)}
        )  # fmt: skip
    return workers


def sessions(run: Run, start: float, end: float) -> dict[str, Any]:
    """Peak and last sessions per server; peak tenant sessions per process."""
    samples = [s for s in run.sampler.series if start <= s["t"] <= end]
    out: dict[str, Any] = {"per process": {}}
    for label in LABELS:
        values = [s[label] for s in samples if s.get(label) is not None] or [None]
        out[label] = {"peak": max(values, key=lambda v: v or 0), "last": values[-1]}
    for p in run.per_process:
        if start <= p["t"] <= end:
            peaks = out["per process"]
            peaks[p["name"]] = max(peaks.get(p["name"], 0), p["tenant"])
    return out


def windows(rows: list[Row], end: float) -> list[dict[str, Any]]:
    """Latency and failures per 10 s, for the plot."""
    buckets: dict[int, list[Row]] = defaultdict(list)
    for row in rows:
        buckets[int(row.t // WINDOW)].append(row)
    out = []
    for i in range(int(end // WINDOW) + 1):
        mine = buckets.get(i, [])
        answered = [r.seconds * 1000 for r in mine if r.status > 0]
        bad = [r for r in mine if failed(r)]
        down = sum(map(unavailable, bad))
        p50 = harness.median(answered) if answered else None
        p99 = harness.percentile(answered, 99) if answered else None
        out.append({"t": i * WINDOW, "n": len(mine), "failed": len(bad) - down,
                    "unavailable": down, "p50_ms": p50, "p99_ms": p99})  # fmt: skip
    return out


def log_lines(text: str) -> dict[str, Any]:
    """ERROR and Traceback lines of a log, counted, with the most frequent kinds
    (a traceback is named by its exception line; numbers and ids blanked)."""
    lines, hits = text.splitlines(), []
    for i, line in enumerate(lines):
        if line.startswith("Traceback"):
            follows = (f for f in lines[i + 1 : i + 200] if f and not f[0].isspace())
            line = "Traceback: " + next(follows, "")
        elif not re.search(r"\b(ERROR|CRITICAL)\b|WORKER TIMEOUT|exited", line):
            continue
        line = re.sub(r"^\[?\d{4}-\d\d-\d\d[ T][\d:,.]+:?\]?\s*", "", line)
        hits.append(re.sub(r"[0-9a-f]{8,}(-[0-9a-f]{4,})*|\d+", "#", line)[:160])
    kinds = [f"{n}x {kind}" for kind, n in Counter(hits).most_common(6)]
    return {"lines": len(hits), "most frequent": kinds}


def plot(series: dict[str, Any], path: Path) -> None:
    """Latency, sessions per server and web worker memory; faults shaded."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("no matplotlib (the `bench` extra): no plot")
        return
    fig, axes = plt.subplots(3, 1, figsize=(11, 8.5), sharex=True)
    win = [w for w in series["windows"] if w.get("p50_ms") is not None]
    middles = [w["t"] + WINDOW / 2 for w in win]
    for key in ("p50_ms", "p99_ms"):
        axes[0].plot(middles, [w[key] for w in win], label=key)
    axes[0].set(yscale="log", ylabel="latency per 10 s (ms)")
    samples = series["connection_samples"]
    times = [s["t"] for s in samples]
    for label in LABELS:
        axes[1].plot(times, [s.get(label) for s in samples], label=label)
    axes[1].set(ylabel="PostgreSQL sessions")
    by_pid: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for s in series["rss_samples"]:
        by_pid[s["pid"]].append((s["t"], s["kib"] / 1024))
    for pid, points in by_pid.items():
        axes[2].plot(*zip(*points, strict=True), label=f"pid {pid}")
    axes[2].set(ylabel="gunicorn worker RSS (MiB)", xlabel="seconds from the start")
    for ax in axes:
        for fault in series["faults"]:
            ax.axvspan(fault["start"], fault["end"] + 2, color="orange", alpha=0.25)
        for phase in series["phases"]:
            ax.axvline(phase["start"], color="black", linewidth=0.5, linestyle=":")
        ax.legend(loc="lower left", fontsize=7)
        ax.grid(alpha=0.3)
    tenants = series["config"]["tenants"]
    title = f"bench.load: {tenants} tenants; phases dotted, faults shaded"
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    args = arguments()
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # cleanup runs
    limit = int(harness.pg_value("SHOW max_connections"))
    if not args.pooler and sum(budget(args).values()) > limit - args.others_limit:
        raise SystemExit(f"connection budget {budget(args)} does not fit {limit}")
    if stale := servers.PostgresCluster.drop_stale():
        print(f"dropped clusters of earlier runs: {stale}")
    env = {"TENANT_CONNECTION_LRU_SIZE": str(args.lru), "REGISTRY_POOL_MAX_SIZE": "4",
           "SMS_BACKEND": "twilio",
           "SMS_RATE_PER_NUMBER": "0", "SMS_STALE_SENDING_SECONDS": "5",
           "SMS_SWEEP_SECONDS": "5", "CELERY_VISIBILITY_TIMEOUT": "30"}  # fmt: skip
    run = Run(args, harness.Setup("load", env, web=True))
    run.fake.start()
    urls = [harness.SERVER_URL, run.cluster.url]
    bouncers = [
        product.PgBouncer(("127.0.0.1", port), "postgres", pool_size=1,
                          server_idle_timeout=2, max_client_conn=1000)
        for port in (5432, run.cluster.port) if args.pooler
    ]  # fmt: skip
    try:
        run.redis.start()
        run.cluster.create()
        for i, bouncer in enumerate(bouncers):
            bouncer.start()
            urls[i] = bouncer.url_of(urls[i])
        env |= {  # the Setup's env: the servers started later get these too
            "REDIS_URL": run.redis.url(0),
            "CELERY_BROKER_URL": run.redis.url(1),
            "TWILIO_ACCOUNT_SID": run.fake.account_sid,
            "TWILIO_AUTH_TOKEN": run.fake.token,
            "TWILIO_API_BASE_URL": run.fake.url,
            "TENANT_DB_SERVERS": ",".join(urls),
        }
        with harness.run(run.setup):
            measured = measure(run)
    finally:
        run.fake.stop()
        run.redis.stop()
        for bouncer in bouncers:
            bouncer.close()
        run.cluster.drop()
    finish(run, measured, limit)


def measure(run: Run) -> dict[str, Any]:
    args = run.args
    wait_for_room(args, run.setup)
    churches, big = prepare(args, run.cluster.port)
    found: dict[str, Any] = {"churches": churches, "scenarios": {}}
    harness.release_django()  # the servers get the connection slots
    run.gunicorn = Gunicorn(harness.service_env(), workers=args.workers)
    run.gunicorn.env["PUBLIC_BASE_URL"] = f"http://127.0.0.1:{run.gunicorn.port}"
    run.client, run.beat = Client(run.gunicorn.port), CeleryBeat(harness.service_env())
    run.t0 = time.monotonic()  # the timeline starts with the servers
    run.mix = loadmix.Mix(run.gunicorn.port, churches, run.fake, run.t0, args)
    run.servers = {"main": 5432, "second": run.cluster.port}
    run.sampler = ConnectionSampler(run.setup, servers=run.servers, interval=1.0,
                                    keep=True, t0=run.t0,
                                    hook=run.sample_processes)  # fmt: skip
    try:
        run.gunicorn.start()
        run.start_worker()
        run.beat.start()
        run.sampler.begin()
        before = cpu_now(run)
        thread, _, churn = run.run_mix("churn", args.duration)
        thread.join()
        found["churn"] = churn
        spent, after = churn["end"] - churn["start"], cpu_now(run)
        found["cpu"] = {k: round((after[k] - v) / spent, 2) for k, v in before.items()}
        for name in args.scenarios:
            scenario = globals()[f"scenario_{name}"]
            result = scenario(run, big) if name == "celery" else scenario(run)
            found["scenarios"][name] = flat(result)
        drained = drain(run, 120)
        found["final"] = {"outbound": drained, "duplicates": duplicates(run.fake)}
        time.sleep(2)  # one more sample with everything idle
    finally:
        run.sampler.stop()
        for process in [run.gunicorn, *run.workers, run.beat]:
            process.stop()
    logs = {"gunicorn": run.gunicorn.log(), "beat": run.beat.log(),
            "celery": "\n".join(w.log() for w in run.workers)}  # fmt: skip
    return found | {"logs": {name: log_lines(text) for name, text in logs.items()}}


def duplicates(fake: Any) -> dict[str, int]:
    """Sends the fake provider took more than once (same number, same text)."""
    with fake.lock:
        counts = Counter((r["to"], r["body"]) for r in fake.created)
    sends, again = sum(counts.values()), sum(n - 1 for n in counts.values())
    return {"sends": sends, "again to a number with the same text": again}


def flat(found: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested findings as one `what | value` table (the rows dropped)."""
    out: dict[str, Any] = {}
    for key, value in found.items():
        if isinstance(value, dict) and any(isinstance(v, dict) for v in value.values()):
            out |= flat(value, f"{prefix}{key}: ")
        elif key != "rows":
            out[prefix + key] = value
    return out


def finish(run: Run, measured: dict[str, Any], limit: int) -> None:
    args, churn, scenarios = run.args, measured["churn"], measured["scenarios"]
    seconds = churn["end"] - churn["start"]
    end = max(p["end"] or 0 for p in run.phases)
    in_churn = sessions(run, churn["start"], churn["end"])
    whole = sessions(run, 0, end + 60)
    workers = memory(run.rss, churn, args.warmup)
    rows = [r for r in run.mix.rows if r.phase == "churn"]
    results = {
        "tenants per server": dict(Counter(c.server for c in measured["churches"])),
        "churn run": endpoints(rows, seconds),
        "CPU used during the churn run, in cores": measured["cpu"],
        "memory of the gunicorn workers (VmRSS every 5 s)": workers,
        "PostgreSQL sessions of this run per server (every second)": [
            {"server": k, "churn": in_churn[k], "whole run": whole[k]} for k in LABELS
        ],
        "peak tenant sessions per process (every 3 s)": {
            "churn": in_churn["per process"],
            "whole run": whole["per process"],
        },
        **{f"scenario {name}": found for name, found in scenarios.items()},
        "after everything": flat(measured["final"]),
        "server logs: ERROR and Traceback lines": [
            {"log": name} | found for name, found in measured["logs"].items()
        ],
    }
    # A trial run's series stays with its result; the published one is linked
    # from the README.
    published = args.out == harness.RESULTS
    series_dir = harness.ROOT / "docs" if published else args.out / "series"
    series_dir.mkdir(parents=True, exist_ok=True)
    series = {"config": vars(args) | {"budget": budget(args), "max_connections": limit},
              "phases": run.phases, "faults": run.faults,
              "windows": windows(run.mix.rows, end),
              "connection_samples": run.sampler.series, "rss_samples": run.rss,
              "per_process_samples": run.per_process}  # fmt: skip
    name = "load-pgbouncer" if args.pooler else "load"
    (series_dir / f"{name}.json").write_text(json.dumps(series, indent=1, default=str))
    plot(series, series_dir / f"{name}.png")
    config = {"budget per server": budget(args), "max_connections": limit,
              "op weights": {op: w for op, (w, *_) in loadmix.OPS.items()}}  # fmt: skip
    image = os.path.relpath(series_dir / f"{name}.png", args.out)
    found = targets(args, workers, whole, seconds, scenarios)
    if args.pooler:  # the web workers' sessions are PgBouncer's: count the servers'
        found[1] = report.target(
            "PostgreSQL sessions per server through PgBouncer",
            "reported: PgBouncer 1.18 caps each tenant pool, not a server's total",
            ", ".join(f"{k} peak {whole[k]['peak']}" for k in LABELS[:2])
            + f" of max_connections {limit}, {args.tenants} tenants",
        )
    report.save(name, args, results, found, config=config, image=image)


def targets(args: Any, workers: list, whole: dict, seconds: float, found: dict) -> list:
    growth = max((w["growth_pct"] for w in workers), default=None)
    web, bound = whole["per process"].get("web worker"), args.lru
    redis, down = found.get("redis", {}), found.get("dbdown", {})
    celery, kill = found.get("celery", {}), found.get("webkill", {})
    theirs, others = "their requests: failed", f"{OTHERS}: failed"
    memory = ", ".join(
        f"worker {w['gunicorn worker']}: {w['after warm-up_mib']:.0f} -> "
        f"{w['final_mib']:.0f} MiB ({w['growth_pct']:+}%)"
        for w in workers
    )
    return [
        report.target(
            "memory of one web process over a 10-minute churn run",
            "flat: no growth after warm-up beyond 10 %",
            f"{memory} over {seconds:.0f} s, {args.tenants} tenants",
            (growth, "<=", 10),
            (seconds if seconds >= 590 else None, ">=", 590),
        ),
        report.target(
            "PostgreSQL connections of one web process",
            "never above the connection manager's bound, over a run touching "
            "1,000+ tenants",
            f"peak tenant sessions of one web worker {web} (bound LRU x pool = "
            f"{bound}), {args.tenants} tenants, sampled every 3 s",
            (web, "<=", bound),
            (args.tenants if args.tenants >= 1000 else None, ">=", 1000),
        ),
        report.target(
            "Redis stopped mid-run",
            "0 failed API requests; recovers by itself within 30 s of Redis returning",
            f"{redis.get('requests')} requests, {redis.get('failed')} failed; /readyz "
            f"cache ok on every answer {redis.get(READY)} s after Redis returned",
            (redis.get("failed"), "==", 0),
            (redis and (redis.get(READY) or 1e9), "<=", 30),  # never: 1e9
        ),
        report.target(
            "one tenant database server down",
            "its tenants 503 tenant_unavailable; every other tenant 0 errors",
            f"its tenants: {down.get('their 503 tenant_unavailable')} answered 503, "
            f"{down.get(theirs)} other failures, recovered "
            f"{down.get('their recovery: recovered_s')} s after the restart; other "
            f"tenants: {down.get(others)} failed",
            (down.get(others), "==", 0),
            (down.get(theirs), "==", 0),
            (down.get("their recovery: ok after the last failure"), ">=", 10),
            (down.get("their recovery: recovered_s"), "<=", 60),
        ),
        report.target(
            "Celery worker killed mid-broadcast",
            "no recipient messaged twice, none lost after a new worker starts",
            f"broadcast to {celery.get('recipient_count')}; phones messaged twice, "
            "never, rows not sent: "
            + ", ".join(str(celery.get(k)) for k in CELERY_CHECKS),
            *((celery.get(k), "==", 0) for k in CELERY_CHECKS),
        ),
        report.target(
            "web worker killed (SIGKILL)",
            "replaced by gunicorn; no data lost; failed requests in the kill window "
            "reported",
            f"replaced {kill.get('replaced after_s')} s later; failed in the kill "
            f"window: {kill.get('failed in the kill window')}, outside it "
            f"{kill.get('failed outside it')}; members missing {kill.get('missing')}",
            ("workers after" in kill or None, "==", True),
            (kill.get("missing"), "==", 0),
            (kill.get("failed outside it"), "==", 0),
        ),
    ]


if __name__ == "__main__":
    main()
