#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""An HTTP load of concurrent streaming clients against jalrt-serve, for
make bench: time to first token and inter-token latency as clients see
them, and the aggregate token rate.

    http_load.py --url http://127.0.0.1:8080 [--clients 16] [--requests 4]
                 [--max-tokens 64] [--prompt-words 4] [--model ID] [--wait-s S]

Every client sends --requests streamed /v1/completions one after another
on one keep-alive connection
(greedy; a request ends at --max-tokens or at the model's EOS, and the
tokens that came back are what is counted). Prints
"key value unit" lines:

  http_clients, http_requests, http_errors
  http_tok_per_s        completion tokens of all requests / wall time
  http_ttft_p50_ms, http_ttft_p99_ms   request sent -> first token
  http_itl_p50_ms, http_itl_p99_ms     gaps between a request's tokens

Figures only: nothing passes or fails on speed; a request that fails is
counted in http_errors and its message printed on stderr.
"""
import argparse
import http.client
import json
import sys
import threading
import time
import urllib.parse


def percentile(values, p):
    """The nearest-rank percentile (p in 0..100) of a non-empty list."""
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(round(p / 100.0 * len(v) + 0.5)) - 1))
    return v[k]


def wait_for_health(url, wait_s):
    """A connection to a server whose /health answers 200, polled for up to
    wait_s seconds (a server in the guest loads its model first)."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=10)
            conn.request("GET", "/health")
            health = conn.getresponse()
            health.read()
            if health.status == 200:
                return conn
            err = OSError(f"GET /health answered {health.status}")
        except OSError as e:
            err = e
        if time.monotonic() >= deadline:
            raise err
        time.sleep(0.5)  # poll interval, not a guess at the server's speed


class Load:
    def __init__(self, args):
        self.args = args
        self.url = urllib.parse.urlsplit(args.url)
        self.lock = threading.Lock()
        self.ttft, self.itl = [], []
        self.tokens = self.requests = self.errors = 0

    def connect(self):
        conn = http.client.HTTPConnection(self.url.hostname, self.url.port or 80,
                                          timeout=self.args.timeout)
        conn.connect()
        return conn

    def one_request(self, conn, prompt):
        a = self.args
        body = json.dumps({"model": a.model, "prompt": prompt, "max_tokens": a.max_tokens,
                           "temperature": 0, "stream": True})
        headers = {"Content-Type": "application/json"}
        if a.api_key:
            headers["Authorization"] = "Bearer " + a.api_key
        t0 = time.monotonic()
        conn.request("POST", "/v1/completions", body, headers)
        resp = conn.getresponse()
        if resp.status != 200:
            raise RuntimeError(f"HTTP {resp.status}: {resp.read()[:200]!r}")
        stamps = []
        while True:
            line = resp.readline()
            if not line:
                raise RuntimeError("the stream ended without data: [DONE]")
            line = line.strip()
            if not line.startswith(b"data: "):
                continue
            if line == b"data: [DONE]":
                break
            chunk = json.loads(line[6:])
            if "error" in chunk:
                raise RuntimeError(f"error chunk: {chunk['error']}")
            if chunk["choices"][0].get("text"):
                stamps.append(time.monotonic())
        resp.read()	# the end of the chunked body, so the connection can be reused
        if not stamps:
            raise RuntimeError("no token came back")
        return stamps[0] - t0, [b - a for a, b in zip(stamps, stamps[1:])], len(stamps)

    def client(self, index, conn):
        # Different prompts per request, so nothing could be shared by accident.
        for r in range(self.args.requests):
            prompt = " ".join(f"w{index}x{r}y{i}" for i in range(self.args.prompt_words))
            try:
                ttft, gaps, n = self.one_request(conn, prompt)
            except (OSError, http.client.HTTPException, RuntimeError, ValueError,
                    KeyError) as e:
                print(f"http_load: client {index} request {r}: {e!r}", file=sys.stderr)
                conn.close()	# the next request opens a new connection
                with self.lock:
                    self.errors += 1
                continue
            with self.lock:
                self.ttft.append(ttft)
                self.itl.extend(gaps)
                self.tokens += n
                self.requests += 1
        conn.close()

    def run(self):
        """Wall time of all clients' requests. Each client keeps one
        connection, as pooling clients do; they are opened one after another
        first: through QEMU's user networking (make serve's port forward) a
        burst of 32 new connections at once saw a few reset before the
        server had them (not so in the guest or against the host build)."""
        conns = [self.connect() for _ in range(self.args.clients)]
        threads = [threading.Thread(target=self.client, args=(i, c))
                   for i, c in enumerate(conns)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return time.monotonic() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", default="http://127.0.0.1:8080")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--requests", type=int, default=4, help="per client")
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--prompt-words", type=int, default=4,
                    help="words of the prompt (a byte tokenizer makes ~9 tokens each)")
    ap.add_argument("--model", default="", help="default: the server's first model")
    ap.add_argument("--api-key", default="")
    ap.add_argument("--timeout", type=float, default=600.0, help="socket timeout, s")
    ap.add_argument("--wait-s", type=float, default=0.0,
                    help="how long to wait for the server's /health first, s")
    args = ap.parse_args()
    if args.clients < 1 or args.requests < 1 or args.max_tokens < 1:
        ap.error("--clients, --requests and --max-tokens must be positive")
    load = Load(args)
    try:
        conn = wait_for_health(load.url, args.wait_s)
        if not args.model:
            headers = {"Authorization": "Bearer " + args.api_key} if args.api_key else {}
            conn.request("GET", "/v1/models", headers=headers)
            args.model = json.loads(conn.getresponse().read())["data"][0]["id"]
    except (OSError, ValueError, KeyError, IndexError) as e:
        print(f"http_load: no server at {args.url}: {e}", file=sys.stderr)
        return 1
    wall = load.run()
    print(f"http_clients {args.clients} clients")
    print(f"http_requests {load.requests} requests")
    print(f"http_errors {load.errors} requests")
    if load.requests:
        print(f"http_tok_per_s {load.tokens / wall:.2f} tok/s")
        print(f"http_ttft_p50_ms {percentile(load.ttft, 50) * 1e3:.1f} ms")
        print(f"http_ttft_p99_ms {percentile(load.ttft, 99) * 1e3:.1f} ms")
    if load.itl:
        print(f"http_itl_p50_ms {percentile(load.itl, 50) * 1e3:.1f} ms")
        print(f"http_itl_p99_ms {percentile(load.itl, 99) * 1e3:.1f} ms")
    return 0 if load.requests else 1


if __name__ == "__main__":
    sys.exit(main())
