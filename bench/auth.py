"""Registration and login end to end over HTTP, against gunicorn on PostgreSQL.

`POST /api/auth/register` (each a new church: a registry row, a database cloned
from the template, an owner) is timed one client at a time, then from a few
clients at once; each new tenant must answer an authenticated `GET
/api/members` right away (untimed in the registration's figure).
`POST /api/auth/login` is timed for the owners just registered (argon2 at the
default cost). The first registrations are a warm-up (the first builds the
template). Then the ways back in: a password reset from its emailed link, an
invitation accepted by a new address, and a login whose second step is a
recovery code (emails are written to files, where the bench reads the links).
Last, the parts of a registration are timed in the bench process to show where
the time goes.
"""

from __future__ import annotations

import itertools
import re
import tempfile
import threading
import time
import zoneinfo
from pathlib import Path
from typing import Any

import pyotp

from bench import harness, product, report
from bench.client import Client, expect
from bench.servers import Gunicorn, running

PASSWORD = harness.PASSWORD


def timed(count: int, clients: int, one: Any) -> tuple[list[float], float]:
    """`count` calls of `one()` spread over `clients` threads: latencies, wall."""
    latencies: list[float] = []
    share = harness.shares(count, clients)
    wall = harness.run_clients(
        clients, lambda i: latencies.extend([one() for _ in range(share[i])])
    )
    return latencies, wall


def measure(args: Any, client: Client) -> dict[str, Any]:
    numbers, lock = itertools.count(), threading.Lock()
    emails: list[str] = []
    first_requests: list[float] = []

    def register() -> float:
        with lock:
            n = next(numbers)
        email = f"owner{n}@bench-auth.example.org"
        body = {
            "organization_name": f"Bench Auth Church {n}",
            "email": email,
            "password": PASSWORD,
            "first_name": "Pat",
            "last_name": f"Owner{n}",
        }
        answer = client.post("/api/auth/register", body)
        data = expect(answer, 201, f"register #{n}")
        if data["tenant"]["status"] != "active" or data["user"]["role"] != "owner":
            raise RuntimeError(f"register #{n}: {data}")
        # The contract: the tenant's database is usable when register returns.
        first = client.get("/api/members", token=data["access"])
        expect(first, 200, f"first request of tenant #{n}")
        emails.append(email)
        first_requests.append(first.seconds)
        return answer.seconds

    logins = itertools.count()

    def login() -> float:
        with lock:
            email = emails[next(logins) % len(emails)]
        answer = client.post("/api/auth/login", {"email": email, "password": PASSWORD})
        if "access" not in expect(answer, 200, f"login {email}"):
            raise RuntimeError(f"login {email}: no access token")
        return answer.seconds

    warmup = [register() for _ in range(args.warmup)]
    first_requests.clear()
    sequential, _ = timed(args.count, 1, register)
    first = list(first_requests)
    concurrent, concurrent_wall = timed(args.concurrent_count, args.clients, register)
    login()  # warm-up
    logins_1, _ = timed(args.logins, 1, login)
    logins_n, logins_wall = timed(args.logins, args.clients, login)
    wrong = {"email": emails[0], "password": "wrong password"}
    back_in = ways_back_in(args, client, emails)

    def row(request: str, values: list[float], wall: float = 0) -> dict[str, Any]:
        rate = round(len(values) / wall, 1) if wall else None
        return {"request": request, **harness.stats(values), "rate_per_s": rate}

    return {
        "wall clock per request (client side, one connection each)": [
            row("`POST /api/auth/register`, 1 client", sequential),
            row(
                f"`POST /api/auth/register`, {args.clients} clients",
                concurrent,
                concurrent_wall,
            ),  # fmt: skip
            row("first `GET /api/members` of the new tenant (1 client)", first),
            row("`POST /api/auth/login`, 1 client", logins_1),
            row(
                f"`POST /api/auth/login`, {args.clients} clients", logins_n, logins_wall
            ),
            *(row(request, values) for request, values in back_in.items()),
        ],
        "warm-up registrations, not counted (the first builds the template)": {
            f"#{i + 1}_ms": round(s * 1000, 1) for i, s in enumerate(warmup)
        },
        "wrong password answered": client.post("/api/auth/login", wrong).status,
        "registered": next(numbers),
    }


MAILBOX = Path(tempfile.gettempdir()) / "churchtext-bench-mail"


def link(email: str, path: str) -> str:
    """The newest one-time token sent to `email` for `path` (file email backend)."""
    newest_first = sorted(MAILBOX.glob("*.log"), key=lambda f: f.stat().st_mtime)
    for sent in reversed(newest_first):
        for message in reversed(sent.read_text().split("-" * 79)):
            found = re.search(rf"/{path}\?token=([\w-]+)", message)
            if f"To: {email}" in message and found:
                return found.group(1)
    raise RuntimeError(f"no {path} link for {email}")


