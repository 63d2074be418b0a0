"""A temporary Prefect API server for one command: the server Prefect starts by itself when
no PREFECT_API_URL is set, but one that cannot outlive the command however it ends, and that
starts while the command does its own imports rather than when its flow needs it.

    with stop_on_signals(), temporary_api(wait=False):
        ...  # the command's imports and preparations, while the server starts
        healthy_api()  # before the flow's first call to the API
        flow()

Prefect's own server (`SubprocessASGIServer`) is stopped only by an `atexit` hook, which
neither SIGTERM nor SIGKILL runs. This one is killed by the kernel when the command dies
(Linux's parent-death signal), and stopped on the way out of the `with` block otherwise.
"""

import contextlib
import ctypes
import http.client
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import FrameType

API_URL = "PREFECT_API_URL"
UI_URL = "PREFECT_UI_URL"
HOST = "127.0.0.1"
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
STOP_GRACE_SECONDS = 5.0  # Prefect's own
DRAIN_SECONDS = 10.0
HEALTH_POLL_SECONDS = 0.05

# What Prefect's `SubprocessASGIServer` sets for its server: no UI, ephemeral services only.
EPHEMERAL_SERVER = {
    "PREFECT_UI_ENABLED": "0",
    "PREFECT__SERVER_EPHEMERAL": "1",
    "PREFECT__SERVER_FINAL": "1",
}
# The server's settings unless the environment says otherwise. Nothing may reach the
# internet. Block types are registered by `Block.save` itself: their registration on start
# imports every installed Prefect collection (prefect-aws, prefect-dask and with it Dask),
# even when its memo says there is nothing new, so both settings are needed to skip it.
SERVER_DEFAULTS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_REGISTER_BLOCKS_ON_START": "false",
    "PREFECT_SERVER_MEMOIZE_BLOCK_AUTO_REGISTRATION": "false",
}

# the server `temporary_api` started, by its URL, while the block runs
_started: dict[str, subprocess.Popen[bytes]] = {}


def configured_api_url() -> str | None:
    """The Prefect API the user set, in the environment, a profile or a settings file
    (prefect.toml, .env): what Prefect's settings say (reading them takes a second)."""
    from prefect.settings import get_current_settings

    return os.environ.get(API_URL) or get_current_settings().api.url


def known_api_url() -> str | None:
    """The Prefect API the user set, as far as it is known at once: in the environment, or
    in Prefect's settings if this process has read them already."""
    return configured_api_url() if "prefect.settings" in sys.modules else os.environ.get(API_URL)


def reserved_port() -> socket.socket:
    """A socket bound to a free port of 127.0.0.1 and not listening: no other socket can bind
    that port while it is open but the server can, both having SO_REUSEADDR (Linux), so the
    port stays free during the seconds the server starts before it binds."""
    reservation = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    reservation.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    reservation.bind((HOST, 0))
    return reservation


def prefect_site() -> Path:
    """The folder Prefect is installed in, found without importing it."""
    spec = importlib.util.find_spec("prefect")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("prefect is not installed")
    return Path(next(iter(spec.submodule_search_locations))).parent


def uvicorn_command(port: int) -> list[str]:
    """The command of Prefect's `SubprocessASGIServer._run_uvicorn_command`."""
    return [
        sys.executable, "-m", "uvicorn", "--app-dir", str(prefect_site()),
        "--factory", "prefect.server.api.server:create_app",
        "--host", HOST, "--port", str(port), "--log-level", "error", "--lifespan", "on",
    ]  # fmt: skip


def server_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment of Prefect's server: `environ` over the defaults, and the settings
    this process would hand its server if Prefect has read them already (else the server
    reads them itself, from the same environment, profile and files)."""
    settings: dict[str, str] = {}
    if "prefect.settings" in sys.modules:
        from prefect.settings import get_current_settings

        current = get_current_settings().to_environment_variables(exclude_unset=True)
        settings = {name: str(value) for name, value in current.items()}
    return {**SERVER_DEFAULTS, **environ, **EPHEMERAL_SERVER, **settings}


def dies_with(parent: int) -> Callable[[], None]:
    """What a child runs before its exec to be killed (SIGKILL) by the kernel when `parent`
    dies, or at once if `parent` died already. The kernel watches the parent's thread that
    forked the child. libc is loaded here, not in the forked child."""
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    zero = ctypes.c_ulong(0)

    def set_death_signal() -> None:
        if prctl(PR_SET_PDEATHSIG, ctypes.c_ulong(signal.SIGKILL), zero, zero, zero) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)

    return set_death_signal


def server_process(port: int) -> subprocess.Popen[bytes]:
    """Prefect's API server on `port`: a child that cannot outlive this process, in a
    process group of its own, so that a Ctrl-C or a `timeout` meant for the command reaches
    only the command, which reports its flow run crashed before it stops the server."""
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("the server dies with the thread that starts it: use the main one")
    linux = sys.platform == "linux"
    return subprocess.Popen(
        uvicorn_command(port),
        env=server_environment(os.environ),
        preexec_fn=dies_with(os.getpid()) if linux else None,
        process_group=0,
    )


def stopped(process: subprocess.Popen[bytes]) -> int:
    """The exit status of the server once stopped: SIGTERM, then SIGKILL after a grace,
    or at once if the wait is interrupted."""
    try:
        if process.poll() is None:
            process.terminate()
            process.wait(STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        pass
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process.returncode


def drained_prefect_queues() -> None:
    """Send the events and logs Prefect still holds while the server can take them: Prefect
    sends them at the interpreter's exit, when this server has stopped."""
    if "prefect.events.worker" in sys.modules:
        from prefect.events.worker import EventsWorker

        EventsWorker.drain_all(timeout=DRAIN_SECONDS)
    if "prefect.logging.handlers" in sys.modules:
        from prefect.logging.handlers import APILogWorker

        APILogWorker.drain_all(timeout=DRAIN_SECONDS)


