"""What an anonymous client costs the service: a 56 MB JSON body (announced, and chunked without a length) sent
to `POST /api/v1/exams` of a real uvicorn server on 127.0.0.1. Prints the answer, how much of the body the client
got to send before it came, how long it took, and the server's memory before and after.

    python benchmarks/gate_body.py [--megabytes 56]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time

import psutil

SERVER = """
import sys, uvicorn
from api.service.app import create_app
from api.service.settings import Settings
uvicorn.run(create_app(Settings(data_dir=sys.argv[1], workers=0, _env_file=None)), host="127.0.0.1",
            port=int(sys.argv[2]), log_level="warning")
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _send(port: int, megabytes: int, chunked: bool) -> tuple[str, int, float]:
    """(status line, body bytes sent before the answer came, seconds)."""
    started = time.perf_counter()
    sent = 0
    with socket.create_connection(("127.0.0.1", port)) as conn:
        length = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {megabytes << 20}"
        conn.sendall(f"POST /api/v1/exams HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{length}\r\n\r\n"
                     .encode())
        conn.setblocking(False)
        total = megabytes << 20
        answer = b""
        while sent < total:
            try:
                answer += conn.recv(4096)
            except BlockingIOError:
                pass
            if answer:
                break
            size = min(1 << 20, total - sent)
            block = ((b"[" if sent == 0 else b"") + b"1," * (size // 2 + 1))[:size]  # JSON that never closes
            payload = f"{len(block):x}\r\n".encode() + block + b"\r\n" if chunked else block
            if chunked and sent + len(block) >= total:
                payload += b"0\r\n\r\n"
            try:
                conn.setblocking(True)
                conn.settimeout(5)
                conn.sendall(payload)
                conn.setblocking(False)
            except OSError:  # the server closed the connection
                break
            sent += len(block)
        conn.setblocking(True)
        conn.settimeout(30)
        while b"\r\n" not in answer:
            try:
                more = conn.recv(4096)
            except OSError:
                break
            if not more:
                break
            answer += more
    return answer.split(b"\r\n", 1)[0].decode(errors="replace"), sent, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=56)
    args = parser.parse_args()
    port = _free_port()
    with tempfile.TemporaryDirectory() as data:
        server = subprocess.Popen([sys.executable, "-c", SERVER, data, str(port)], env={**os.environ})
        try:
            for _ in range(200):
                try:
                    socket.create_connection(("127.0.0.1", port)).close()
                    break
                except OSError:
                    time.sleep(0.1)
            process = psutil.Process(server.pid)
            print(f"server RSS at rest: {process.memory_info().rss / 2**20:.0f} MiB")
            for chunked in (False, True):
                status, sent, seconds = _send(port, args.megabytes, chunked)
                kind = "chunked, no length" if chunked else "Content-Length"
                print(f"anonymous {args.megabytes} MB JSON ({kind}): {status!r} after {sent / 2**20:.1f} MiB sent, "
                      f"{seconds * 1000:.0f} ms; server RSS {process.memory_info().rss / 2**20:.0f} MiB")
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
