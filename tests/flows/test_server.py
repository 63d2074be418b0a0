"""The temporary Prefect server of `wa-etl run` (flows/server.py) dies with the command,
however the command ends, and is not started when PREFECT_API_URL names a server."""

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from flows.server import dies_with

PROJECT = Path(__file__).resolve().parents[2]
GONE_WITHIN_SECONDS = 10.0
STARTUP_SECONDS = 300.0

# A command like `wa-etl run`: it starts the server (waits for it to answer, or not), says
# which process the server is and what Prefect sees (in a thread of its own too, and in a
# block nested in the first; whether flow runs send heartbeats), then works (or runs a flow)
# until it is killed, or leaves the block and says what Prefect sees after.
COMMAND = """
import json, os, sys, threading, time
from flows.server import healthy_api, stop_on_signals, temporary_api

def api_urls():
    from prefect.settings import get_current_settings
    seen = {"main": get_current_settings().api.url}
    seen["heartbeats"] = get_current_settings().flows.heartbeat_frequency is not None
    thread = threading.Thread(target=lambda: seen.update(thread=get_current_settings().api.url))
    thread.start()
    thread.join()
    return seen

mode = sys.argv[1]
with stop_on_signals(), temporary_api(wait=mode != "starting") as url:
    me = os.getpid()
    children = open(f"/proc/{me}/task/{me}/children").read().split()
    seen = api_urls() if mode == "exit" else {}
    if mode == "exit":
        with stop_on_signals(), temporary_api(wait=False) as nested:
            seen.update(nested=nested, healthy=healthy_api())
    print(json.dumps({"url": url, "children": children, "seen": seen}), flush=True)
    if mode == "flow":
        from prefect import flow
        from prefect.client.orchestration import get_client

        @flow
        def night():
            print(json.dumps({"running": True}), flush=True)
            time.sleep(600)

        try:
            night()
        except BaseException as error:
            with get_client(sync_client=True) as client:
                states = [run.state_name for run in client.read_flow_runs()]
            print(json.dumps({"raised": type(error).__name__, "states": states}), flush=True)
            raise
    if mode != "exit":
        time.sleep(600)
print(json.dumps({"after": os.environ.get("PREFECT_API_URL"), "seen": api_urls()}), flush=True)
"""


@dataclass(frozen=True)
class Pid:
    """A process, told apart from a later one given the same number."""

    pid: int
    started: str

    @classmethod
    def of(cls, pid: int) -> "Pid":
        return cls(pid, stat_fields(pid)[19])


def stat_fields(pid: int) -> list[str]:
    """The fields of /proc/<pid>/stat after the command name, from the state on."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def alive(process: Pid) -> bool:
    """Whether the process runs (a zombie no parent has reaped yet does not)."""
    try:
        fields = stat_fields(process.pid)
    except (FileNotFoundError, ProcessLookupError):
        return False
    return fields[19] == process.started and fields[0] not in ("Z", "X")


def gone(process: Pid, within: float = GONE_WITHIN_SECONDS) -> bool:
    deadline = time.monotonic() + within
    while alive(process):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@dataclass
class Started:
    """The commands a test started and the servers they started, all killed after it."""

    commands: list[subprocess.Popen[str]]
    servers: list[Pid]


@pytest.fixture
def started() -> Iterator[Started]:
    processes = Started([], [])
    try:
        yield processes
    finally:
        for command in processes.commands:
            if command.poll() is None:
                command.kill()
            command.wait()
        for server in processes.servers:
            if alive(server):
                os.kill(server.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def prefect_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One Prefect home for the module's servers: the first start creates its database."""
    return tmp_path_factory.mktemp("prefect-home")


def environment(prefect_home: Path, **settings: str) -> dict[str, str]:
    environ = {name: value for name, value in os.environ.items() if name != "PREFECT_API_URL"}
    return {**environ, "PREFECT_HOME": str(prefect_home), **settings}


@dataclass
class Command:
    """A command started by a test, and the lines it prints, read as they come."""

    process: subprocess.Popen[str]
    lines: "queue.Queue[str]"

    def said(self, timeout: float) -> dict[str, Any]:
        """The next line the command prints, as JSON (its errors if it ends without one)."""
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            line = ""
        if not line:
            self.process.kill()
            assert self.process.stderr is not None
            pytest.fail(f"the command printed nothing more: {self.process.stderr.read()}")
        return dict(json.loads(line))


def lines_of(process: subprocess.Popen[str]) -> "queue.Queue[str]":
    """The lines `process` prints, then an empty line at its end."""
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
        lines.put("")

    threading.Thread(target=read, daemon=True).start()
    return lines


