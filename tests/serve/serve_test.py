#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""jalrt-serve end to end, as TAP with kselftest's "# Totals:" line.

    serve_test.py [--server BIN] [--ref CMD] [--model M --tokenizer T]

Starts jalrt-serve (default runtime/build/jalrt-serve: the chip, in the
guest with the driver loaded; tests/serve's jalrt-serve-sim on the host)
on 127.0.0.1 with a small model and checks, with curl and the official
openai npm client under Node:

- 16 concurrent requests (completions and chat, streamed and not) give,
  token for token, what the same prompt gives alone, which for completions
  is what jalrt-run --ids (--ref) generates, while the engine's steps
  carry several sequences at once (continuous batching, in /metrics);
- with a KV pool of one context, requests preempt each other and still
  give what they give alone;
- stop strings, usage counts, the SSE framing, /v1/models, /metrics;
- bad requests get OpenAI's statuses and error bodies; 401 with --api-key;
- with --parallel 1 and a queue of 1, a third request gets 429; with
  --parallel 2, two run at once, a third waits, a fourth gets 429;
- a client that vanishes mid-stream leaves the server healthy and its
  request cancelled (in /metrics);
- SIGTERM lets the running request finish, then the server exits 0;
- with --kv-type bf16 the pool holds twice the blocks, and requests served
  together equal the same prompts alone.

States are waited for by polling with a bound, never by fixed sleeps; where
a request must still be running or queued when the test acts, the server's
--step-gate makes the engine take a step only when the test hands one out.
"""
import argparse
import fcntl
import glob
import json
import os
import queue
import re
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests"))
from tap import Tap, diag  # noqa: E402
MAX_TOKENS = 24
HOLD_TOKENS = 100
PROMPTS = ["I dreamed", "The nodes", "Once upon a time", "A gentle hum"]


T = Tap()


# ---- HTTP with curl ---------------------------------------------------------

def curl(port, path, body=None, method=None, headers=(), timeout=120):
    """Returns (status, body text); status 0 if curl failed (then body is its error)."""
    cmd = ["curl", "-sS", "-N", "--max-time", str(timeout), "-w", "\n%{http_code}",
           f"http://127.0.0.1:{port}{path}"]
    if method:
        cmd += ["-X", method]
    for h in headers:
        cmd += ["-H", h]
    data = None
    if body is not None:
        data = body if isinstance(body, str) else json.dumps(body)
        cmd += ["-H", "Content-Type: application/json", "--data-binary", "@-"]
    p = subprocess.run(cmd, input=data, capture_output=True, text=True)
    if p.returncode:
        return 0, f"curl exit {p.returncode}: {p.stderr.strip()}"
    text, _, status = p.stdout.rpartition("\n")
    return int(status), text


def parse_sse(text):
    """(list of JSON chunks, saw [DONE] last, error)"""
    chunks, done = [], False
    for event in text.split("\n\n"):
        if not event.strip():
            continue
        if done:
            return chunks, False, "data after [DONE]"
        if not event.startswith("data: "):
            return chunks, False, f"not an SSE data event: {event[:80]!r}"
        data = event[6:]
        if data == "[DONE]":
            done = True
            continue
        try:
            chunks.append(json.loads(data))
        except ValueError as e:
            return chunks, False, f"bad JSON in a chunk: {e}"
    return chunks, done, None if done else "no data: [DONE] at the end"


def collect_stream(chunks, chat):
    """Concatenate a stream: (text, token ids, finish_reason, usage, role seen)."""
    text, ids, finish, usage, role = "", [], None, None, False
    for c in chunks:
        if c.get("usage"):
            usage = c["usage"]
        for ch in c.get("choices", []):
            if chat:
                d = ch.get("delta", {})
                role = role or d.get("role") == "assistant"
                text += d.get("content") or ""
            else:
                text += ch.get("text", "")
            ids += ch.get("token_ids", [])
            if ch.get("finish_reason"):
                finish = ch["finish_reason"]
    return text, ids, finish, usage, role


def request_body(model, kind, prompt, max_tokens=MAX_TOKENS, **extra):
    chat = kind.startswith("chat")
    b = {"model": model, "max_tokens": max_tokens, "temperature": 0,
         "return_token_ids": True}
    if chat:
        b["messages"] = [{"role": "user", "content": prompt}]
    else:
        b["prompt"] = prompt
    if kind.endswith("stream"):
        b["stream"] = True
        b["stream_options"] = {"include_usage": True}
    b.update(extra)
    return b


def generate(port, model, kind, prompt, headers=(), **extra):
    """One request; returns dict(status, text, ids, finish, usage, error)."""
    chat = kind.startswith("chat")
    path = "/v1/chat/completions" if chat else "/v1/completions"
    status, body = curl(port, path, request_body(model, kind, prompt, **extra), headers=headers)
    r = {"status": status, "raw": body, "error": None}
    if status != 200:
        r["error"] = f"HTTP {status}: {body[:300]}"
        return r
    if kind.endswith("stream"):
        chunks, done, err = parse_sse(body)
        if err:
            r["error"] = err
            return r
        r["text"], r["ids"], r["finish"], r["usage"], role = collect_stream(chunks, chat)
        if chat and not role:
            r["error"] = "no assistant role in the stream"
        ids = {c.get("id") for c in chunks}
        objs = {c.get("object") for c in chunks}
        want = "chat.completion.chunk" if chat else "text_completion"
        if len(ids) != 1 or objs != {want}:
            r["error"] = f"chunks' ids {ids} / objects {objs}"
        return r
    try:
        o = json.loads(body)
        ch = o["choices"][0]
        r["text"] = ch["message"]["content"] if chat else ch["text"]
        if chat and ch["message"].get("role") != "assistant":
            r["error"] = "message role is not assistant"
        r["ids"] = ch.get("token_ids", [])
        r["finish"] = ch["finish_reason"]
        r["usage"] = o["usage"]
        want = "chat.completion" if chat else "text_completion"
        if o.get("object") != want or not o.get("id") or "created" not in o or o.get("model") != model:
            r["error"] = f"response head: {body[:200]}"
    except (ValueError, KeyError, IndexError, TypeError) as e:
        r["error"] = f"bad response ({e}): {body[:300]}"
    return r


def metrics(port):
    status, body = curl(port, "/metrics")
    m = {}
    if status != 200:
        return m
    for line in body.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name, _, value = line.rpartition(" ")
        try:
            m[name] = float(value)
        except ValueError:
            pass
    return m


def poll(what, fn, timeout):
    """Calls fn() until it returns a true value or @timeout seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(0.02)	# the poll interval, not a wait for a state


# ---- the server -------------------------------------------------------------

class StepGate:
    """jalrt-serve --step-gate: a FIFO the engine reads one byte from before
    each chip job. The test holds requests running or queued for exactly as
    long as it needs by handing out steps, whatever the machine's speed."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="jal-gate.")
        self.path = os.path.join(self.dir, "gate")
        os.mkfifo(self.path)
        # Read-write, so that opening does not wait for the server (the
        # reader); the server sees end of file once this is closed.
        self.fd = os.open(self.path, os.O_RDWR | os.O_NONBLOCK)

    def pending(self):
        """Steps handed out that the engine has not taken yet."""
        if self.fd is None:
            return 0
        buf = fcntl.ioctl(self.fd, termios.FIONREAD, b"\0\0\0\0")
        return struct.unpack("i", buf)[0]

    def step(self):
        """One more step, unless one is still waiting to be taken."""
        if self.fd is not None and self.pending() == 0:
            os.write(self.fd, b"s")

    def run_free(self):
        """As many steps as the FIFO holds (64 KiB): the engine runs freely."""
        try:
            while self.fd is not None:
                os.write(self.fd, b"s" * 4096)
        except BlockingIOError:
            pass

    def hold(self):
        """Takes back the steps not yet taken: the engine stops before its next job."""
        try:
            while self.fd is not None and os.read(self.fd, 65536):
                pass
        except BlockingIOError:
            pass

    def release(self):
        """No more gate (end of file): for good."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
            os.unlink(self.path)
            os.rmdir(self.dir)

    def poll(self, what, fn, timeout=300):
        """poll(), handing out a step at a time while fn() is false."""
        def stepped():
            v = fn()
            if not v:
                self.step()
            return v
        return poll(what, stepped, timeout)


class Server:
    def __init__(self, binary, model, tokenizer, *args, timeout=300, gate=False):
        """gate: start with a closed StepGate (self.gate) that the test drives."""
        self.lines = []
        self.gate = StepGate() if gate else None
        if self.gate:
            args = (*args, "--step-gate", self.gate.path)
        self.cmd = [binary, model, "-z", tokenizer, "--host", "127.0.0.1", "--port", "0", *args]
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True)
        self.port = None
        listening = threading.Event()

        def read():
            for line in self.proc.stderr:
                self.lines.append(line.rstrip("\n"))
                m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
                if m:
                    self.port = int(m.group(1))
                    listening.set()
            listening.set()
        self.reader = threading.Thread(target=read, daemon=True)
        self.reader.start()
        listening.wait(timeout)
        if self.gate:
            self.gate.run_free()
        self.ready = bool(self.port) and bool(
            poll("health", lambda: curl(self.port, "/health", timeout=10)[0] == 200, timeout))

    def log(self):
        return "\n".join(self.lines[-20:])

    def stop(self, sig=signal.SIGTERM, timeout=120):
        if self.gate:
            self.gate.release()	# a drain needs steps
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None


