"""HAProxy running the shipped deploy/haproxy.cfg (the tests' and benches').

Only the addresses change: it listens on a free port, in front of the given
servers, one `server` line each, as the file's own lines are written.
"""

from __future__ import annotations

import csv
import os
import re
import socket
import subprocess
import tempfile
from pathlib import Path

from tests.ports import OwnServer, free_port, wait_for_port

SHIPPED = Path(__file__).resolve().parent.parent / "deploy" / "haproxy.cfg"
HOST = "127.0.0.1"  # the health checks' Host, unless told otherwise


def config_for(port: int, servers: list[int], stats: Path | None = None) -> str:
    """The shipped configuration, bound to `port`, in front of `servers` (its
    `backend` section is the last one: the servers are appended to it); with
    `stats`, a command socket there and one thread, so that what the socket
    reports is every count at once."""
    text = SHIPPED.read_text()
    if stats is not None:
        own = f"global\n    stats socket {stats}\n    nbthread 1\n"
        text = re.sub(r"(?m)^global\n", own, text, count=1)
    text = re.sub(r"(?m)^(\s+bind) \S+", rf"\1 127.0.0.1:{port}", text)
    text = re.sub(r"(?m)^\s+server .*\n", "", text)
    for i, server in enumerate(servers, 1):
        text = text.rstrip("\n") + f"\n    server web{i} 127.0.0.1:{server} check\n"
    return text


class ChurchProxy(OwnServer):
    def __init__(self, servers: list[int], host: str | None = HOST) -> None:
        """`host`: CHURCHTEXT_HOST, or None to start without it."""
        self.port = free_port()
        self.env = {k: v for k, v in os.environ.items() if k != "CHURCHTEXT_HOST"}
        if host is not None:
            self.env["CHURCHTEXT_HOST"] = host
        self.dir = Path(tempfile.mkdtemp(prefix="haproxy-"))
        self.stats = self.dir / "stats.sock"
        config = config_for(self.port, servers, self.stats)
        (self.dir / "haproxy.cfg").write_text(config)
        self.argv = ["haproxy", "-db", "-f", str(self.dir / "haproxy.cfg")]
        self.process: subprocess.Popen | None = None

    def log(self) -> str:
        return (self.dir / "log").read_text(errors="replace")

    def start(self, timeout: float = 10.0) -> None:
        with open(self.dir / "log", "wb") as log:
            self.process = subprocess.Popen(
                self.argv, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        try:
            wait_for_port(self.port, timeout)
        except TimeoutError as exc:
            self.stop()
            raise TimeoutError(f"haproxy did not start:\n{self.log()}") from exc

    def idle(self) -> bool:
        """No request in progress at any server: the bounded-load hashing then
        counts none, and a church's next request goes to its own server."""
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(str(self.stats))
            sock.sendall(b"show stat\n")
            answer = b"".join(iter(lambda: sock.recv(65536), b""))
        rows = csv.DictReader(answer.decode().lstrip("# ").splitlines())
        return all(row["scur"] == "0" for row in rows if row["pxname"] == "web")

    def validate(self) -> subprocess.CompletedProcess:
        """`haproxy -c`: the configuration checked as it would start."""
        argv = ["haproxy", "-c", "-f", str(self.dir / "haproxy.cfg")]
        return subprocess.run(argv, env=self.env, capture_output=True, text=True)
