"""Real servers for the tests, started on a free loopback port and stopped after them: an S3
API server (moto's), a proxy in front of it that injects the faults of a network and of a
store under load, and a Prefect server."""

import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    """Wait until `url` answers (any HTTP status), failing early if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode} before {url}")
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the process group (servers start children), SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    # a frozen server (SIGSTOP) acts on its SIGTERM only once it runs again
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGCONT)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@contextmanager
def server(
    command: list[str], ready_url: str, log: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            stdout=output,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
        try:
            wait_for(ready_url, process, timeout=180)
            yield process
        finally:
            stop(process)


@dataclass(frozen=True)
class S3Server:
    """An S3 API on loopback and the standard AWS settings that reach it; a test that started
    it may freeze it (SIGSTOP: connections are still accepted, never answered) or stop it."""

    endpoint: str
    process: subprocess.Popen[bytes] | None = field(default=None, compare=False)

    def _signal(self, number: signal.Signals) -> None:
        assert self.process is not None, "a server not started here is not signalled"
        os.killpg(self.process.pid, number)

    def freeze(self) -> None:
        self._signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self._signal(signal.SIGCONT)

    def stop(self) -> None:
        assert self.process is not None, "a server not started here is not stopped"
        stop(self.process)

    @property
    def env(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "wa-etl-test-access-key",
            "AWS_SECRET_ACCESS_KEY": "wa-etl-test-secret-Z9x8c7v6b5n4",
            "AWS_DEFAULT_REGION": "us-east-1",
        }


@contextmanager
def s3_server(log: Path) -> Iterator[S3Server]:
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    command = [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)]
    with server(command, f"{endpoint}/moto-api/", log) as process:
        yield S3Server(endpoint, process)


def s3_error(code: str) -> bytes:
    """An S3 error document, as the store sends it with a 4xx or 5xx."""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
        f"<Message>{code} (fault proxy)</Message><RequestId>fault-proxy</RequestId></Error>"
    ).encode()


# headers of one connection, not of the request: the proxy has its own
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "expect",
}


@dataclass(frozen=True)
class ProxiedRequest:
    """A request as the proxy received it (header names in lower case)."""

    method: str
    path: str
    headers: dict[str, str]


@dataclass
class _Faults:
    errors: int = 0
    error_status: int = 503
    error_code: str = "SlowDown"
    cuts: int = 0
    cut_after: int = 0
    hang_after_cut: bool = False
    stalling: bool = False
    ranges_ignored: bool = False


class FaultProxy:
    """An HTTP proxy on loopback in front of an S3 server: it passes every request on
    unchanged, unless told to answer with an error (`503 SlowDown`...), to stall (accept a
    request and never answer it until released), or to cut a response's body off. It records
    every request it receives."""

    def __init__(self, upstream: str) -> None:
        parsed = urllib.parse.urlsplit(upstream)
        self._upstream = (parsed.hostname or "127.0.0.1", parsed.port or 80)
        self._lock = threading.Lock()
        self._faults = _Faults()
        self._released = threading.Event()
        self.requests: list[ProxiedRequest] = []
        proxy = self

        class Handler(_ProxyHandler):
            owner = proxy

        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_port}"

    def answer_error(self, count: int, status: int, code: str) -> None:
        """Answer the next `count` requests with that status and S3 error code, unforwarded."""
        with self._lock:
            self._faults.errors = count
            self._faults.error_status, self._faults.error_code = status, code

    def slow_down(self, count: int) -> None:
        """Answer the next `count` requests `503 SlowDown`, as S3 does under load."""
        self.answer_error(count, 503, "SlowDown")

    def cut(self, after_bytes: int, count: int = 1, *, hang: bool = False) -> None:
        """Cut off the body of the next `count` responses longer than `after_bytes`: close the
        connection after that many bytes, or (`hang`) send nothing more until released."""
        with self._lock:
            self._faults.cuts, self._faults.cut_after = count, after_bytes
            self._faults.hang_after_cut = hang
            self._released.clear()

    def ignore_ranges(self) -> None:
        """Pass requests on without their `Range`, as a store that does not serve ranges:
        the whole object comes back (`200`)."""
        with self._lock:
            self._faults.ranges_ignored = True

    def stall(self) -> None:
        """Accept every request from now on and answer none until `release()`."""
        with self._lock:
            self._released.clear()
            self._faults.stalling = True

    def release(self) -> None:
        """Let stalled and hanging requests go (their connections are closed, unanswered or
        cut) and stop stalling."""
        with self._lock:
            self._faults.stalling = False
            self._released.set()

    def received(self, method: str, path: str | None = None) -> list[ProxiedRequest]:
        """The requests received of that method (and path, query left out)."""
        with self._lock:
            return [
                request
                for request in self.requests
                if request.method == method
                and (path is None or request.path.partition("?")[0] == path)
            ]

    def _admitted(self, request: ProxiedRequest) -> str | tuple[int, str]:
        """Record the request; what becomes of it: "stall", "forward" or the error (status,
        code) to answer it with."""
        with self._lock:
            self.requests.append(request)
            if self._faults.stalling:
                return "stall"
            if self._faults.errors:
                self._faults.errors -= 1
                return self._faults.error_status, self._faults.error_code
            return "forward"

    def _cut_point(self, size: int) -> tuple[int, bool] | None:
        """Where to cut a body of `size` bytes, and whether to hang there, if at all."""
        with self._lock:
            if not self._faults.cuts or size <= self._faults.cut_after:
                return None
            self._faults.cuts -= 1
            return self._faults.cut_after, self._faults.hang_after_cut

    def _forwarded(
        self, request: ProxiedRequest, body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        connection = http.client.HTTPConnection(*self._upstream, timeout=60)
        try:
            with self._lock:
                dropped = _HOP_BY_HOP | ({"range"} if self._faults.ranges_ignored else set())
            headers = {
                name: value for name, value in request.headers.items() if name not in dropped
            }
            connection.request(request.method, request.path, body or None, headers)
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()

    def handle(self, handler: "_ProxyHandler") -> None:
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        request = ProxiedRequest(
            handler.command,
            handler.path,
            {name.lower(): value for name, value in handler.headers.items()},
        )
        handler.close_connection = True
        fate = self._admitted(request)
        if fate == "stall":
            self._released.wait()
            return
        if isinstance(fate, tuple):
            status, code = fate
            document = s3_error(code)
            handler.send_response_only(status)
            handler.send_header("Content-Type", "application/xml")
            handler.send_header("Content-Length", str(len(document)))
            handler.send_header("Connection", "close")
            handler.end_headers()
            if request.method != "HEAD":
                handler.wfile.write(document)
            return
        try:
            status, headers, content = self._forwarded(request, body)
        except OSError:
            return  # the server is gone: the connection closes unanswered
        handler.send_response_only(status)
        for name, value in headers:
            if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                handler.send_header(name, value)
        # a HEAD's length is the object's, not of the (empty) body
        length = next((value for name, value in headers if name.lower() == "content-length"), "0")
        handler.send_header(
            "Content-Length", length if request.method == "HEAD" else str(len(content))
        )
        handler.send_header("Connection", "close")
        handler.end_headers()
        cut = self._cut_point(len(content)) if request.method != "HEAD" else None
        if cut is None:
            handler.wfile.write(content)
            return
        after, hang = cut
        handler.wfile.write(content[:after])
        handler.wfile.flush()
        if hang:
            self._released.wait()

    def serve(self) -> None:
        self._server.serve_forever(poll_interval=0.05)

    def close(self) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    owner: FaultProxy

    def __getattr__(self, name: str) -> Callable[[], None]:
        # `do_<METHOD>`: every method is passed on alike
        if name.startswith("do_"):
            return lambda: self.owner.handle(self)
        raise AttributeError(name)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that gave up on a stalled or cut response is what the tests do


@contextmanager
def fault_proxy(upstream: str) -> Iterator[FaultProxy]:
    """A `FaultProxy` in front of `upstream` (an S3 endpoint), closed after the block."""
    proxy = FaultProxy(upstream)
    thread = threading.Thread(target=proxy.serve, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.close()
        thread.join(timeout=10)