def refreshed_prefect_settings() -> None:
    """Make Prefect read its settings from the environment again, if it has read them: its
    process-wide settings are those its own threads see."""
    if "prefect.context" in sys.modules:
        from prefect.context import refresh_global_settings_context

        refresh_global_settings_context()


@contextlib.contextmanager
def environment_set(values: Mapping[str, str]) -> Iterator[None]:
    """`values` set in this process's environment, as they were after."""
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def prefect_using(url: str) -> Iterator[None]:
    """Prefect in this process, its threads and its children using the API at `url`. It
    logs no link to the server's UI (there is none, and the server ends with the command)
    unless the user set one."""
    values = {API_URL: url} if UI_URL in os.environ else {API_URL: url, UI_URL: ""}
    try:
        with environment_set(values):
            refreshed_prefect_settings()
            with no_flow_heartbeats():
                yield
    finally:
        refreshed_prefect_settings()


@contextlib.contextmanager
def no_flow_heartbeats() -> Iterator[None]:
    """No heartbeats from the flow runs of this thread: they let a server that outlives a
    run tell that it crashed, and this server ends with the command; at the end of every
    run Prefect waits for its heartbeat thread, which sleeps a second at a time. Only
    Prefect's settings in this context can turn them off (not the environment)."""
    from prefect.settings import temporary_settings

    with temporary_settings(updates={"flows.heartbeat_frequency": None}):
        yield


def startup_timeout() -> float:
    """How long a server may take to start: Prefect's setting for its own."""
    from prefect.settings import get_current_settings

    return float(get_current_settings().server.ephemeral.startup_timeout_seconds)


def answers(url: str) -> bool:
    """Whether the API at `url` (http://host:port/api) answers its health check."""
    host, port = url.removeprefix("http://").split("/", 1)[0].rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        connection.request("GET", "/api/health")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def healthy_api(timeout: float | None = None) -> str | None:
    """The URL of the server `temporary_api` started, once it answers (within `timeout`
    seconds, by default Prefect's PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS); None
    if it started none."""
    if not _started:
        return None
    url, process = next(iter(_started.items()))
    deadline = time.monotonic() + (startup_timeout() if timeout is None else timeout)
    while not answers(url):
        if process.poll() is not None:
            raise RuntimeError(
                f"the temporary Prefect server exited with status {process.returncode} "
                "before it answered (its errors are above)"
            )
        if time.monotonic() > deadline:
            raise TimeoutError(f"the temporary Prefect server at {url} did not answer in time")
        time.sleep(HEALTH_POLL_SECONDS)
    return url


@contextlib.contextmanager
def temporary_api(wait: bool = True) -> Iterator[str]:
    """The URL of the Prefect API this process uses in the block: the user's if set (nothing
    is started), else a temporary server's, stopped on the way out (and flow runs of this
    thread send it no heartbeats). With `wait` false the block is entered while the server
    starts: call `healthy_api()` before using Prefect."""
    if theirs := known_api_url():
        yield theirs
        return
    with reserved_port() as reservation:
        port = reservation.getsockname()[1]
        url = f"http://{HOST}:{port}/api"
        process = server_process(port)
        try:
            # read while the server starts: a URL set in a profile or a file is rare, and
            # reading Prefect's settings first would delay every start by as long
            if theirs := configured_api_url():
                stopped(process)
                yield theirs
                return
            _started[url] = process
            with prefect_using(url):
                try:
                    if wait:
                        healthy_api()
                    yield url
                finally:
                    drained_prefect_queues()
        finally:
            _started.pop(url, None)
            stopped(process)


def exit_on(signum: int, _frame: FrameType | None) -> None:
    """Raise SystemExit in the main thread, with the status a shell gives a process ended by
    `signum` (128 + signum). The signal is ignored from then on: a second one would break
    off the cleanup the first one started."""
    signal.signal(signum, signal.SIG_IGN)
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """SIGTERM and SIGHUP end this process as `sys.exit` does (its `finally` blocks run, the
    server stops) rather than on the spot; SIGINT raises KeyboardInterrupt, Python's default.
    A signal ignored by whoever started the command stays ignored."""
    handlers: dict[signal.Signals, Callable[[int, FrameType | None], None]] = {
        signal.SIGTERM: exit_on,
        signal.SIGHUP: exit_on,
        signal.SIGINT: signal.default_int_handler,
    }
    previous = {
        signum: signal.signal(signum, handler)
        for signum, handler in handlers.items()
        if signal.getsignal(signum) is not signal.SIG_IGN
    }
    try:
        yield
    finally:
        for signum, handler in previous.items():
            # a signal received stays ignored while the process ends
            if signal.getsignal(signum) is handlers[signum]:
                signal.signal(signum, handler)