def ways_back_in(args: Any, client: Client, emails: list[str]) -> dict[str, list]:
    """Reset, invitation accept and recovery-code login, one client, timed."""
    resets, accepts, recovered = [], [], []
    for n in range(args.recoveries):
        email = emails[n % len(emails)]
        expect(
            client.post("/api/auth/password/forgot", {"email": email}), 202, "forgot"
        )
        new = f"{PASSWORD} reset {n}"
        answer = client.post(
            "/api/auth/password/reset",
            {"token": link(email, "reset-password"), "password": new},
        )
        expect(answer, 204, f"reset {email}")
        resets.append(answer.seconds)
        owner = expect(
            client.post("/api/auth/login", {"email": email, "password": new}),
            200,
            "login",
        )
        invitee = f"invitee{n}@bench-auth.example.org"
        invited = client.post(
            "/api/users/invitations", {"email": invitee}, token=owner["access"]
        )
        expect(invited, 201, "invite")
        answer = client.post(
            "/api/auth/invitations/accept",
            {"token": link(invitee, "accept-invitation"), "password": PASSWORD},
        )
        expect(answer, 200, f"accept {invitee}")
        accepts.append(answer.seconds)
        session = answer.json()
        setup = client.post(
            "/api/auth/mfa/setup", {"password": PASSWORD}, token=session["access"]
        )
        secret = expect(setup, 200, "mfa setup")["secret"]
        enabled = client.post(
            "/api/auth/mfa/enable",
            {"code": pyotp.TOTP(secret).now()},
            token=session["access"],
        )
        code = expect(enabled, 200, "mfa enable")["recovery_codes"][0]
        first = client.post("/api/auth/login", {"email": invitee, "password": PASSWORD})
        second = client.post(
            "/api/auth/mfa/verify",
            {"mfa_token": expect(first, 200, "login")["mfa_token"], "code": code},
        )
        expect(second, 200, "recovery code")
        recovered.append(first.seconds + second.seconds)
    return {
        "`POST /api/auth/password/reset` (link from the email), 1 client": resets,
        "`POST /api/auth/invitations/accept`, a new address, 1 client": accepts,
        "login with a recovery code (both steps), 1 client": recovered,
    }


def in_process_parts(repeats: int = 10) -> list[dict[str, Any]]:
    """The parts of a registration, timed in this process (same database server)."""
    from django.contrib.auth.hashers import check_password, make_password

    hashed = make_password(PASSWORD)
    parts = {
        "zoneinfo.available_timezones() (RegisterSerializer timezone check)": (
            zoneinfo.available_timezones
        ),
        "make_password (argon2, before provisioning)": lambda: make_password(PASSWORD),
        "check_password (argon2, login)": lambda: check_password(PASSWORD, hashed),
        "provision_tenant (clone the template, check, activate)": lambda: (
            product.provisioning.provision_tenant(name="Bench Auth In-process")
        ),
    }
    took: dict[str, list[float]] = {name: [] for name in parts}
    for _ in range(repeats):
        for name, part in parts.items():
            started = time.perf_counter()
            part()
            took[name].append(time.perf_counter() - started)
    return [{"part": name} | harness.stats(v, "median p95") for name, v in took.items()]


def checks(setup: harness.Setup, registered: int) -> dict[str, Any]:
    """What the registry and the server say after the run."""
    from django.db.models import Count

    Tenant, Membership = product.Tenant, product.Membership
    databases = harness.pg_value(
        "SELECT count(*) FROM pg_database WHERE datname LIKE %s "
        "AND datname NOT LIKE '%%template'",
        [setup.like],
    )
    return {
        "registrations over HTTP (each 201, active, first GET 200)": registered,
        "tenants by status": dict(
            Tenant.objects.values_list("status").annotate(n=Count("id")).order_by()
        ),
        "users": product.User.objects.count(),
        "owner memberships": Membership.objects.filter(role="owner").count(),
        "tenant databases on the server (template excluded)": databases,
    }


def main() -> None:
    parser = harness.arguments(__doc__)
    parser.add_argument("--count", type=int, default=40, help="registrations, 1 client")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients")
    parser.add_argument("--concurrent-count", type=int, default=24)
    parser.add_argument("--logins", type=int, default=60, help="logins per phase")
    parser.add_argument("--recoveries", type=int, default=20, help="resets etc.")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    args = parser.parse_args()
    if args.clients > 8:
        parser.error("keep --clients at 8 or below (max_connections is 100)")
    setup = harness.Setup("auth", {"TENANT_POOL_MAX_SIZE": "1"}, web=True)
    with harness.run(setup):
        MAILBOX.mkdir(exist_ok=True)
        for old in MAILBOX.glob("*.log"):
            old.unlink()
        env = harness.service_env(EMAIL_URL=f"file://{MAILBOX}")
        server = Gunicorn(env, workers=args.workers)
        with running(server):
            results = measure(args, Client(server.port))
        results["where a registration's time goes (in the bench process)"] = (
            in_process_parts()
        )
        results["checks after the run"] = checks(setup, results.pop("registered"))
    register, login = results[
        "wall clock per request (client side, one connection each)"
    ][0::3]
    report.save(
        "auth",
        args,
        results,
        [
            report.target(
                "`POST /api/auth/register` end to end, tenant database ready",
                "median <= 0.3 s",
                f"HTTP, gunicorn {args.workers} workers, 1 client: median "
                f"{register['median_ms']} ms, p95 {register['p95_ms']} ms "
                f"(n={register['n']}); login median {login['median_ms']} ms",
                (register["median_ms"], "<=", 300),
                (register["n"] if register["n"] >= 30 else None, ">=", 30),
            )
        ],
        config={"argon2": "ARGON2_TIME_COST=2, ARGON2_MEMORY_KIB=19456 (defaults)"},
    )


if __name__ == "__main__":
    main()