def run_command(started: Started, mode: str, env: dict[str, str]) -> tuple[Command, dict[str, Any]]:
    """The command started in `mode`, and what it said first; it and its server are killed
    after the test whatever happens."""
    process = subprocess.Popen(
        [sys.executable, "-c", COMMAND, mode],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    started.commands.append(process)
    command = Command(process, lines_of(process))
    said = command.said(STARTUP_SECONDS)
    started.servers.extend(Pid.of(int(child)) for child in said["children"])
    return command, said


@pytest.mark.parametrize(
    ("signum", "status"),
    [(signal.SIGKILL, -signal.SIGKILL), (signal.SIGTERM, 143), (signal.SIGINT, -signal.SIGINT)],
    ids=["SIGKILL", "SIGTERM", "SIGINT"],
)
def test_a_killed_command_leaves_no_server(
    started: Started, prefect_home: Path, signum: int, status: int
) -> None:
    command, _ = run_command(started, "healthy", environment(prefect_home))
    [server] = started.servers
    assert alive(server)
    command.process.send_signal(signum)
    assert command.process.wait(GONE_WITHIN_SECONDS) == status
    assert gone(server), f"the server {server.pid} outlived its command"


def test_a_flow_run_ended_by_sigterm_is_reported_crashed_before_the_server_stops(
    started: Started, prefect_home: Path
) -> None:
    command, _ = run_command(started, "flow", environment(prefect_home))
    [server] = started.servers
    assert command.said(STARTUP_SECONDS) == {"running": True}
    command.process.send_signal(signal.SIGTERM)
    # Prefect's own SIGTERM handler in the flow marks the run crashed, then hands the signal on
    assert command.said(GONE_WITHIN_SECONDS) == {"raised": "SystemExit", "states": ["Crashed"]}
    assert command.process.wait(GONE_WITHIN_SECONDS) == 143
    assert gone(server), f"the server {server.pid} outlived its command"


def test_a_command_killed_while_its_server_starts_leaves_no_server(
    started: Started, prefect_home: Path
) -> None:
    command, _ = run_command(started, "starting", environment(prefect_home))
    [server] = started.servers
    command.process.kill()
    command.process.wait()
    assert gone(server), f"the server {server.pid} outlived its command"


def test_prefect_uses_the_server_and_it_stops_with_the_block(
    started: Started, prefect_home: Path
) -> None:
    command, said = run_command(started, "exit", environment(prefect_home))
    [server] = started.servers
    url = said["url"]
    assert said["seen"] == {
        "main": url,
        "thread": url,
        "heartbeats": False,
        "nested": url,
        "healthy": url,
    }
    after = command.said(GONE_WITHIN_SECONDS)
    assert after == {"after": None, "seen": {"main": None, "thread": None, "heartbeats": True}}
    assert command.process.wait(GONE_WITHIN_SECONDS) == 0
    assert gone(server, within=0), "the server still ran when the block was left"


def test_nothing_is_started_when_prefect_api_url_is_set(
    started: Started, prefect_home: Path
) -> None:
    theirs = "http://127.0.0.1:9/api"
    env = environment(prefect_home, PREFECT_API_URL=theirs)
    command, said = run_command(started, "exit", env)
    assert said["url"] == theirs
    assert said["children"] == []
    assert command.process.wait(GONE_WITHIN_SECONDS) == 0


def test_the_server_of_the_users_profile_is_used(started: Started, tmp_path: Path) -> None:
    theirs = "http://127.0.0.1:9/api"
    profiles = tmp_path / "profiles.toml"
    profiles.write_text(f'active = "theirs"\n[profiles.theirs]\nPREFECT_API_URL = "{theirs}"\n')
    env = environment(tmp_path, PREFECT_PROFILES_PATH=str(profiles))
    command, said = run_command(started, "exit", env)
    assert said["url"] == theirs
    assert said["children"] == []  # the server started while the profile was read is gone
    assert command.process.wait(GONE_WITHIN_SECONDS) == 0


def pdeathsig_of_child(preexec: Callable[[], None]) -> subprocess.CompletedProcess[str]:
    """A child that prints the signal it gets when its parent dies (PR_GET_PDEATHSIG)."""
    script = (
        "import ctypes; libc = ctypes.CDLL(None); signal = ctypes.c_int(); "
        "libc.prctl(2, ctypes.byref(signal), 0, 0, 0); print(signal.value)"
    )
    return subprocess.run(
        [sys.executable, "-c", script], preexec_fn=preexec, capture_output=True, text=True
    )


@pytest.mark.skipif(sys.platform != "linux", reason="the parent-death signal is Linux's")
def test_the_server_gets_sigkill_when_its_parent_dies() -> None:
    child = pdeathsig_of_child(dies_with(os.getpid()))
    assert (child.returncode, child.stdout.strip()) == (0, str(int(signal.SIGKILL)))


@pytest.mark.skipif(sys.platform != "linux", reason="the parent-death signal is Linux's")
def test_a_child_whose_parent_died_before_it_was_set_up_kills_itself() -> None:
    child = pdeathsig_of_child(dies_with(parent=-1))
    assert child.returncode == -signal.SIGKILL