class StreamClient:
    """A streaming curl whose output is read line by line as it arrives."""

    def __init__(self, port, body, path="/v1/completions", auth=()):
        hdrs = []
        for h in auth:
            hdrs += ["-H", h]
        self.proc = subprocess.Popen(
            ["curl", "-sS", "-N", "--max-time", "300", "-H", "Content-Type: application/json",
             *hdrs, "--data-binary", json.dumps(body), f"http://127.0.0.1:{port}{path}"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.q = queue.Queue()
        self.out = []

        def read():
            for line in self.proc.stdout:
                self.q.put(line)
            self.q.put(None)
        threading.Thread(target=read, daemon=True).start()

    def wait_text(self, timeout=120, gate=None):
        """Waits for the first chunk with text; True if one came. With a
        StepGate, hands out a step at a time meanwhile."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if gate:
                gate.step()
            try:
                line = self.q.get(timeout=min(left, 0.05) if gate else left)
            except queue.Empty:
                continue
            if line is None:
                return False
            self.out.append(line)
            if line.startswith("data: {") and '"text":"' in line and '"text":""' not in line:
                return True

    def finish(self, timeout=300):
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        while True:
            line = self.q.get()
            if line is None:
                break
            self.out.append(line)
        return "".join(self.out)

    def kill(self):
        self.proc.kill()
        self.proc.wait()


# ---- models -----------------------------------------------------------------

def write_byte_tokenizer(path, vocab=512):
    """A tokenizer.bin that spells text byte by byte (for generated models)."""
    def piece(i):
        if i == 0:
            return b"<unk>"
        if i == 1:
            return b"\n<s>\n"
        if i == 2:
            return b"\n</s>\n"
        if i < 259:
            return b"<0x%02X>" % (i - 3)
        if i == 259:
            return b" "
        return b"<u%d>" % i
    pieces = [piece(i) for i in range(vocab)]
    with open(path, "wb") as f:
        f.write(struct.pack("<i", max(len(s) for s in pieces)))
        for i, s in enumerate(pieces):
            f.write(struct.pack("<fi", -1e9 if i > 259 else 0.0, len(s)) + s)


def find_model(args, tmp):
    if args.model:
        return args.model, args.tokenizer
    shared = os.environ.get("JAL_MODELS_DIR") or os.path.join(TOP, "..", "shared", "models")
    m, t = os.path.join(shared, "aidreams260k.bin"), os.path.join(shared, "tok512.bin")
    if os.path.exists(m) and os.path.exists(t):
        return os.path.abspath(m), os.path.abspath(t)
    diag("../shared/models is absent: a generated model with a byte tokenizer")
    m, t = os.path.join(tmp, "model.bin"), os.path.join(tmp, "tok.bin")
    subprocess.run([os.path.join(TOP, "runtime/build/jalrt-gen-model"), "--dim", "64",
                    "--hidden", "172", "--layers", "2", "--heads", "4", "--kv-heads", "4",
                    "--vocab", "512", "--seq", "128", "--seed", "7", "-o", m], check=True)
    write_byte_tokenizer(t)
    return m, t


def node_modules():
    cands = [os.environ.get("JAL_NODE_MODULES", "")]
    cache = os.environ.get("JAL_CACHE")
    if cache:
        cands.append(os.path.join(cache, "npm", "node_modules"))
    try:
        import pwd
        home = pwd.getpwuid(os.getuid()).pw_dir
        cands.append(os.path.join(home, ".cache", "jalapeno", "npm", "node_modules"))
    except (ImportError, KeyError):
        pass
    cands += sorted(glob.glob("/home/*/.cache/jalapeno/npm/node_modules"))
    for c in cands:
        if c and os.path.exists(os.path.join(c, "openai", "package.json")):
            return c
    return None


# ---- the tests --------------------------------------------------------------

def check_same(desc, got, want):
    """got/want: generate() results; text, token ids and finish reason equal."""
    if got.get("error"):
        return T.ok(False, desc, got["error"])
    same = (got["text"] == want["text"] and got["ids"] == want["ids"]
            and got["finish"] == want["finish"])
    return T.ok(same, desc, f"got  {got.get('text')!r} {got.get('ids')} {got.get('finish')}\n"
                f"want {want['text']!r} {want['ids']} {want['finish']}")


def test_main_server(args, model, tok, model_id):
    key = "sk-jalapeno-test"
    auth = [f"Authorization: Bearer {key}"]
    # A step gate: the 16 concurrent requests below all wait until the
    # holder runs, then share its steps (continuous batching by construction).
    srv = Server(args.server, model, tok, "--api-key", key, "--queue", "64", gate=True)
    if not T.ok(srv.ready, "jalrt-serve starts and /health answers 200", srv.log()):
        srv.stop(signal.SIGKILL)
        return
    port = srv.port

    st, body = curl(port, "/v1/models", headers=auth)
    try:
        ids = [m["id"] for m in json.loads(body)["data"]]
    except (ValueError, KeyError, TypeError):
        ids = None
    T.ok(st == 200 and ids == [model_id], "GET /v1/models lists the model", body)

    # Each prompt alone, greedy: the reference for everything below.
    single = {}
    for p in PROMPTS:
        for kind in ("completion", "chat"):
            r = generate(port, model_id, kind, p, headers=auth)
            good = (not r["error"] and len(r["ids"]) >= 1 and r["finish"] in ("stop", "length")
                    and r["usage"]["completion_tokens"] == len(r["ids"])
                    and r["usage"]["total_tokens"] == r["usage"]["prompt_tokens"] + len(r["ids"])
                    and (r["finish"] == "stop" or len(r["ids"]) == MAX_TOKENS))
            T.ok(good, f"{kind} {p!r} alone: 200, usage and finish_reason consistent",
                 r.get("error") or r)
            single[(kind, p)] = r
    # A longer one: the holder below, and the small-pool server's reference.
    r = generate(port, model_id, "completion", PROMPTS[0], headers=auth, max_tokens=HOLD_TOKENS)
    T.ok(not r["error"] and r["finish"] in ("stop", "length"),
         f"a completion of {HOLD_TOKENS} tokens alone", r.get("error") or r)
    single["long"] = r

    # Completions alone equal jalrt-run's greedy ids for the same prompt.
    for p in PROMPTS:
        r = single[("completion", p)]
        if r.get("error"):
            T.ok(False, f"{p!r}: same tokens as {os.path.basename(args.ref[0])}", "no response")
            continue
        n_prompt = r["usage"]["prompt_tokens"]
        cmd = args.ref[:1] + [model] + args.ref[1:] + ["-z", tok, "--ids", "-t", "0", "-n",
                                                       str(n_prompt - 1 + MAX_TOKENS), "-i", p]
        out = subprocess.run(cmd, capture_output=True, text=True)
        ref = [int(x) for x in out.stdout.split()] if out.returncode == 0 else None
        T.ok(ref is not None and ref[n_prompt - 1:] == r["ids"],
             f"{p!r}: the server's tokens equal {os.path.basename(args.ref[0])} --ids",
             f"{' '.join(cmd)}\n{out.stderr.strip()}\nref {ref}\nserver {r['ids']}")

    # 16 at once, with curl: streamed and not, completions and chat; a
    # streamed holder request runs meanwhile, and the engine takes no step
    # until all 16 have arrived, so the steps carry several sequences
    # whatever the clients' timing.
    before = metrics(port)
    srv.gate.hold()
    holder = StreamClient(port, request_body(model_id, "completion-stream", PROMPTS[0],
                                             max_tokens=HOLD_TOKENS), auth=auth)
    T.ok(holder.wait_text(gate=srv.gate), "a holder request streams its first text")
    kinds = ("completion", "completion-stream", "chat", "chat-stream")
    jobs = [(kinds[i % 4], PROMPTS[i // 4]) for i in range(16)]
    results = [None] * len(jobs)

    def run(i):
        kind, p = jobs[i]
        results[i] = generate(port, model_id, kind, p, headers=auth)
    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    arrived = poll("arrivals", lambda: (lambda m: m.get("jalrt_serve_running_sequences", 0)
                                        + m.get("jalrt_serve_queue_length", 0) == 17)(
                                            metrics(port)), 300)
    T.ok(arrived, "the 16 requests arrive while the holder runs (running + queued = 17)",
         metrics(port))
    srv.gate.release()
    for t in threads:
        t.join()
    for i, (kind, p) in enumerate(jobs):
        check_same(f"concurrent curl #{i} ({kind}, {p!r}) equals the prompt alone",
                   results[i], single[(kind.replace("-stream", ""), p)])
    chunks, done, err = parse_sse(holder.finish())
    got = {"error": err}
    if not err:
        got["text"], got["ids"], got["finish"], _, _ = collect_stream(chunks, False)
    check_same("the holder request equals it alone", got, single["long"])
    m = metrics(port)
    steps = m.get("jalrt_serve_steps_total", 0) - before.get("jalrt_serve_steps_total", 0)
    one = (m.get('jalrt_serve_step_sequences_bucket{le="1"}', 0)
           - before.get('jalrt_serve_step_sequences_bucket{le="1"}', 0))
    T.ok(steps > 0 and one < steps and m.get("jalrt_serve_step_max_sequences", 0) > 1,
         f"continuous batching: {steps - one:.0f} of {steps:.0f} steps carried several "
         f"sequences (up to {m.get('jalrt_serve_step_max_sequences', 0):.0f})",
         {k: v for k, v in m.items() if "step" in k})
    for i, (kind, p) in enumerate(jobs):
        if kind.endswith("stream") and not results[i].get("error"):
            u = results[i]["usage"] or {}
            T.ok(u.get("completion_tokens") == len(results[i]["ids"]),
                 f"concurrent curl #{i}: stream usage chunk counts its tokens", u)

    # Stop strings: the text ends before the first occurrence, not included.
    base = single[("completion", PROMPTS[0])]
    if base.get("text") and len(base["text"]) > 12:
        stop = base["text"][8:11]
        want = base["text"][:base["text"].index(stop)]
        for kind in ("completion", "completion-stream"):
            r = generate(port, model_id, kind, PROMPTS[0], headers=auth, stop=[stop, "\u00a7never"])
            T.ok(not r["error"] and r["text"] == want and r["finish"] == "stop",
                 f"{kind} with stop {stop!r} ends before it (finish_reason stop)",
                 r.get("error") or f"got {r.get('text')!r} {r.get('finish')}, want {want!r}")
    else:
        T.ok(False, "stop strings", "the reference text is too short to pick a stop string")

    # The official client, 16 at once.
    test_openai(port, key, model_id, single)

    # Errors.
    test_errors(port, auth, model_id)

    m = metrics(port)
    T.ok(m.get('jalrt_serve_http_requests_total{code="200"}', 0) >= 40
         and m.get('jalrt_serve_requests_total{finish="length"}', 0)
         + m.get('jalrt_serve_requests_total{finish="stop"}', 0) >= 24
         and m.get("jalrt_serve_generation_tokens_total", 0) > 0
         and m.get("jalrt_serve_prompt_tokens_total", 0) > 0
         and m.get('jalrt_serve_time_to_first_token_seconds_bucket{le="+Inf"}', 0) >= 24
         and m.get("jalrt_serve_queue_length") == 0 and m.get("jalrt_serve_running_sequences") == 0
         and m.get("jalrt_serve_max_running_sequences") == 16
         and m.get("jalrt_serve_kv_blocks_used") == 0 and m.get("jalrt_serve_kv_blocks_free", 0) > 0
         and m.get("jalrt_serve_steps_total", 0) > 0
         and m.get('jalrt_serve_step_rows_bucket{le="+Inf"}') == m.get("jalrt_serve_steps_total")
         and m.get("jalrt_serve_throughput_tokens_per_second", 0) > 0
         and "jalrt_serve_tokens_per_second" in m,
         "/metrics counts requests, tokens, TTFT; queue and running are 0 when idle",
         {k: v for k, v in m.items() if "bucket" not in k})
    code = srv.stop()
    T.ok(code == 0, "SIGTERM on an idle server: exit 0", f"exit {code}\n{srv.log()}")
    return single


def test_openai(port, key, model_id, single):
    nm = node_modules()
    if not nm or not os.path.exists("/usr/bin/node") and not shutil_which("node"):
        T.skip("openai npm client: 16 concurrent requests",
               "the openai package is not installed (scripts/install-npm.sh)")
        return
    cases = []
    kinds = ("completion", "completion-stream", "chat", "chat-stream")
    for i in range(16):
        kind, p = kinds[i % 4], PROMPTS[i // 4]
        w = single[(kind.replace("-stream", ""), p)]
        cases.append({"kind": kind, "prompt": p, "max_tokens": MAX_TOKENS,
                      "text": w.get("text"), "finish": w.get("finish")})
    spec = {"baseURL": f"http://127.0.0.1:{port}/v1", "apiKey": key, "model": model_id,
            "cases": cases}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(spec, f)
    env = dict(os.environ, NODE_PATH=nm)
    p = subprocess.run(["node", os.path.join(TOP, "tests/serve/openai_client.cjs"), f.name],
                       capture_output=True, text=True, env=env, timeout=600)
    os.unlink(f.name)
    got = 0
    for line in p.stdout.splitlines():
        try:
            r = json.loads(line)
        except ValueError:
            continue
        got += 1
        T.ok(r["ok"], f"openai client: {r['name']}", r.get("detail"))
    T.ok(p.returncode == 0 and got >= 18, "openai client script ran every case",
         f"exit {p.returncode}, {got} results\n{p.stderr[-1500:]}")


def shutil_which(name):
    import shutil
    return shutil.which(name)


def test_errors(port, auth, model_id):
    def err_ok(status, body, want_status, param=False, code=None):
        try:
            e = json.loads(body)["error"]
            shape = all(k in e for k in ("message", "type", "param", "code")) and e["message"]
        except (ValueError, KeyError, TypeError):
            return False
        return (status == want_status and shape and (param is False or e["param"] == param)
                and (code is None or e["code"] == code))

    cases = [
        ("malformed JSON", "/v1/completions", '{"model": "x", ', None, 400, False, None),
        ("a body that is not an object", "/v1/completions", "[1, 2]", None, 400, False, None),
        ("trailing garbage after the JSON", "/v1/completions",
         json.dumps({"model": model_id, "prompt": "x"}) + " x", None, 400, False, None),
        ("no model", "/v1/completions", {"prompt": "x"}, None, 400, "model", None),
        ("unknown model", "/v1/completions", {"model": "gpt-4o", "prompt": "x"}, None, 404,
         "model", "model_not_found"),
        ("model of the wrong type", "/v1/completions", {"model": 7, "prompt": "x"}, None, 400,
         "model", None),
        ("no prompt", "/v1/completions", {"model": model_id}, None, 400, "prompt", None),
        ("max_tokens a string", "/v1/completions",
         {"model": model_id, "prompt": "x", "max_tokens": "ten"}, None, 400, "max_tokens", None),
        ("max_tokens 0", "/v1/completions",
         {"model": model_id, "prompt": "x", "max_tokens": 0}, None, 400, "max_tokens", None),
        ("temperature 3", "/v1/completions",
         {"model": model_id, "prompt": "x", "temperature": 3}, None, 400, "temperature", None),
        ("stream not a boolean", "/v1/completions",
         {"model": model_id, "prompt": "x", "stream": "yes"}, None, 400, "stream", None),
        ("stop of the wrong type", "/v1/completions",
         {"model": model_id, "prompt": "x", "stop": 5}, None, 400, "stop", None),
        ("five stop strings", "/v1/completions",
         {"model": model_id, "prompt": "x", "stop": list("abcde")}, None, 400, "stop", None),
        ("n = 2", "/v1/completions", {"model": model_id, "prompt": "x", "n": 2}, None, 400,
         "n", None),
        ("token id out of range", "/v1/completions",
         {"model": model_id, "prompt": [1, 99999]}, None, 400, "prompt", None),
        ("prompt longer than the context", "/v1/completions",
         {"model": model_id, "prompt": "dream " * 400}, None, 400, "prompt",
         "context_length_exceeded"),
        ("max_tokens beyond the context", "/v1/completions",
         {"model": model_id, "prompt": "x", "max_tokens": 100000}, None, 400, "max_tokens",
         "context_length_exceeded"),
        ("messages missing", "/v1/chat/completions", {"model": model_id}, None, 400,
         "messages", None),
        ("messages not an array", "/v1/chat/completions",
         {"model": model_id, "messages": "hi"}, None, 400, "messages", None),
        ("a message with an unknown role", "/v1/chat/completions",
         {"model": model_id, "messages": [{"role": "wizard", "content": "hi"}]}, None, 400,
         "messages", None),
        ("unknown path", "/v1/engines", None, None, 404, False, None),
        ("unknown path outside /v1", "/nope", None, None, 404, False, None),
        ("GET on /v1/completions", "/v1/completions", None, "GET", 405, False, None),
        ("DELETE on /v1/models", "/v1/models", None, "DELETE", 405, False, None),
        ("POST on /health", "/health", "{}", None, 405, False, None),
        ("unknown model by path", "/v1/models/gpt-4o", None, None, 404, "model", "model_not_found"),
    ]
    for name, path, body, method, want, param, code in cases:
        st, text = curl(port, path, body, method=method, headers=auth)
        T.ok(err_ok(st, text, want, param, code), f"{name}: HTTP {want} with an OpenAI error body",
             f"HTTP {st}: {text[:300]}")
    st, text = curl(port, "/v1/completions", {"model": model_id, "prompt": "x"})
    T.ok(err_ok(st, text, 401, code="invalid_api_key"), "no API key: 401", f"HTTP {st}: {text}")
    st, text = curl(port, "/v1/models", headers=["Authorization: Bearer wrong"])
    T.ok(err_ok(st, text, 401, code="invalid_api_key"), "a wrong API key: 401", f"HTTP {st}: {text}")
    st, text = curl(port, "/health")
    T.ok(st == 200, "/health needs no API key", f"HTTP {st}")
    st, text = curl(port, "/v1/completions", {"model": model_id, "prompt": "x", "max_tokens": 2},
                    headers=auth)
    T.ok(st == 200, "after all those errors the server still generates", f"HTTP {st}: {text[:200]}")


def test_small_pool_server(args, model, tok, model_id, single):
    """A KV pool of one context (blocks of 4): requests preempt each other;
    decode loops of up to 8 steps a job when nobody waits."""
    srv = Server(args.server, model, tok, "--parallel", "8", "--kv-blocks", "1",
                 "--block-size", "4", "--decode-steps", "8", gate=True)
    if not T.ok(srv.ready, "a jalrt-serve with a KV pool of one context starts", srv.log()):
        srv.stop(signal.SIGKILL)
        return
    port = srv.port
    m = metrics(port)
    try:
        ctx = json.loads(curl(port, "/v1/models")[1])["data"][0]["max_model_len"]
    except (ValueError, KeyError, IndexError, TypeError):
        ctx = None
    T.ok(ctx and m.get("jalrt_serve_kv_blocks_free") == (ctx + 3) // 4
         and m.get("jalrt_serve_kv_block_size") == 4,
         "/metrics: a pool of one context in blocks of 4",
         f"ctx {ctx}, {m.get('jalrt_serve_kv_blocks_free')} blocks free")
    # Two long requests outgrow the pool together; eight short ones beside them.
    srv.gate.hold()
    holders = [StreamClient(port, request_body(model_id, "completion-stream", PROMPTS[0],
                                               max_tokens=HOLD_TOKENS))]
    T.ok(holders[0].wait_text(gate=srv.gate), "the first long request streams")
    holders.append(StreamClient(port, request_body(model_id, "completion-stream", PROMPTS[0],
                                                   max_tokens=HOLD_TOKENS)))
    jobs = [(("completion", "chat-stream")[i % 2], PROMPTS[i // 2]) for i in range(8)]
    results = [None] * len(jobs)

    def run(i):
        kind, p = jobs[i]
        results[i] = generate(port, model_id, kind, p)
    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    arrived = poll("arrivals", lambda: (lambda m: m.get("jalrt_serve_running_sequences", 0)
                                        + m.get("jalrt_serve_queue_length", 0) == 10)(
                                            metrics(port)), 300)
    T.ok(arrived, "small pool: all 10 requests arrive before the engine goes on", metrics(port))
    srv.gate.release()
    for t in threads:
        t.join()
    for i, (kind, p) in enumerate(jobs):
        check_same(f"small pool #{i} ({kind}, {p!r}) equals the prompt alone",
                   results[i], single[(kind.replace("-stream", ""), p)])
    for i, h in enumerate(holders):
        chunks, done, err = parse_sse(h.finish())
        got = {"error": err}
        if not err:
            got["text"], got["ids"], got["finish"], _, _ = collect_stream(chunks, False)
        check_same(f"small pool: long request {i} equals it alone", got, single["long"])
    m = metrics(port)
    T.ok(0 < m.get("jalrt_serve_jobs_total", 0) < m.get("jalrt_serve_steps_total", 0),
         f"decode loops: {m.get('jalrt_serve_jobs_total', 0):.0f} jobs for "
         f"{m.get('jalrt_serve_steps_total', 0):.0f} steps")
    # Ten requests arrived together in a pool of one context: they must
    # have preempted each other, and given everything back.
    T.ok(m.get('jalrt_serve_requests_total{finish="error"}') == 0
         and m.get("jalrt_serve_kv_blocks_used") == 0
         and m.get("jalrt_serve_preempted_sequences") == 0
         and m.get("jalrt_serve_preemptions_total", 0) > 0,
         f"/metrics: no error, every block back "
         f"({m.get('jalrt_serve_preemptions_total', 0):.0f} preemptions)",
         {k: v for k, v in m.items() if "kv" in k or "preempt" in k})
    code = srv.stop()
    T.ok(code == 0, "the small-pool server exits 0", f"exit {code}\n{srv.log()}")


def kv_blocks_of(args, model, tok, kv_type):
    """(blocks in the pool, the server's /metrics) for --kv-mib 64 --kv-type kv_type."""
    srv = Server(args.server, model, tok, "--kv-mib", "64", "--kv-type", kv_type)
    m = metrics(srv.port) if srv.ready else {}
    code = srv.stop()
    return (m.get("jalrt_serve_kv_blocks_free") if code == 0 else None), m


def test_bf16_kv_server(args, model, tok, model_id):
    """--kv-type bf16: twice the blocks in the same memory, and requests
    served together still give what they give alone."""
    f32_blocks, _ = kv_blocks_of(args, model, tok, "f32")
    bf16_blocks, m = kv_blocks_of(args, model, tok, "bf16")
    T.ok(f32_blocks and bf16_blocks == 2 * f32_blocks
         and m.get('jalrt_serve_kv_cache_info{dtype="bf16"}') == 1,
         "--kv-type bf16: twice the KV blocks of f32 in --kv-mib 64, /metrics names bf16",
         f"f32 {f32_blocks} blocks, bf16 {bf16_blocks}")
    srv = Server(args.server, model, tok, "--kv-type", "bf16", gate=True)
    if not T.ok(srv.ready, "a jalrt-serve with a bf16 KV cache starts", srv.log()):
        srv.stop(signal.SIGKILL)
        return
    port = srv.port
    alone = {p: generate(port, model_id, "completion", p) for p in PROMPTS}
    T.ok(all(r["status"] == 200 and r["ids"] for r in alone.values()),
         "bf16 KV: each prompt alone completes", {p: r.get("error") for p, r in alone.items()})
    srv.gate.hold()
    results = {}

    def run(i, p):
        results[i] = generate(port, model_id, "completion", p)
    threads = [threading.Thread(target=run, args=(i, p)) for i, p in enumerate(PROMPTS * 2)]
    for t in threads:
        t.start()
    arrived = poll("arrivals", lambda: (lambda m: m.get("jalrt_serve_running_sequences", 0)
                                        + m.get("jalrt_serve_queue_length", 0)
                                        == len(threads))(metrics(port)), 300)
    T.ok(arrived, f"bf16 KV: {len(threads)} requests arrive before the engine goes on")
    srv.gate.release()
    for t in threads:
        t.join()
    for i, p in enumerate(PROMPTS * 2):
        check_same(f"bf16 KV: concurrent #{i} ({p!r}) equals the prompt alone", results[i],
                   alone[p])
    code = srv.stop()
    T.ok(code == 0, "the bf16-KV server exits 0", f"exit {code}\n{srv.log()}")


def test_batch_limits(args, model, tok, model_id):
    """--parallel 2, --queue 1, a step gate: 2 run, 1 waits, the next gets 429."""
    srv = Server(args.server, model, tok, "--parallel", "2", "--queue", "1", gate=True)
    if not T.ok(srv.ready, "a jalrt-serve with --parallel 2 --queue 1 starts", srv.log()):
        srv.stop(signal.SIGKILL)
        return
    port = srv.port
    srv.gate.hold()
    a = StreamClient(port, request_body(model_id, "completion-stream", PROMPTS[0], max_tokens=100))
    T.ok(a.wait_text(gate=srv.gate), "request A streams")
    b = StreamClient(port, request_body(model_id, "completion-stream", PROMPTS[1], max_tokens=100))
    T.ok(b.wait_text(gate=srv.gate), "request B streams beside A")
    m = metrics(port)
    T.ok(m.get("jalrt_serve_running_sequences") == 2 and m.get("jalrt_serve_kv_blocks_used", 0) >= 2,
         "/metrics: 2 running sequences holding KV blocks", m)
    c = StreamClient(port, request_body(model_id, "completion-stream", PROMPTS[2], max_tokens=4))
    queued = poll("queue", lambda: metrics(port).get("jalrt_serve_queue_length") == 1, 60)
    T.ok(queued, "request C waits in the queue (/metrics: queue_length 1)")
    st, text = curl(port, "/v1/completions", request_body(model_id, "completion", PROMPTS[3]))
    T.ok(st == 429, "request D over the queue limit: 429", f"HTTP {st}: {text[:200]}")
    a.kill()
    b.kill()
    srv.gate.release()
    out = c.finish()
    chunks, done, err = parse_sse(out)
    _, ids, finish, _, _ = collect_stream(chunks, False)
    T.ok(done and finish == "length" and len(ids) == 4,
         "A and B's clients gone: C runs and completes", err or out[-300:])
    m = poll("idle", lambda: (lambda m: m if m.get("jalrt_serve_running_sequences") == 0
                              and m.get('jalrt_serve_requests_total{finish="cancelled"}') == 2
                              else None)(metrics(port)), 60)
    T.ok(bool(m) and m.get("jalrt_serve_kv_blocks_used") == 0,
         "/metrics: A and B cancelled, nothing running, every block back", m or metrics(port))
    code = srv.stop()
    T.ok(code == 0, "the --parallel 2 server exits 0", f"exit {code}\n{srv.log()}")


def test_slow_server(args, model, tok, model_id):
    """A server whose engine runs one sequence, with a queue of 1 and a step gate."""
    srv = Server(args.server, model, tok, "--parallel", "1", "--queue", "1", gate=True)
    if not T.ok(srv.ready, "a second jalrt-serve (parallel 1, queue 1, a step gate) starts",
                srv.log()):
        srv.stop(signal.SIGKILL)
        return
    port = srv.port
    before = metrics(port)

    # A runs (100 tokens, and steps only as the test hands them out), B
    # waits, C is refused; then A's client vanishes, which must cancel A and
    # let B run.
    srv.gate.hold()
    a = StreamClient(port, request_body(model_id, "completion-stream", PROMPTS[0], max_tokens=100))
    T.ok(a.wait_text(gate=srv.gate), "request A streams its first text")
    b_result = {}
    b = threading.Thread(target=lambda: b_result.update(
        generate(port, model_id, "completion", PROMPTS[1], max_tokens=4)))
    b.start()
    queued = poll("queue", lambda: metrics(port).get("jalrt_serve_queue_length") == 1, 60)
    m = metrics(port)
    T.ok(queued and m.get("jalrt_serve_running_sequences") == 1,
         "request B waits in the queue behind A (/metrics: queue_length 1, running 1)", m)
    st, text = curl(port, "/v1/completions", request_body(model_id, "completion", PROMPTS[2]))
    try:
        e = json.loads(text)["error"]
        shaped = e["code"] == "rate_limit_exceeded" and e["message"]
    except (ValueError, KeyError, TypeError):
        shaped = False
    T.ok(st == 429 and shaped, "request C over the queue limit: 429 rate_limit_exceeded",
         f"HTTP {st}: {text[:300]}")
    T.ok(metrics(port).get("jalrt_serve_requests_rejected_total") == 1,
         "/metrics counts one rejected request")

    a.kill()	# the client vanishes mid-stream
    key = 'jalrt_serve_requests_total{finish="cancelled"}'
    cancelled = srv.gate.poll("cancel",
                              lambda: metrics(port).get(key) == before.get(key, 0) + 1, 60)
    T.ok(cancelled, "the vanished client's request A is cancelled (/metrics)", metrics(port))
    srv.gate.poll("B", lambda: not b.is_alive())
    b.join()
    T.ok(b_result.get("status") == 200 and not b_result.get("error")
         and b_result.get("finish") == "length" and len(b_result.get("ids", [])) == 4,
         "request B then runs and completes", b_result.get("error") or b_result)
    after = metrics(port)
    gen = after.get("jalrt_serve_generation_tokens_total", 0) - before.get(
        "jalrt_serve_generation_tokens_total", 0)
    T.ok(4 < gen < 104, "A's generation stopped early (A's and B's tokens < 100 + 4)",
         f"{gen} tokens")
    T.ok(after.get("jalrt_serve_client_disconnects_total", 0) >= 1
         and after.get("jalrt_serve_running_sequences") == 0
         and after.get("jalrt_serve_queue_length") == 0,
         "/metrics: a disconnect counted, nothing left running or queued", after)
    st, _ = curl(port, "/health")
    srv.gate.run_free()
    r = generate(port, model_id, "completion", PROMPTS[0], max_tokens=3)
    T.ok(st == 200 and r["status"] == 200 and not r["error"],
         "the server is healthy and generates after the disconnect", r.get("error"))

    # SIGTERM drains: the running request finishes, then exit 0.
    srv.gate.hold()
    e = StreamClient(port, request_body(model_id, "completion-stream", PROMPTS[0], max_tokens=30))
    T.ok(e.wait_text(gate=srv.gate), "request E streams its first text")
    srv.proc.send_signal(signal.SIGTERM)
    srv.gate.release()	# E's remaining steps
    out = e.finish()
    chunks, done, err = parse_sse(out)
    _, ids, finish, _, _ = collect_stream(chunks, False)
    T.ok(done and finish in ("length", "stop") and (finish == "stop" or len(ids) == 30),
         "SIGTERM: the running request E still completes", err or f"{finish} {len(ids)} tokens")
    code = srv.stop()
    T.ok(code == 0, "SIGTERM: the server exits 0 after draining", f"exit {code}\n{srv.log()}")
    st, text = curl(port, "/health", timeout=5)
    T.ok(st == 0, "after exit the port refuses connections", text)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", default=os.path.join(TOP, "runtime/build/jalrt-serve"))
    ap.add_argument("--ref", default=os.path.join(TOP, "runtime/build/jalrt-run"),
                    help="reference generator with jalrt-run's flags (quoted words)")
    ap.add_argument("--model")
    ap.add_argument("--tokenizer")
    ap.add_argument("--write-byte-tokenizer", metavar="PATH",
                    help="write the byte tokenizer for generated models and exit")
    ap.add_argument("--vocab", type=int, default=512,
                    help="tokens of --write-byte-tokenizer's tokenizer (at least 260)")
    args = ap.parse_args()
    if args.write_byte_tokenizer:
        if args.vocab < 260:
            ap.error("--vocab: a byte tokenizer needs at least 260 tokens")
        write_byte_tokenizer(args.write_byte_tokenizer, args.vocab)
        return 0
    args.ref = args.ref.split()
    print("TAP version 13")
    if not os.access(args.server, os.X_OK):
        T.ok(False, f"{args.server} is built")
        return T.finish()
    with tempfile.TemporaryDirectory() as tmp:
        model, tok = find_model(args, tmp)
        model_id = os.path.basename(model)
        if model_id.endswith(".bin"):
            model_id = model_id[:-4]
        diag(f"server {args.server}, model {model}, tokenizer {tok}")
        single = test_main_server(args, model, tok, model_id)
        if single:
            test_small_pool_server(args, model, tok, model_id, single)
        test_bf16_kv_server(args, model, tok, model_id)
        test_batch_limits(args, model, tok, model_id)
        test_slow_server(args, model, tok, model_id)
    return T.finish()


if __name__ == "__main__":
    sys.exit(main())
