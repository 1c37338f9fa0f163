#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""jalctl in the guest, as TAP with kselftest's "# Totals:" line.

    tests/jalctl/jalctl_test.py [--jalctl PATH]

Run as root from the repository root with jalapeno.ko loaded (scripts/vm.sh
does both). Every figure jalctl prints is checked against its source read
here independently: sysfs, hwmon, debugfs, the DRM fdinfo of a running
jalrt-bench, and DRM_IOCTL_JALAPENO_QUERY issued from Python. It also
resets the card both ways and checks it still runs jobs, checks the error
exits (bad arguments, no such card, no permission, no card at all: the
driver is unbound and bound again), and runs the real udevd with
packaging/udev/70-jalapeno.rules to check the node's group and mode.
Nothing waits for a guessed time: every wait is for a state.
"""
import argparse
import ctypes
import fcntl
import glob
import grp
import json
import os
import pty
import signal
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tap import Tap  # noqa: E402

BENCH = "runtime/build/jalrt-bench"
RULE = "packaging/udev/70-jalapeno.rules"
DEBUGFS = "/sys/kernel/debug"
# DRM_IOWR(DRM_COMMAND_BASE + DRM_JALAPENO_QUERY, struct drm_jalapeno_query)
QUERY_IOCTL = (3 << 30) | (16 << 16) | (ord("d") << 8) | 0x40
# DRM_IOWR(DRM_COMMAND_BASE + DRM_JALAPENO_BO_CREATE, struct drm_jalapeno_bo_create)
BO_CREATE_IOCTL = (3 << 30) | (24 << 16) | (ord("d") << 8) | 0x41
BO_VRAM = 0x2
# struct drm_jalapeno_device_info, 64 bytes
INFO_FMT = "<HHHHIIIIQQIIIIQ"


tap = Tap()
JALCTL = "runtime/build/jalctl"


def run(args, user=None, env=None):
    """jalctl ARGS -> (rc, stdout, stderr); user=(uid, [gids]) drops root."""
    cmd = [JALCTL] + args
    if user is not None:
        uid, gids = user
        groups = ["--groups=" + ",".join(map(str, gids))] if gids else ["--clear-groups"]
        cmd = ["setpriv", f"--reuid={uid}", f"--regid={uid}"] + groups + ["--"] + cmd
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    return p.returncode, p.stdout, p.stderr


def valid_json(text, lines=False):
    """python3 -m json.tool accepts TEXT (each line with lines=True)."""
    args = [sys.executable, "-m", "json.tool"] + (["--json-lines"] if lines else [])
    p = subprocess.run(args, input=text, capture_output=True, text=True)
    return p.returncode == 0, p.stderr


def read(path):
    with open(path) as f:
        return f.read().strip()


def cards_in_sysfs():
    """accel nodes of jalapeno, in minor order: [(name, pci sysfs dir)]."""
    found = []
    for d in glob.glob("/sys/class/accel/accel*"):
        drv = os.path.join(d, "device", "driver")
        if os.path.islink(drv) and os.path.basename(os.readlink(drv)) == "jalapeno":
            found.append((int(os.path.basename(d)[5:]), os.path.basename(d),
                          os.path.realpath(os.path.join(d, "device"))))
    return [(name, dev) for _, name, dev in sorted(found)]


def query(node):
    """DRM_IOCTL_JALAPENO_QUERY(DEVICE_INFO), without libjalrt."""
    buf = ctypes.create_string_buffer(struct.calcsize(INFO_FMT))
    arg = bytearray(struct.pack("<IIQ", 0, len(buf), ctypes.addressof(buf)))
    fd = os.open(node, os.O_RDWR)
    try:
        fcntl.ioctl(fd, QUERY_IOCTL, arg, True)
    finally:
        os.close(fd)
    f = struct.unpack(INFO_FMT, buf.raw)
    return dict(vendor=f[0], device=f[1], revision=f[2], hw_version=f[4], caps=f[5],
                queues=f[6], contexts=f[7], va_start=f[8], va_end=f[9], page_size=f[12],
                vram=f[14])


def hwmon_dir(dev):
    d = glob.glob(os.path.join(dev, "hwmon", "hwmon*"))
    return d[0] if d else None


def device_resets(pci):
    for line in read(f"{DEBUGFS}/accel/{pci}/inject").splitlines():
        if line.startswith("device resets:"):
            return int(line.split(":")[1])
    return None


def fdinfo(pid):
    """Summed jalapeno fdinfo keys of PID's open accel files (one per client id)."""
    seen, total = set(), {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if not os.readlink(f"/proc/{pid}/fd/{fd}").startswith("/dev/accel/"):
                continue
            kv = dict(line.split(":", 1) for line in
                      read(f"/proc/{pid}/fdinfo/{fd}").splitlines() if ":" in line)
        except OSError:
            continue
        kv = {k: v.strip() for k, v in kv.items()}
        if kv.get("drm-driver") != "jalapeno" or kv["drm-client-id"] in seen:
            continue
        seen.add(kv["drm-client-id"])
        eng = sum(int(kv.get(f"drm-engine-{e}", "0").split()[0])
                  for e in ("low", "normal", "high", "realtime"))
        total["engine"] = total.get("engine", 0) + eng
        host = kv.get("drm-total-host", "0").split()
        scale = {"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}.get(host[1] if len(host) > 1 else "", 1)
        total["host"] = total.get("host", 0) + int(host[0]) * scale
    return total


def bench_running(p):
    return p.poll() is None


def start_bench():
    """A jalrt-bench that submits null jobs until killed, once it has an engine time."""
    p = subprocess.Popen([BENCH, "null", "-n", "100000000"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    while bench_running(p):
        try:
            if fdinfo(p.pid).get("engine", 0) > 0:
                return p
        except OSError:
            pass
        time.sleep(0.01)
    return p


def stop_bench(p):
    if p.poll() is None:
        p.send_signal(signal.SIGKILL)
    p.wait()


# ------------------------------------------------------------------------

def test_list(cards):
    rc, out, errs = run(["list"])
    lines = out.splitlines()
    good = rc == 0 and len(lines) == len(cards)
    for i, (name, dev) in enumerate(cards):
        good = good and i < len(lines) and lines[i].split()[:3] == [
            str(i), f"/dev/accel/{name}", os.path.basename(dev)]
        good = good and "4a4c:0001 rev 1" in lines[i] and "chip 1.1" in lines[i]
    tap.ok(good, "list: a line per card with node, PCI address, IDs and chip version",
           out + errs)

    rc, out, errs = run(["--json", "list"])
    ok, why = valid_json(out)
    tap.ok(rc == 0 and ok, "list --json: exit 0, valid JSON (json.tool)", out + errs + why)
    data = json.loads(out) if ok else {"cards": []}
    js = data["cards"]
    good, diag = len(js) == len(cards), []
    for i, (name, dev) in enumerate(cards):
        if i >= len(js):
            break
        c = js[i]
        want = dict(index=i, node=f"/dev/accel/{name}", pci_address=os.path.basename(dev),
                    vendor_id=read(dev + "/vendor")[2:], device_id=read(dev + "/device")[2:],
                    revision=int(read(dev + "/revision"), 16),
                    subsystem_vendor_id=read(dev + "/subsystem_vendor")[2:],
                    subsystem_device_id=read(dev + "/subsystem_device")[2:])
        for k, v in want.items():
            if c.get(k) != v:
                good = False
                diag.append(f"card {i} {k}: jalctl {c.get(k)!r}, sysfs {v!r}")
    tap.ok(good, "list --json: PCI identity matches sysfs", "\n".join(diag))

    good, diag = len(js) == len(cards), []
    for i, (name, dev) in enumerate(cards):
        if i >= len(js):
            break
        c, q = js[i], query(f"/dev/accel/{name}")
        want = dict(chip_version=f"{q['hw_version'] >> 16}.{q['hw_version'] & 0xffff}",
                    caps=q["caps"], queues=q["queues"], contexts=q["contexts"],
                    va_start=q["va_start"], va_end=q["va_end"], page_size=q["page_size"],
                    vram_total_bytes=q["vram"], driver="jalapeno")
        for k, v in want.items():
            if c.get(k) != v:
                good = False
                diag.append(f"card {i} {k}: jalctl {c.get(k)!r}, ioctl {v!r}")
        if len(c.get("capabilities", [])) != bin(q["caps"]).count("1"):
            good = False
            diag.append(f"capabilities {c.get('capabilities')} for caps {q['caps']:#x}")
    tap.ok(good, "list --json: chip version, caps, queues, contexts, VA, VRAM match the query ioctl",
           "\n".join(diag))


def test_info(cards):
    name, dev = cards[0]
    pci = os.path.basename(dev)
    hw = hwmon_dir(dev)
    busy0 = int(read(dev + "/busy_ns"))
    rc, out, errs = run(["--json", "info", "0"])
    busy1 = int(read(dev + "/busy_ns"))
    ok, why = valid_json(out)
    tap.ok(rc == 0 and ok, "info --json: exit 0, valid JSON (json.tool)", out + errs + why)
    c = json.loads(out)["cards"][0] if ok else {}
    q = query(f"/dev/accel/{name}")
    diag = []
    if c.get("clock_mhz") != int(read(dev + "/clock_mhz")):
        diag.append(f"clock_mhz {c.get('clock_mhz')} != sysfs {read(dev + '/clock_mhz')}")
    if not (isinstance(c.get("busy_ns"), int) and busy0 <= c["busy_ns"] <= busy1):
        diag.append(f"busy_ns {c.get('busy_ns')} not within sysfs reads [{busy0}, {busy1}]")
    if not (isinstance(c.get("utilization"), (int, float)) and 0 <= c["utilization"] <= 1.01):
        diag.append(f"utilization {c.get('utilization')}")
    if hw and not (isinstance(c.get("temperature_c"), (int, float)) and c["temperature_c"] > 0 and
                   isinstance(c.get("power_w"), (int, float)) and c["power_w"] > 0):
        diag.append(f"hwmon {hw} present but temperature {c.get('temperature_c')}, "
                    f"power {c.get('power_w')}")
    if c.get("vram_total_bytes") != q["vram"] or \
            c.get("vram_used_bytes", -1) + c.get("vram_free_bytes", -1) != q["vram"]:
        diag.append(f"vram total/used/free {c.get('vram_total_bytes')}/"
                    f"{c.get('vram_used_bytes')}/{c.get('vram_free_bytes')}, ioctl {q['vram']}")
    tap.ok(rc == 0 and not diag,
           "info --json: telemetry matches sysfs and hwmon, memory adds up to the ioctl's",
           "\n".join(diag) + out)

    # The same sample read both ways: a temperature jalctl printed must be
    # one hwmon gives when nothing runs (the chip's idle figure is stable).
    if hw:
        t = int(read(hw + "/temp1_input")) / 1000
        rc, out, _ = run(["--json", "info", "0"])
        c2 = json.loads(out)["cards"][0] if rc == 0 else {}
        t2 = int(read(hw + "/temp1_input")) / 1000
        tap.ok(c2.get("temperature_c") is not None and
               min(t, t2) - 0.5 <= c2["temperature_c"] <= max(t, t2) + 0.5,
               "info --json: temperature is hwmon's temp1_input in degrees",
               f"hwmon {t} / {t2}, jalctl {c2.get('temperature_c')}")
    else:
        tap.skip("info --json: temperature is hwmon's temp1_input", "no hwmon (no telemetry)")

    if os.path.isdir(f"{DEBUGFS}/accel/{pci}"):
        lines = read(f"{DEBUGFS}/accel/{pci}/contexts").splitlines()
        tap.ok(c.get("device_resets") == device_resets(pci) and
               c.get("contexts_in_use") is not None and c["contexts_in_use"] >= 1,
               "info --json: device resets and contexts in use from debugfs",
               f"jalctl {c.get('device_resets')} resets, {c.get('contexts_in_use')} contexts; "
               f"debugfs {device_resets(pci)} resets, {len(lines) - 1} contexts")
    else:
        tap.skip("info --json: debugfs figures", "debugfs not mounted")

    good, diag = True, []
    for arg in ("0", name, f"/dev/accel/{name}", pci, pci[5:] if pci.startswith("0000:") else pci):
        rc, out, errs = run(["info", "-d", "0", arg])
        first = out.splitlines()[0] if out else ""
        if rc != 0 or first != f"card 0: /dev/accel/{name} (PCI {pci})" or \
                "chip version:    1.1" not in out or "device memory:" not in out or \
                "utilization:" not in out:
            good = False
            diag.append(f"{arg}: rc {rc}: {out}{errs}")
    tap.ok(good, "info DEV: by index, accelN, node path and PCI address", "\n".join(diag))


def test_memory(cards):
    """Device and host memory that this process holds show up in info and top."""
    name = cards[0][0]
    rc, out, _ = run(["--json", "info", "-d", "0", "0"])
    base = json.loads(out)["cards"][0] if rc == 0 else {}
    fd = os.open(f"/dev/accel/{name}", os.O_RDWR)
    try:
        for size, flags in ((8 << 20, BO_VRAM), (3 << 20, BO_VRAM), (1 << 20, 0)):
            fcntl.ioctl(fd, BO_CREATE_IOCTL, bytearray(struct.pack("<QIIQ", size, flags, 0, 0)))
        mine = fdinfo(os.getpid())
        rc, out, errs = run(["--json", "info", "-d", "0", "0"])
        c = json.loads(out)["cards"][0] if rc == 0 else {}
        tap.ok(c.get("vram_used_bytes", 0) - base.get("vram_used_bytes", 0) == 11 << 20 and
               c.get("vram_free_bytes") == c.get("vram_total_bytes", 0) - c.get("vram_used_bytes", 0) and
               c.get("host_used_bytes", 0) - base.get("host_used_bytes", 0) == mine.get("host") and
               c.get("clients", 0) == base.get("clients", 0) + 1,
               "info --json: device memory used and free, host memory and clients follow a "
               "process's BOs", f"before {base}\nafter {c}\nfdinfo {mine}{errs}")
        rc, out, errs = run(["--json", "top", "-n", "1", "-d", "0"])
        rows = [r for r in json.loads(out)["processes"] if r["pid"] == os.getpid()] if rc == 0 else []
        tap.ok(len(rows) == 1 and rows[0]["vram_bytes"] == 11 << 20 and
               rows[0]["host_bytes"] == mine.get("host") and rows[0]["engine_ns_total"] == 0,
               "top --json: the process's device and host memory, no engine time",
               out + errs)
    finally:
        os.close(fd)


def test_errors(cards):
    n = len(cards)
    cases = [
        (["info", str(n + 7)], 3, f"no card with index {n + 7}"),
        (["--json", "reset", str(n + 7)], 3, f"no card with index {n + 7}"),
        (["info", "accel99"], 3, "no Jalapeño card 'accel99'"),
        (["frobnicate"], 2, "unknown command 'frobnicate'"),
        (["reset"], 2, "reset needs a device"),
        (["list", "0"], 2, "takes no device argument"),
        (["top", "-n", "0"], 2, "bad count '0'"),
        (["top", "-d", "soon"], 2, "bad interval 'soon'"),
        (["reset", "--method", "kick", "0"], 2, "unknown reset method 'kick'"),
        (["info", "0", "1"], 2, "unexpected argument '1'"),
        ([], 2, "usage: jalctl"),
    ]
    for args, want_rc, want_msg in cases:
        rc, out, errs = run(args)
        tap.ok(rc == want_rc and want_msg in errs,
               f"error: jalctl {' '.join(args)} -> exit {want_rc}, '{want_msg}'",
               f"rc {rc}\nstdout: {out}\nstderr: {errs}")
    rc, out, _ = run(["--help"])
    tap.ok(rc == 0 and "usage: jalctl" in out, "--help: usage on stdout, exit 0")


def test_top(cards):
    name, dev = cards[0]
    p = start_bench()
    if not tap.ok(bench_running(p), "top: jalrt-bench null runs jobs (its fdinfo has engine time)",
                  p.stderr.read() if p.poll() is not None else ""):
        stop_bench(p)
        return
    try:
        # jalctl's figures for the bench must lie between two direct reads
        # of its fdinfo around the run, and grow while its jobs run.
        frames = []
        grew = False
        while bench_running(p) and not grew:
            before = fdinfo(p.pid)
            rc, out, errs = run(["--json", "top", "-n", "2", "-d", "0.2"])
            after = fdinfo(p.pid)
            ok, why = valid_json(out, lines=True)
            if rc != 0 or not ok:
                break
            frames = [json.loads(line) for line in out.splitlines()]
            rows = [[r for r in f["processes"] if r["pid"] == p.pid] for f in frames]
            if len(frames) != 2 or not all(len(r) == 1 for r in rows):
                break
            e = [r[0]["engine_ns_total"] for r in rows]
            within = before["engine"] <= e[0] <= e[1] <= after["engine"]
            if not within:
                break
            grew = e[1] > e[0]
        tap.ok(rc == 0 and ok, "top --json -n 2: exit 0, two valid JSON lines (json.tool --json-lines)",
               out + errs)
        tap.ok(grew, "top --json: the bench's engine time, within its fdinfo's, grows while it runs",
               f"before {before}, after {after}\n{out}")
        row = rows[-1][0] if frames and rows and rows[-1] else {}
        tap.ok(row.get("comm") == "jalrt-bench" and row.get("card") == 0 and
               row.get("host_bytes") == fdinfo(p.pid)["host"] and row.get("clients") == 1 and
               row.get("engine_ns", {}).get("normal") == row.get("engine_ns_total") and
               frames[-1]["cards"][0]["clients"] >= 1 and
               isinstance(row.get("utilization"), (int, float)) and row["utilization"] > 0,
               "top --json: the bench's row (comm, card, host memory, engine by queue, utilization)",
               json.dumps(row))

        rc, out, errs = run(["top", "-n", "2", "-d", "0.1"])
        heads = [line for line in out.splitlines() if line.startswith("jalctl top")]
        rows_h = [line for line in out.splitlines() if line.split()[:2] == [str(p.pid), "jalrt-bench"]]
        tap.ok(rc == 0 and len(heads) == 2 and len(rows_h) == 2 and "\033[" not in out and
               f"/dev/accel/{name}" in out,
               "top -n 2 into a pipe: two plain snapshots with the bench's row", out + errs)

        # On a terminal the view is redrawn in place: clear and home per frame.
        pid, fd = pty.fork()
        if pid == 0:
            os.execv(JALCTL, [JALCTL, "top", "-n", "2", "-d", "0.1"])
        buf = b""
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
        _, status = os.waitpid(pid, 0)
        tap.ok(os.waitstatus_to_exitcode(status) == 0 and buf.count(b"\033[H\033[2J") == 2 and
               b"jalrt-bench" in buf, "top on a terminal: each frame redrawn in place",
               repr(buf[:400]))
    finally:
        stop_bench(p)


def test_reset(cards, method):
    name, dev = cards[0]
    pci = os.path.basename(dev)
    n0 = device_resets(pci)
    rc, out, errs = run(["--json", "reset", "--method", method, "0"])
    ok, why = valid_json(out)
    n1 = device_resets(pci)
    r = json.loads(out) if ok else {}
    tap.ok(rc == 0 and ok and r.get("method") == method and n1 == n0 + 1 and
           r.get("device_resets") == n1,
           f"reset --method {method}: exit 0, JSON, the driver counted one device reset",
           f"rc {rc}, resets {n0} -> {n1}\n{out}{errs}{why}")
    p = subprocess.run([BENCH, "null", "-n", "50"], capture_output=True, text=True, timeout=600)
    tap.ok(p.returncode == 0 and "null_jobs_per_s" in p.stdout,
           f"reset --method {method}: the card runs jobs afterwards", p.stdout + p.stderr)


def test_permissions(cards):
    nobody = 65534
    rc, out, errs = run(["info", "-d", "0", "0"], user=(nobody, []))
    tap.ok(rc == 4 and "permission denied" in errs and "card 0:" in out,
           "info as an unprivileged user on a root-only node: exit 4, says permission denied",
           f"rc {rc}\n{out}{errs}")
    rc, out, errs = run(["reset", "0"], user=(nobody, []))
    tap.ok(rc == 4 and "permission denied" in errs,
           "reset as an unprivileged user: exit 4, says permission denied", f"rc {rc}\n{errs}")


def udevd_start():
    """The host's udevd in the guest; systemd refuses to act in a chroot unless told."""
    env = dict(os.environ, SYSTEMD_IGNORE_CHROOT="1")
    os.makedirs("/etc/udev/rules.d", exist_ok=True)
    with open(RULE) as src, open("/etc/udev/rules.d/70-jalapeno.rules", "w") as dst:
        dst.write(src.read())
    p = subprocess.run(["/lib/systemd/systemd-udevd", "--daemon"], capture_output=True,
                       text=True, env=env)
    return env if p.returncode == 0 else None


def udev_settle(env):
    subprocess.run(["udevadm", "settle", "-t", "120"], env=env, check=False)


def test_udev_and_nodev(cards):
    name = cards[0][0]
    try:
        render = grp.getgrnam("render").gr_gid
    except KeyError:
        render = None
    env = udevd_start() if render is not None and os.path.exists("/lib/systemd/systemd-udevd") else None
    if env is None:
        tap.skip("udev rule: node group render, mode 0660", "no udevd or no group render")
    else:
        subprocess.run(["udevadm", "trigger", "--action=add", "--subsystem-match=accel"], env=env)
        udev_settle(env)
        st = os.stat(f"/dev/accel/{name}")
        tap.ok(st.st_gid == render and (st.st_mode & 0o777) == 0o660,
               "udev rule (udevd, add event): the node is group render, mode 0660",
               f"gid {st.st_gid}, mode {st.st_mode & 0o777:o}")
        rc, out, errs = run(["--json", "info", "-d", "0", "0"], user=(65534, [render]))
        tap.ok(rc == 0 and json.loads(out)["cards"][0].get("query_error") is None,
               "udev rule: a user in group render can query the card", f"rc {rc}\n{out}{errs}")
        rc, out, errs = run(["info", "0"], user=(65534, []))
        tap.ok(rc == 4, "udev rule: a user outside group render still cannot", f"rc {rc}\n{errs}")

    # No card at all: the driver let go of every function.
    pcis = [os.path.basename(d) for _, d in cards]
    for addr in pcis:
        with open("/sys/bus/pci/drivers/jalapeno/unbind", "w") as f:
            f.write(addr)
    for args in (["list"], ["--json", "info"], ["top", "-n", "1", "-d", "0"], ["reset", "0"]):
        rc, out, errs = run(args)
        tap.ok(rc == 3 and "no Jalapeño card found" in errs,
               f"no card: jalctl {' '.join(args)} -> exit 3, says so", f"rc {rc}\n{out}{errs}")
    rc, out, _ = run(["--json", "list"])
    tap.ok(rc == 3 and json.loads(out) == {"cards": []}, "no card: list --json is an empty list",
           out)
    for addr in pcis:
        with open("/sys/bus/pci/drivers/jalapeno/bind", "w") as f:
            f.write(addr)
    now = cards_in_sysfs()
    if env is not None:
        udev_settle(env)
        st = os.stat(f"/dev/accel/{now[0][0]}") if now else None
        tap.ok(st is not None and st.st_gid == render and (st.st_mode & 0o777) == 0o660,
               "udev rule: the node made when the driver binds again is render, 0660 too",
               f"{st}")
        subprocess.run(["udevadm", "control", "--exit"], env=env)
        os.unlink("/etc/udev/rules.d/70-jalapeno.rules")
    rc, out, errs = run(["list"])
    tap.ok(rc == 0 and len(out.splitlines()) == len(cards), "bound again: list finds the card",
           out + errs)


def main():
    global JALCTL
    ap = argparse.ArgumentParser()
    ap.add_argument("--jalctl", default=JALCTL)
    JALCTL = ap.parse_args().jalctl
    print("TAP version 13")
    if not os.path.ismount(DEBUGFS):
        subprocess.run(["mount", "-t", "debugfs", "none", DEBUGFS], check=False)
    cards = cards_in_sysfs()
    if not tap.ok(len(cards) >= 1, "a card is bound to jalapeno", "none in /sys/class/accel"):
        return tap.finish()
    test_list(cards)
    test_info(cards)
    test_memory(cards)
    test_errors(cards)
    test_top(cards)
    if os.path.isdir(f"{DEBUGFS}/accel/{os.path.basename(cards[0][1])}"):
        test_reset(cards, "debugfs")
        test_reset(cards, "pci")
    else:
        tap.skip("reset", "debugfs not mounted")
    test_permissions(cards)
    test_udev_and_nodev(cards)
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
