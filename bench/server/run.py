"""Benchmark: ``safe-pip serve`` against a plain static file server, measured in the same run.

1. **warm file**: a 20 MiB wheel already vetted, fetched sequentially (keep-alive) from the
   vetting index and, as the anchor, the same file from a plain static server on the same
   stack (uvicorn + Starlette ``StaticFiles``, no vetting, no database). Goal: the vetting
   index within **1.2x** of the static server (median), p99 reported.
2. **cold fleet**: 20 real ``uv pip install`` clients at once, each installing the same 20
   packages from a freshly started server (empty database and store). Goal: every client
   succeeds and the audit records show each artifact vetted **exactly once**.
3. **warm throughput**: 20 concurrent HTTP clients each reading the 20 project pages and files
   again: requests per second, p50 and p99 latency.

    python bench/server/run.py [--repeat 60]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.support.index_server import IndexServer  # noqa: E402
from tests.support.venvs import isolated_env  # noqa: E402
from tests.support.wheels import build_wheel  # noqa: E402

ADMIN = "bench-admin"
N = 20
JSON = "application/vnd.pypi.simple.v1+json"
STATIC_APP = (
    "import sys, uvicorn\n"
    "from starlette.applications import Starlette\n"
    "from starlette.routing import Mount\n"
    "from starlette.staticfiles import StaticFiles\n"
    "app = Starlette(routes=[Mount('/', StaticFiles(directory=sys.argv[1]))])\n"
    "uvicorn.run(app, host='127.0.0.1', port=int(sys.argv[2]), log_level='warning')\n"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{url}: server exited")
        try:
            requests.get(url, timeout=2)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise SystemExit(f"{url}: server did not come up")


def start_serve(
    work: Path, upstream: str, home: Path, scan_workers: int = 2
) -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    cmd = [
        sys.executable, "-m", "safe_pip", "serve", "--upstream", upstream,
        "--database", f"sqlite:///{work / 'state.sqlite3'}", "--store", str(work / "store"),
        "--port", str(port), "--scan-workers", str(scan_workers),
    ]  # fmt: skip
    env = isolated_env(home, SAFE_PIP_SERVE_ADMIN_TOKENS=ADMIN)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    wait_up(url + "/healthz", proc)
    return url, proc


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timed_gets(session: requests.Session, url: str, n: int) -> list[float]:
    out = []
    for _ in range(n):
        start = time.perf_counter()
        r = session.get(url, timeout=60)
        r.raise_for_status()
        _ = r.content
        out.append(time.perf_counter() - start)
    return out


def warm_file(tmp: Path, repeat: int) -> dict[str, float]:
    wheel = build_wheel(
        tmp / "big", "bigmodel", "1.0", {"bigmodel/weights.bin": os.urandom(20 << 20)}
    )
    sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
    static_dir = tmp / "static"
    static_dir.mkdir()
    shutil.copy(wheel, static_dir / wheel.name)
    with IndexServer() as upstream:
        upstream.add(wheel)
        home = tmp / "home1"
        home.mkdir()
        serve_url, serve_proc = start_serve(tmp / "warm", upstream.simple_url, home)
        sport = free_port()
        static = subprocess.Popen([sys.executable, "-c", STATIC_APP, str(static_dir), str(sport)])
        try:
            wait_up(f"http://127.0.0.1:{sport}/", static)
            vetted = f"{serve_url}/files/{sha}/{wheel.name}"
            plain = f"http://127.0.0.1:{sport}/{wheel.name}"
            with requests.Session() as s:
                s.get(vetted, timeout=600).raise_for_status()  # vet it (cold), then warm up
                timed_gets(s, vetted, 3)
                timed_gets(s, plain, 3)
                a: list[float] = []
                b: list[float] = []
                for _ in range(repeat):  # interleaved, so load on the machine hits both alike
                    a += timed_gets(s, vetted, 1)
                    b += timed_gets(s, plain, 1)
        finally:
            for p in (serve_proc, static):
                p.terminate()
                p.wait()
    return {
        "size_mib": wheel.stat().st_size / (1 << 20),
        "serve_median": statistics.median(a),
        "serve_p99": percentile(a, 0.99),
        "static_median": statistics.median(b),
        "static_p99": percentile(b, 0.99),
    }


def cold_fleet(tmp: Path) -> dict[str, float]:
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv is None:
        raise SystemExit("uv is needed (pip install -e '.[test]')")
    names = [f"fleetpkg{i:02d}" for i in range(N)]
    wheels = []
    for i, name in enumerate(names):
        files = {f"{name}/__init__.py": f"VALUE = {i}\n".encode()}
        files[f"{name}/data.bin"] = os.urandom(256 << 10)
        wheels.append(build_wheel(tmp / "fleet", name, "1.0", files))
    shas = {w.name: hashlib.sha256(w.read_bytes()).hexdigest() for w in wheels}
    with IndexServer() as upstream:
        for w in wheels:
            upstream.add(w)
        home = tmp / "home2"
        home.mkdir()
        url, proc = start_serve(tmp / "cold", upstream.simple_url, home)
        try:
            codes: list[int] = []
            lock = threading.Lock()

            def client(i: int) -> None:
                chome = tmp / f"client{i}"
                chome.mkdir()
                env = isolated_env(chome, UV_NO_CONFIG="1", UV_CACHE_DIR=str(chome / "uvc"))
                cmd = [
                    uv, "pip", "install", "--python", sys.executable,
                    "--target", str(chome / "t"), "--index-url", f"{url}/simple/", *names,
                ]  # fmt: skip
                r = subprocess.run(cmd, env=env, capture_output=True, timeout=900)
                with lock:
                    codes.append(r.returncode)

            start = time.perf_counter()
            threads = [threading.Thread(target=client, args=(i,)) for i in range(N)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall = time.perf_counter() - start
            auth = {"Authorization": f"Bearer {ADMIN}"}
            vetted = requests.get(
                f"{url}/v1/audit?event=vetted&limit=10000", headers=auth, timeout=60
            ).json()["records"]
            per_file = [sum(1 for r in vetted if r["sha256"] == sha) for sha in shas.values()]
            throughput = warm_throughput(url, names)
        finally:
            proc.terminate()
            proc.wait()
    return {
        "cold_wall": wall,
        "clients_ok": sum(1 for c in codes if c == 0),
        "vetted_min": min(per_file),
        "vetted_max": max(per_file),
        **throughput,
    }


def warm_throughput(url: str, names: list[str]) -> dict[str, float]:
    latencies: list[float] = []
    lock = threading.Lock()

    def client() -> None:
        mine = []
        with requests.Session() as s:
            for name in names:
                t0 = time.perf_counter()
                base = f"{url}/simple/{name}/"
                doc = s.get(base, headers={"Accept": JSON}, timeout=60).json()
                t1 = time.perf_counter()
                r = s.get(requests.compat.urljoin(base, doc["files"][0]["url"]), timeout=60)
                r.raise_for_status()
                t2 = time.perf_counter()
                mine += [t1 - t0, t2 - t1]
        with lock:
            latencies.extend(mine)

    start = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(N)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    return {
        "warm_requests": len(latencies),
        "warm_rps": len(latencies) / wall,
        "warm_p50": statistics.median(latencies),
        "warm_p99": percentile(latencies, 0.99),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=60)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="safe-pip-bench-server-") as tmp_name:
        tmp = Path(tmp_name)
        warm = warm_file(tmp, args.repeat)
        fleet = cold_fleet(tmp)
    ratio = warm["serve_median"] / warm["static_median"]
    print(f"warm {warm['size_mib']:.1f} MiB file, {args.repeat} sequential GETs each (keep-alive):")
    print(
        f"  safe-pip serve: median {warm['serve_median'] * 1000:.1f} ms, "
        f"p99 {warm['serve_p99'] * 1000:.1f} ms"
    )
    print(
        f"  static (uvicorn + Starlette StaticFiles): median {warm['static_median'] * 1000:.1f}"
        f" ms, p99 {warm['static_p99'] * 1000:.1f} ms"
    )
    verdict = "met" if ratio <= 1.2 else "NOT met"
    print(f"  ratio serve/static = {ratio:.2f}x (goal <= 1.2x: {verdict})")
    print(f"cold fleet: {N} uv clients x {N} packages from an empty server:")
    print(
        f"  wall {fleet['cold_wall']:.1f} s, {fleet['clients_ok']:.0f}/{N} clients succeeded, "
        f"vetted per artifact: min {fleet['vetted_min']:.0f}, max {fleet['vetted_max']:.0f}"
    )
    once = fleet["vetted_min"] == fleet["vetted_max"] == 1 and fleet["clients_ok"] == N
    print(f"  each artifact vetted exactly once: {'met' if once else 'NOT met'}")
    print(
        f"warm throughput: {fleet['warm_requests']:.0f} requests by {N} concurrent clients: "
        f"{fleet['warm_rps']:.0f} req/s, p50 {fleet['warm_p50'] * 1000:.1f} ms, "
        f"p99 {fleet['warm_p99'] * 1000:.1f} ms"
    )
    return 0 if once and ratio <= 1.2 else 1


if __name__ == "__main__":
    raise SystemExit(main())
