"""Open-loop load: requests sent at fixed rates whatever the answers, as parents arrive in the
September peak (a closed loop, :mod:`bench.load`, slows down with the server and never
overloads it). Run as a separate process by the overload scenario (:mod:`bench.overload`)::

    python -m bench.open_loop SPEC.json     # prints the records as JSON

Each stream has a rate and its prepared requests; request ``i`` of a stream is sent at
``start + i / rate`` on a connection of its own (HTTP/1.0, read until the proxy closes it).
Its latency runs from that send to the last byte read; ``lag`` is how late the generator sent
it (a generator that cannot keep up shows there, not as a lower offered rate in disguise).
A reply is "refused" when it is a 503, by "app" when it carries the services' X-Request-Id,
by "proxy" otherwise; anything else is checked against the stream's expectation.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

REQUEST_TIMEOUT_SECONDS = 30.0  # beyond any parent's patience: counted as a timeout


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: str | None = None
    cookie: str | None = None


@dataclass(frozen=True)
class Stream:
    kind: str  # "sso", "login", "health"
    rate: float  # requests per second
    status: int  # the expected answer when served
    expect: str  # in the Location of a redirect, in the body otherwise
    requests: list[Request] = field(default_factory=list)


@dataclass(frozen=True)
class OpenLoopSpec:
    port: int
    host: str
    duration: float
    streams: list[Stream]

    def dump(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self)))

    @classmethod
    def load(cls, path: Path) -> OpenLoopSpec:
        raw = json.loads(path.read_text())
        streams = [
            Stream(**{**s, "requests": [Request(**r) for r in s["requests"]]}) for s in raw.pop("streams")
        ]
        return cls(streams=streams, **raw)


@dataclass(frozen=True)
class Record:
    kind: str
    lag: float
    latency: float
    status: int  # 0: no answer (timeout, connection error)
    outcome: str  # "served", "refused-proxy", "refused-app", "timeout", "error: …"


def _message(spec: OpenLoopSpec, request: Request) -> bytes:
    head = [f"{request.method} {request.path} HTTP/1.0", f"Host: {spec.host}"]
    if request.cookie:
        head.append(f"Cookie: {request.cookie}")
    body = (request.body or "").encode()
    if request.body is not None:
        head += ["Content-Type: application/x-www-form-urlencoded", f"Content-Length: {len(body)}"]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def classify(stream: Stream, raw: bytes) -> tuple[int, str]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        return 0, f"error: bad status line {lines[0][:60]!r}"
    status = int(parts[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if status == 503:
        return status, "refused-app" if "x-request-id" in headers else "refused-proxy"
    if status != stream.status:
        return status, f"error: HTTP {status}, expected {stream.status}"
    haystack = headers.get("location", "") if 300 <= status < 400 else body.decode("utf-8", "replace")
    if stream.expect not in haystack:
        return status, f"error: {stream.expect!r} not in the answer"
    return status, "served"


async def _one(spec: OpenLoopSpec, stream: Stream, request: Request, due: float) -> Record:
    loop = asyncio.get_running_loop()
    sent = loop.time()

    async def exchange() -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", spec.port)
        try:
            writer.write(_message(spec, request))
            await writer.drain()
            return await reader.read()
        finally:
            writer.close()

    try:
        raw = await asyncio.wait_for(exchange(), REQUEST_TIMEOUT_SECONDS)
    except TimeoutError:
        return Record(stream.kind, sent - due, loop.time() - sent, 0, "timeout")
    except OSError as exc:
        return Record(stream.kind, sent - due, loop.time() - sent, 0, f"error: {type(exc).__name__}")
    status, outcome = classify(stream, raw)
    return Record(stream.kind, sent - due, loop.time() - sent, status, outcome)


async def run(spec: OpenLoopSpec) -> list[Record]:
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.2
    schedule = sorted(
        (start + i / stream.rate, n, i)
        for n, stream in enumerate(spec.streams)
        if stream.rate > 0
        for i in range(min(len(stream.requests), int(stream.rate * spec.duration)))
    )
    tasks = []
    for due, n, i in schedule:
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        stream = spec.streams[n]
        tasks.append(asyncio.create_task(_one(spec, stream, stream.requests[i], due)))
    return list(await asyncio.gather(*tasks))


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    spec = OpenLoopSpec.load(Path(argv[0]))
    # One descriptor per request in flight: a queue of seconds at 100+ requests/s needs thousands.
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    cpu_before, wall_before = time.process_time(), time.perf_counter()
    records = asyncio.run(run(spec))
    result = {
        "records": [asdict(r) for r in records],
        "cpu": time.process_time() - cpu_before,
        "wall": time.perf_counter() - wall_before,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
