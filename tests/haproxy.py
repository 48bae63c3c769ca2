"""HAProxy running the shipped deploy/haproxy.cfg (the tests' and benches').

Only the addresses change: it listens on a free port, in front of the given
servers, one `server` line each, as the file's own lines are written.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.ports import free_port, wait_for_port

SHIPPED = Path(__file__).resolve().parent.parent / "deploy" / "haproxy.cfg"


def config_for(port: int, servers: list[int]) -> str:
    """The shipped configuration, bound to `port`, in front of `servers`."""
    text = SHIPPED.read_text()
    text = re.sub(r"(?m)^(\s+bind) \S+", rf"\1 127.0.0.1:{port}", text)
    text = re.sub(r"(?m)^\s+server .*\n", "", text)
    for i, server in enumerate(servers, 1):
        text = text.rstrip("\n") + f"\n    server web{i} 127.0.0.1:{server} check\n"
    return text


class ChurchProxy:
    def __init__(self, servers: list[int], **env: str) -> None:
        self.port, self.env = free_port(), os.environ | env
        self.dir = Path(tempfile.mkdtemp(prefix="haproxy-"))
        (self.dir / "haproxy.cfg").write_text(config_for(self.port, servers))
        self.argv = ["haproxy", "-db", "-f", str(self.dir / "haproxy.cfg")]
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 10.0) -> None:
        self.process = subprocess.Popen(
            self.argv,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, timeout)

    def close(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None
        shutil.rmtree(self.dir, ignore_errors=True)
