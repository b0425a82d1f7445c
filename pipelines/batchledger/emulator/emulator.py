"""The `Emulator` (start/stop a Together-compatible server in-process) and the `serve()` CLI."""

from __future__ import annotations

import signal
import threading
from datetime import datetime
from types import FrameType, TracebackType

from batchledger.emulator.bulk import BulkJob
from batchledger.emulator.clock import VirtualClock
from batchledger.emulator.demo import demo_scenario
from batchledger.emulator.faults import Faults
from batchledger.emulator.scenario import Scenario, ScenarioJob
from batchledger.emulator.server import EmulatorApp, EmulatorServer, RequestRecord
from batchledger.emulator.state import Store


class Emulator:
    """A Together Batch + Files API on loopback, driven by a `Scenario` and a virtual clock.

    api_key=None accepts any non-empty Bearer token; otherwise only that one.
    time_scale: virtual seconds per real second (0 freezes time; use advance()).
    """

    def __init__(
        self,
        scenario: Scenario | None = None,
        faults: Faults | None = None,
        api_key: str | None = None,
        time_scale: float = 1.0,
        port: int = 0,
        host: str = "127.0.0.1",
    ) -> None:
        self.scenario = scenario if scenario is not None else demo_scenario()
        self.faults = faults if faults is not None else Faults()
        self.clock = VirtualClock(self.scenario.now, time_scale)
        self.store = Store(self.scenario, self.faults)
        self._app = EmulatorApp(self.store, self.clock, self.faults, api_key)
        self._host = host
        self._port = port
        self._server: EmulatorServer | None = None
        self._thread: threading.Thread | None = None
        self.base_url: str | None = None

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> str:
        """Bind, serve on a background thread and return the host root URL (no /v1)."""
        if self._server is not None:
            raise RuntimeError("emulator already started")
        server = EmulatorServer((self._host, self._port), self._app)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="together-emulator",
            daemon=True,
        )
        self._thread.start()
        self.clock.run()
        host, port = server.server_address[:2]
        self.base_url = f"http://{host!s}:{port}"
        return self.base_url

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Emulator:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- clock ---------------------------------------------------------------------------

    def now(self) -> datetime:
        return self.clock.now()

    def advance(self, seconds: float) -> datetime:
        return self.clock.advance(seconds)

    # -- inspection ----------------------------------------------------------------------

    @property
    def request_log(self) -> list[RequestRecord]:
        """A snapshot of every /v1 (and upload PUT) request served so far."""
        return self._app.request_log()

    def content_downloads(self) -> int:
        """GET /v1/files/{id}/content answered 200 or 206 (a reset-fault download counts)."""
        return self._app.content_downloads()

    def reset_log(self) -> None:
        self._app.reset_log()

    @property
    def malformed_lines(self) -> list[tuple[str, int]]:
        """(file_id, 1-based line number) of every malformed line the fault inserted."""
        return self.store.malformed_lines

    def job(self, batch_id: str) -> ScenarioJob:
        """Current truth for a job, including jobs created or cancelled over HTTP."""
        return self.store.job(batch_id)

    def jobs(self) -> list[ScenarioJob]:
        return self.store.jobs()

    # -- bulk data -----------------------------------------------------------------------

    def add_bulk_job(self, bulk: BulkJob) -> None:
        """Serve a job whose files are on disk (`write_bulk_job`), now or while running."""
        self.store.add_bulk_job(bulk)


def serve(
    port: int = 0,
    host: str = "127.0.0.1",
    api_key: str | None = None,
    time_scale: float = 60.0,
    faults: Faults | None = None,
) -> None:
    """Run the demo emulator until Ctrl-C or SIGTERM (time_scale 60: a virtual minute a second)."""
    stopping = threading.Event()

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, on_sigterm)
    emulator = Emulator(
        scenario=demo_scenario(),
        faults=faults,
        api_key=api_key,
        time_scale=time_scale,
        port=port,
        host=host,
    )
    try:
        url = emulator.start()
        print(f"Together emulator (demo data) listening on {url}", flush=True)
        # A timed wait keeps Ctrl-C responsive on every platform.
        while not stopping.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
