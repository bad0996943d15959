"""`vidcolor serve` under load: N clients posting photos at once while 3 viewers watch one live source.

Reports requests per second, latency p50/p95, each viewer's frames per second, and the server's resident memory
after warm-up and every 500 requests (it should level off, not grow with the number of requests).

    python benchmarks/serve_load.py --clients 4 --requests 1000 --json benchmarks/results/serve_load_cpu.json
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np

from vidcolor.bench import machine

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
from media import ServeProcess  # noqa: E402  (the test suite's way of running the server)


def resident_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def post_photo(port: int, body: bytes) -> float:
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("POST", "/api/images?name=photo.png", body=body)
    response = connection.getresponse()
    response.read()
    connection.close()
    if response.status != 200:
        raise RuntimeError(f"HTTP {response.status}")
    return time.perf_counter() - started


def watch(port: int, stop: threading.Event, counts: list[int], index: int) -> None:
    """One viewer of the live source: counts the pictures of its MJPEG stream."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", "/api/streams/cam")
    response = connection.getresponse()
    while not stop.is_set():
        counts[index] += response.read1(65536).count(b"--frame")
    connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=4, help="photo requests in flight at once (default: 4)")
    parser.add_argument("--requests", type=int, default=1000, help="photo requests in all (default: 1000)")
    parser.add_argument("--viewers", type=int, default=3, help="viewers of the live source (default: 3)")
    parser.add_argument("--photo", type=Path, default=HERE.parent / "samples" / "street_gray.png")
    parser.add_argument("--source", default=str(HERE.parent / "samples" / "indoor_gray.mp4"),
                        help="the live source (default: a sample clip, looped, 10 fps)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    body = args.photo.read_bytes()
    with tempfile.TemporaryDirectory() as scratch, ServeProcess("--out", scratch, "--source", f"cam={args.source}",
                                                                 "-q") as served:  # fmt: skip
        server, port = served.process, served.port
        for _ in range(20):  # warm-up: the model's first runs, the allocator's first pools
            post_photo(port, body)
        memory = {"after_warm_up_mib": resident_mib(server.pid)}
        stop, counts = threading.Event(), [0] * args.viewers
        viewers = [threading.Thread(target=watch, args=(port, stop, counts, i), daemon=True)
                   for i in range(args.viewers)]  # fmt: skip
        for viewer in viewers:
            viewer.start()
        latencies: list[float] = []
        done = threading.Lock()
        issued = iter(range(args.requests))

        def client() -> None:
            for _ in issued:  # shared: each request is taken by one client
                latency = post_photo(port, body)
                with done:
                    latencies.append(latency)
                    if len(latencies) % 500 == 0:
                        memory[f"after_{len(latencies)}_mib"] = resident_mib(server.pid)

        started = time.perf_counter()
        frames_before = list(counts)
        clients = [threading.Thread(target=client) for _ in range(args.clients)]
        for thread in clients:
            thread.start()
        for thread in clients:
            thread.join()
        seconds = time.perf_counter() - started
        viewer_fps = [(after - before) / seconds for before, after in zip(frames_before, counts, strict=True)]
        stop.set()
        status = json.loads(urllib.request.urlopen(f"{served.base}/api/streams/cam/status").read())
    report = {
        "machine": machine(), "clients": args.clients, "requests": len(latencies), "viewers": args.viewers,
        "photo": f"{args.photo.name}", "requests_per_second": len(latencies) / seconds,
        "latency_p50_ms": float(np.percentile(latencies, 50) * 1e3),
        "latency_p95_ms": float(np.percentile(latencies, 95) * 1e3),
        "viewer_fps": viewer_fps, "live_source_status": status, "memory": memory,
    }  # fmt: skip
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
