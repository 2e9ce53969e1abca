"""What every peer driver shares: the W1-W3 payload, the record each job appends when it
starts, pacing at a fixed rate, and turning records into results.

A job records `i enqueued started` as one line appended to a file (O_APPEND, one write), so
drivers need no result backend and every system is measured the same way: W2 runs from the
first job's start to the last job's start, W3 is per job started minus enqueued.

W2 and W3 run `--workers` worker processes (default 1). The concurrency is divided among them
(50 over 4 processes: 13, 13, 12, 12), so every system runs at most `--concurrency` jobs at
once whatever its process count: more processes only spread a worker's own CPU work (one
Python process is held to one core by its interpreter lock) over the machine's cores.
"""
import json
import os
import signal
import subprocess
import sys
import time

PAD = "x" * 100


def payload(i):
    return {"i": i, "pad": PAD}


def record(out, i, enqueued):
    """Called by the job: appends its index, enqueue time and start time to `out`. A probe
    (negative index) records minus its process id instead, so `warm_up` can tell which
    worker processes ran one."""
    if i < 0:
        i = -os.getpid()
    line = f"{i} {enqueued!r} {time.time()!r}\n".encode()
    fd = os.open(out, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def read_records(out):
    try:
        with open(out) as f:
            return [(int(a), float(b), float(c)) for a, b, c in (line.split() for line in f if line.count(" ") == 2)]
    except FileNotFoundError:
        return []


def count_lines(out):
    try:
        with open(out, "rb") as f:
            return f.read().count(b"\n")
    except FileNotFoundError:
        return 0


def wait_for(out, n, timeout, workers=()):
    """Waits until `out` holds `n` records, a worker process died, or `timeout` seconds passed."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if count_lines(out) >= n:
            return True
        if any(w.poll() is not None for w in workers):
            return False
        time.sleep(0.02)
    return False


def paced(rate, duration):
    """Yields job indexes at `rate` per second for `duration` seconds, never skipping one."""
    total = max(1, round(rate * duration))
    start = time.perf_counter()
    for i in range(total):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        yield i


def check(records, n):
    seen = {}
    for i, _, _ in records:
        seen[i] = seen.get(i, 0) + 1
    lost = sum(1 for i in range(n) if i not in seen)
    duplicated = sum(c - 1 for c in seen.values())
    return lost, duplicated


def latency_ms(records):
    values = sorted((started - enqueued) * 1000 for _, enqueued, started in records)
    if not values:
        return None

    def at(fraction):
        return values[min(len(values) - 1, max(0, int(-(-len(values) * fraction // 1)) - 1))]

    return {"p50": at(0.5), "p99": at(0.99), "max": values[-1], "mean": sum(values) / len(values)}


def result(workload, jobs, seconds, lost=0, duplicated=0, latency=None, note=None):
    r = {"workload": workload, "jobs": jobs, "seconds": seconds, "perSecond": jobs / seconds if seconds > 0 else 0,
         "lost": lost, "duplicated": duplicated}
    if latency is not None:
        r["latency"] = latency
    if note:
        r["note"] = note
    return r


def drain_result(out, n):
    records = read_records(out)
    lost, duplicated = check(records, n)
    starts = [s for _, _, s in records]
    seconds = (max(starts) - min(starts)) if len(starts) > 1 else 0
    return result("w2", n, seconds, lost, duplicated, note="first job start to last job start")


def latency_result(out, n, workload="w3"):
    records = read_records(out)
    lost, duplicated = check(records, n)
    return result(workload, n, 0, lost, duplicated, latency_ms(records))


def start_worker(args, env_extra, log):
    env = dict(os.environ, **env_extra)
    env["PYTHONPATH"] = os.path.dirname(os.path.abspath(__file__)) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)


def split(concurrency, workers):
    """The concurrency of each of `workers` processes: `concurrency` divided among them, the
    remainder going to the first ones, at least 1 each."""
    return [max(1, concurrency // workers + (1 if k < concurrency % workers else 0)) for k in range(workers)]


def start_workers(peer, concurrency, workers, log):
    return [peer.start_worker(c, log) for c in split(concurrency, workers)]


def stop_worker(worker, sig=signal.SIGTERM):
    """Stops the worker and every process it started (its own session), by its process group."""
    stop_workers([worker], sig)


def stop_workers(workers, sig=signal.SIGTERM):
    """Signals every worker's process group first, then waits for each (SIGKILL after 20 s)."""
    for worker in workers:
        if worker.poll() is None:
            try:
                os.killpg(worker.pid, sig)
            except ProcessLookupError:
                pass
    for worker in workers:
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(worker.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            worker.wait()


def probe_pids(out):
    try:
        with open(out) as f:
            return {-int(line.split()[0]) for line in f if line.count(" ") == 2}
    except FileNotFoundError:
        return set()


def warm_up(enqueue_probe, out, workers, timeout=60):
    """Enqueues a probe job and waits until a worker ran it: the worker is ready. With more
    than one worker process, goes on enqueueing probes (every 20 ms) until as many processes
    ran one or `timeout` passed, so no process is still starting when the measurement begins."""
    enqueue_probe(out)
    if not wait_for(out, 1, timeout, workers):
        raise RuntimeError("the worker did not run a probe job within %d s" % timeout)
    deadline = time.time() + timeout
    while len(probe_pids(out)) < len(workers) and time.time() < deadline:
        if any(w.poll() is not None for w in workers):
            raise RuntimeError("a worker process exited during the warm-up")
        enqueue_probe(out)
        time.sleep(0.02)
    seen = len(probe_pids(out))
    if seen < len(workers):
        log(f"warm-up: probes ran in {seen} of {len(workers)} worker processes within {timeout} s")


def options():
    """The driver's command line: --jobs --concurrency --rate --duration --redis-port
    --postgres-url --workers --dir."""
    import argparse
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=20000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--redis-port", type=int, default=0)
    parser.add_argument("--postgres-url", default=os.environ.get("BENCH_POSTGRES_URL", ""))
    parser.add_argument("--workers", type=int, default=1, help="worker processes for w2 and w3, sharing --concurrency")
    parser.add_argument("--dir", required=True)
    parser.add_argument("--workloads", default="w1,w2,w3")
    opts = parser.parse_args()
    if opts.workers < 1:
        parser.error("--workers must be at least 1")
    return opts


def emit(results):
    json.dump(results, sys.stdout)
    sys.stdout.write("\n")


def log(message):
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


class Peer:
    """A job system under test. Drivers implement `enqueue` (one job, one call), `stored`,
    `reset` and `start_worker`; `enqueue_bulk` where the system has a bulk call."""
    name = "peer"
    enqueue_bulk = None

    def single(self, n, out):
        start = time.perf_counter()
        for i in range(n):
            self.enqueue(i, time.time(), out)
        return time.perf_counter() - start

    def bulk(self, n, out):
        if self.enqueue_bulk is None:
            return None
        start = time.perf_counter()
        self.enqueue_bulk(n, out)
        return time.perf_counter() - start

    def fill(self, n, out):
        for i in range(n):
            self.enqueue(i, time.time(), out)

    def paced(self, rate, duration, out):
        for i in paced(rate, duration):
            self.enqueue(i, time.time(), out)

    def probe(self, out):
        self.enqueue(-1, time.time(), out)


def run(peer, opts):
    """Runs the chosen workloads against `peer` and prints the results as one JSON line."""
    workloads = opts.workloads.split(",")
    n, results = opts.jobs, []
    sink = os.path.join(opts.dir, "never-run.records")
    logfile = open(os.path.join(opts.dir, "worker.log"), "ab")
    if "w1" in workloads:
        peer.reset()
        log(f"{peer.name} w1 single: {n} jobs, one call each")
        seconds = peer.single(n, sink)
        stored = peer.stored()
        results.append(result("w1-single", n, seconds, max(0, n - stored), max(0, stored - n)))
        peer.reset()
        log(f"{peer.name} w1 bulk")
        seconds = peer.bulk(n, sink)
        if seconds is not None:
            stored = peer.stored()
            results.append(result("w1-bulk", n, seconds, max(0, n - stored), max(0, stored - n)))
        peer.reset()
    if "w2" in workloads:
        out = os.path.join(opts.dir, "w2.records")
        log(f"{peer.name} w2: enqueueing {n} jobs, then draining with concurrency {opts.concurrency}"
            f" in {opts.workers} worker process(es)")
        peer.fill(n, out)
        workers = start_workers(peer, opts.concurrency, opts.workers, logfile)
        try:
            if not wait_for(out, n, max(300, n / 20), workers):
                log(f"{peer.name} w2: gave up waiting ({count_lines(out)} of {n} ran)")
        finally:
            stop_workers(workers)
        results.append(drain_result(out, n))
        peer.reset()
    if "w3" in workloads:
        out = os.path.join(opts.dir, "w3.records")
        total = max(1, round(opts.rate * opts.duration))
        log(f"{peer.name} w3: {opts.rate:.0f} jobs/s for {opts.duration:.0f} s, {opts.workers} worker process(es),"
            f" concurrency {opts.concurrency}")
        workers = start_workers(peer, opts.concurrency, opts.workers, logfile)
        try:
            warm_up(peer.probe, os.path.join(opts.dir, "probe.records"), workers)
            peer.paced(opts.rate, opts.duration, out)
            wait_for(out, total, 60, workers)
        finally:
            stop_workers(workers)
        results.append(latency_result(out, total, "w3-process"))
        peer.reset()
    emit(results)
