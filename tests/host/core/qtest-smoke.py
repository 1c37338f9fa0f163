#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Smoke test of the QEMU binding (qemu-device/jalapeno.c) under qtest.

Drives a real qemu-system-x86_64 -device jalapeno with no guest OS: PCI
config through ports 0xcf8/0xcfc, guest RAM and BARs through qtest
read/write commands. Checks identity, 64-bit BARs, a job end to end
(descriptor write-back, completion record, MSI-X vector 0 delivered as a
memory write), the error vector, a ring pointed at the device's own BAR
(must fail cleanly, not deadlock), a queue reset and a machine reset
aborting an endless kernel, and INTx when MSI-X is off. Then, on a second
QEMU with -device jalapeno,vram-size=64M,compute-threads=1: the device
memory registers and a copy through device memory; on a third with
-device jalapeno,fault-injection=on: JAL_CAP_FAULT_INJECT and an injected
hang, which a queue reset must leave alone (and return), and a device
reset, a machine reset and QEMU's exit must end; and a bad vram-size
must stop QEMU with an error.

Usage: qtest-smoke.py [path/to/qemu-system-x86_64]
Prints TAP; exit status 0 when every check passed.
"""
import os
import struct
import subprocess
import sys
import time

QEMU = (sys.argv[1] if len(sys.argv) > 1 else
        os.path.expanduser("~/.cache/jalapeno/qemu-%s/build/qemu-system-x86_64" %
                           open(os.path.expanduser(
                               "~/.cache/jalapeno/qemu-version")).read().strip()))

LOG = "/tmp/jal-qtest-%d.log" % os.getpid()
SLOT = 4
BAR0 = 0xE0000000
BAR2 = 0xE0100000

# Guest physical layout.
CTX_TABLE = 0x200000
ROOT, L1, L0 = 0x201000, 0x202000, 0x203000
RING, COMPL = 0x210000, 0x211000
MSI_SINK = 0x220000
CMDBUF_PA, DATA_PA, CODE_PA = 0x300000, 0x301000, 0x302000
CMDBUF_VA, DATA_VA, CODE_VA = 0x100000, 0x101000, 0x102000

REG_ID, REG_DEV_CTRL, REG_DEV_STATUS = 0x000, 0x020, 0x024
REG_IRQ_STATUS, REG_IRQ_MASK = 0x030, 0x034
REG_STEP_LO, REG_STEP_HI = 0x040, 0x044
REG_CTX_LO, REG_CTX_HI = 0x080, 0x084
REG_FAULT_STATUS, REG_FAULT_REASON, REG_FAULT_ACK = 0x0A0, 0x0AC, 0x0BC
REG_VERSION, REG_CAPS = 0x004, 0x008
REG_VRAM_LO, REG_VRAM_HI = 0x050, 0x054
CAP_VRAM, CAP_LLM, CAP_FAULT_INJECT = 1 << 4, 1 << 5, 1 << 6
REG_INJECT_KIND, REG_INJECT_QUEUE, REG_INJECT_AFTER = 0x0C0, 0x0C4, 0x0C8
REG_INJECT_PERIOD, REG_INJECT_FIRED = 0x0CC, 0x0D0
INJECT_HANG = 1
PTE_VRAM = 1 << 3


def q_reg(q, reg):
    return 0x100 + q * 0x40 + reg


Q_RING_LO, Q_RING_HI, Q_RING_SIZE, Q_HEAD, Q_TAIL = 0x00, 0x04, 0x08, 0x0C, 0x10
Q_CTRL, Q_STATUS, Q_PRIO, Q_COMPL_LO, Q_COMPL_HI = 0x14, 0x18, 0x1C, 0x20, 0x24


class QTest:
    def __init__(self, props=""):
        self.p = subprocess.Popen(
            [QEMU, "-L", "/usr/share/seabios", "-machine", "pc", "-accel",
             "qtest", "-qtest", "stdio",
             "-display", "none", "-nodefaults", "-m", "64M",
             "-device", "jalapeno,addr=%02x.0%s" % (SLOT, props),
             "-d", "guest_errors", "-D", LOG],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=open(LOG + ".stderr", "w"), text=True)
        self.irqs = []

    def cmd(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        while True:
            resp = self.p.stdout.readline()
            if not resp:
                raise RuntimeError("qemu exited")
            resp = resp.strip()
            if resp.startswith("IRQ"):
                self.irqs.append(resp)
                continue
            if not resp.startswith("OK"):
                raise RuntimeError("%s -> %s" % (line, resp))
            return resp[3:]

    def close(self):
        # qtest keeps QEMU running after stdin closes; like libqtest, ask
        # it to quit with SIGTERM (a clean exit with the worker running).
        self.p.stdin.close()
        self.p.terminate()
        return self.p.wait(timeout=30)

    def readl(self, addr):
        return int(self.cmd("readl 0x%x" % addr), 16)

    def writel(self, addr, val):
        self.cmd("writel 0x%x 0x%x" % (addr, val))

    def readq(self, addr):
        return int(self.cmd("readq 0x%x" % addr), 16)

    def write(self, addr, data):
        self.cmd("write 0x%x 0x%x 0x%s" % (addr, len(data), data.hex()))

    def read(self, addr, n):
        return bytes.fromhex(self.cmd("read 0x%x 0x%x" % (addr, n))[2:])

    def cfg_addr(self, reg):
        self.cmd("outl 0xcf8 0x%x" % (0x80000000 | SLOT << 11 | reg))

    def cfg_read(self, reg):
        self.cfg_addr(reg & ~3)
        return int(self.cmd("inl 0xcfc"), 16)

    def cfg_write(self, reg, val):
        self.cfg_addr(reg & ~3)
        self.cmd("outl 0xcfc 0x%x" % val)


results = []


def check(name, ok, detail=""):
    results.append(ok)
    print("%s %d %s%s" % ("ok" if ok else "not ok", len(results), name,
                          (" # " + detail) if detail and not ok else ""))


def desc(ctx, flags, seqno, va, size):
    return struct.pack("<IIQQII II Q QQ".replace(" ", ""), ctx, flags, seqno,
                       va, size, 0, 0xDEADBEEF, 0xDEADBEEF, 0xDEADBEEF, 0, 0)


def wait_reg(t, off, mask, want, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        v = t.readl(BAR0 + off)
        if v & mask == want:
            return True
        time.sleep(0.002)
    return False


def setup_pci(t):
    t.cfg_write(0x10, BAR0)
    t.cfg_write(0x14, 0)
    t.cfg_write(0x18, BAR2)
    t.cfg_write(0x1C, 0)
    t.cfg_write(0x04, 0x0006)   # memory space + bus master


def msix_cap(t):
    ptr = t.cfg_read(0x34) & 0xFF
    while ptr:
        hdr = t.cfg_read(ptr)
        if hdr & 0xFF == 0x11:
            return ptr
        ptr = (hdr >> 8) & 0xFF
    return None


def setup_device(t, tail_queue=0):
    # Page tables: VA 0x100000.. -> PA 0x300000.., 3 pages, RW.
    t.write(CTX_TABLE + 16, struct.pack("<QQ", ROOT | 1, 0))
    t.write(ROOT, struct.pack("<Q", L1 | 1))
    t.write(L1, struct.pack("<Q", L0 | 1))
    for i in range(3):
        t.write(L0 + (0x100 + i) * 8, struct.pack("<Q", (CMDBUF_PA + i * 4096) | 7))
    t.writel(BAR0 + REG_CTX_LO, CTX_TABLE)
    t.writel(BAR0 + REG_CTX_HI, 0)
    t.writel(BAR0 + q_reg(0, Q_RING_LO), RING)
    t.writel(BAR0 + q_reg(0, Q_RING_HI), 0)
    t.writel(BAR0 + q_reg(0, Q_RING_SIZE), 16)
    t.writel(BAR0 + q_reg(0, Q_COMPL_LO), COMPL)
    t.writel(BAR0 + q_reg(0, Q_COMPL_HI), 0)
    t.writel(BAR0 + q_reg(0, Q_CTRL), 1)
    t.writel(BAR0 + REG_DEV_CTRL, 1)


def inject_hang(t, seqno):
    """Arm a one-shot HANG on queue 0 and submit a NOP job that gets it."""
    t.write(CMDBUF_PA + 256, struct.pack("<I", 0x00010000))     # NOP
    for reg, val in ((REG_INJECT_QUEUE, 0), (REG_INJECT_AFTER, 0),
                     (REG_INJECT_PERIOD, 0), (REG_INJECT_KIND, INJECT_HANG)):
        t.writel(BAR0 + reg, val)
    t.write(RING, desc(1, 1, seqno, CMDBUF_VA + 256, 4))
    t.writel(BAR0 + 0x1000, 1)
    return wait_reg(t, REG_INJECT_FIRED, 0xFFFFFFFF, 1)


def fault_injection():
    t = QTest(",fault-injection=on")
    setup_pci(t)
    caps = t.readl(BAR0 + REG_CAPS)
    check("fault-injection=on sets JAL_CAP_FAULT_INJECT",
          caps & CAP_FAULT_INJECT == CAP_FAULT_INJECT, hex(caps))
    setup_device(t)
    check("injected hang", inject_hang(t, 1))
    check("hung job keeps the device busy",
          t.readl(BAR0 + REG_DEV_STATUS) == 3 and
          t.readl(BAR0 + q_reg(0, Q_STATUS)) == 0)
    t0 = time.time()
    t.writel(BAR0 + q_reg(0, Q_CTRL), 2)
    check("queue reset of the hung queue returns promptly",
          time.time() - t0 < 2)
    check("queue reset leaves the job hung",
          t.readl(BAR0 + REG_DEV_STATUS) == 3 and
          t.readl(BAR0 + q_reg(0, Q_STATUS)) & 1 == 0)
    t0 = time.time()
    t.writel(BAR0 + REG_DEV_CTRL, 2)
    check("device reset ends the hang",
          time.time() - t0 < 2 and t.readl(BAR0 + REG_DEV_STATUS) == 1)
    check("hung job not written back",
          struct.unpack("<I", t.read(RING + 32, 4))[0] == 0xDEADBEEF)
    check("injection registers survive the reset",
          t.readl(BAR0 + REG_INJECT_KIND) == INJECT_HANG and
          t.readl(BAR0 + REG_INJECT_FIRED) == 1)
    setup_device(t)
    check("injected hang again", inject_hang(t, 2))
    t.cmd("outb 0xcf9 0x6")
    t.cmd("clock_step 1000000")
    setup_pci(t)
    check("machine reset ends the hang", t.readl(BAR0 + REG_DEV_STATUS) == 1)
    setup_device(t)
    check("hung at exit", inject_hang(t, 3))
    check("QEMU exits cleanly while hung", t.close() == 0)


def main():
    if not os.access(QEMU, os.X_OK):
        print("1..0 # SKIP no QEMU at %s" % QEMU)
        return 0
    t = QTest()
    ids = t.cfg_read(0)
    check("PCI vendor/device id", ids == 0x00014A4C, hex(ids))
    check("class processing accelerator, revision 1",
          t.cfg_read(0x08) == 0x12000001, hex(t.cfg_read(0x08)))
    t.cfg_write(0x10, 0xFFFFFFFF)
    bar0 = t.cfg_read(0x10)
    check("BAR0 64-bit, 16 KiB", bar0 & 0x7 == 0x4 and (bar0 & ~0xF) == 0xFFFFC000,
          hex(bar0))
    t.cfg_write(0x18, 0xFFFFFFFF)
    check("BAR2 64-bit (MSI-X)", t.cfg_read(0x18) & 0x7 == 0x4)
    setup_pci(t)
    check("ID register", t.readl(BAR0 + REG_ID) == 0x4E504C4A)
    check("version 1.1", t.readl(BAR0 + REG_VERSION) == 0x10001)
    caps = t.readl(BAR0 + REG_CAPS)
    check("device memory and LLM capabilities",
          caps & (CAP_VRAM | CAP_LLM) == CAP_VRAM | CAP_LLM, hex(caps))
    t.writel(BAR0 + REG_INJECT_KIND, INJECT_HANG)
    check("no fault injection by default",
          caps & CAP_FAULT_INJECT == 0 and t.readl(BAR0 + REG_INJECT_KIND) == 0,
          hex(caps))
    check("1 GiB of device memory by default",
          (t.readl(BAR0 + REG_VRAM_LO), t.readl(BAR0 + REG_VRAM_HI)) ==
          (1 << 30, 0))
    check("byte access reads 0", int(t.cmd("readb 0x%x" % BAR0), 16) == 0)

    cap = msix_cap(t)
    check("MSI-X capability with 5 vectors",
          cap is not None and ((t.cfg_read(cap) >> 16) & 0x7FF) == 4)
    # Table in BAR2 at 0: vector 0 and the error vector write to RAM.
    for v, addr, data in ((0, MSI_SINK, 0xABCD0000), (4, MSI_SINK + 16, 0xEEEE)):
        t.write(BAR2 + v * 16, struct.pack("<IIII", addr, 0, data, 0))
    t.cfg_write(cap, (t.cfg_read(cap) & 0xFFFF) | (1 << 31))

    setup_device(t)
    t.cmd("clock_step 12345")   # the device clock is QEMU_CLOCK_VIRTUAL
    cmds = struct.pack("<IIQQ", 0x00060004, 0, DATA_VA, 0x1122334455667788)
    cmds += struct.pack("<IIQ", 0x00040005, 0, DATA_VA + 8)
    t.write(CMDBUF_PA, cmds)
    t.write(RING, desc(1, 1, 7, CMDBUF_VA, len(cmds)))
    t.writel(BAR0 + 0x1000, 1)
    check("job completes", wait_reg(t, q_reg(0, Q_HEAD), 0xFFFFFFFF, 1))
    check("WRITE_VALUE landed", t.readq(DATA_PA) == 0x1122334455667788)
    ts = t.readq(DATA_PA + 8)
    check("TIMESTAMP is the virtual clock", ts >= 12345 and ts < 10**9, str(ts))
    st, eo, fa = struct.unpack("<IIQ", t.read(RING + 32, 16))
    check("descriptor written back", (st, eo, fa) == (0, 0, 0), str((st, eo, fa)))
    check("completion record", t.read(COMPL, 16) ==
          struct.pack("<QII", 7, 1, 0))
    for _ in range(100):
        if struct.unpack("<I", t.read(MSI_SINK, 4))[0]:
            break
        time.sleep(0.01)
    check("MSI-X vector 0 delivered",
          struct.unpack("<I", t.read(MSI_SINK, 4))[0] == 0xABCD0000)
    check("IRQ_STATUS queue 0", t.readl(BAR0 + REG_IRQ_STATUS) == 1)
    t.writel(BAR0 + REG_IRQ_STATUS, 1)

    # A bad command: error vector.
    t.write(CMDBUF_PA + 64, struct.pack("<I", 0xFF))
    t.write(RING + 64, desc(1, 0, 8, CMDBUF_VA + 64, 4))
    t.writel(BAR0 + 0x1000, 2)
    check("bad command completes", wait_reg(t, q_reg(0, Q_HEAD), 0xFFFFFFFF, 2))
    check("BAD_CMD status", struct.unpack("<I", t.read(RING + 64 + 32, 4))[0] == 5)
    for _ in range(100):
        if struct.unpack("<I", t.read(MSI_SINK + 16, 4))[0]:
            break
        time.sleep(0.01)
    check("error vector delivered",
          struct.unpack("<I", t.read(MSI_SINK + 16, 4))[0] == 0xEEEE)
    check("fault record", t.readl(BAR0 + REG_FAULT_STATUS) == 1 and
          t.readl(BAR0 + REG_FAULT_REASON) == 5)
    t.writel(BAR0 + REG_FAULT_ACK, 1)

    # A ring inside the device's own BAR: a bus error, not a deadlock.
    t.writel(BAR0 + q_reg(1, Q_RING_LO), BAR0)
    t.writel(BAR0 + q_reg(1, Q_RING_HI), 0)
    t.writel(BAR0 + q_reg(1, Q_RING_SIZE), 16)
    t.writel(BAR0 + q_reg(1, Q_CTRL), 1)
    t.writel(BAR0 + 0x1008, 1)
    check("ring in MMIO stops the queue",
          wait_reg(t, q_reg(1, Q_STATUS), 2, 2) and
          t.readl(BAR0 + REG_FAULT_REASON) == 9)
    t.writel(BAR0 + q_reg(1, Q_CTRL), 2)

    # An endless kernel, aborted by a queue reset.
    t.writel(BAR0 + REG_STEP_LO, 0)
    t.writel(BAR0 + REG_STEP_HI, 0)
    jump0 = struct.pack("<BBH4B4I4I4I2I", 0x08, 0, 0, 0, 0, 0, 0,
                        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    t.write(CODE_PA, jump0)
    t.write(CMDBUF_PA + 128, struct.pack("<IIQIIQ", 0x00080003, 0, CODE_VA,
                                         64, 0, 0))
    t.write(RING + 2 * 64, desc(1, 1, 9, CMDBUF_VA + 128, 32))
    t.writel(BAR0 + 0x1000, 3)
    check("kernel running", wait_reg(t, REG_DEV_STATUS, 2, 2))
    t0 = time.time()
    t.writel(BAR0 + q_reg(0, Q_CTRL), 2)
    check("queue reset returns promptly", time.time() - t0 < 2)
    check("not busy after reset", t.readl(BAR0 + REG_DEV_STATUS) == 1)
    check("aborted job not written back",
          struct.unpack("<I", t.read(RING + 2 * 64 + 32, 4))[0] == 0xDEADBEEF)

    # Again, aborted by a machine reset through port 0xcf9.
    setup_device(t)
    t.write(RING, desc(1, 1, 10, CMDBUF_VA + 128, 32))
    t.writel(BAR0 + 0x1000, 1)
    check("kernel running again", wait_reg(t, REG_DEV_STATUS, 2, 2))
    t.cmd("outb 0xcf9 0x6")
    t.cmd("clock_step 1000000")
    setup_pci(t)
    check("device reset by machine reset",
          t.readl(BAR0 + REG_DEV_STATUS) == 1 and
          t.readl(BAR0 + REG_DEV_CTRL) == 0 and
          t.readl(BAR0 + REG_STEP_LO) == 1 << 28)

    # INTx: MSI-X is off after the reset. Without a BIOS nobody routed
    # the PIIX3 PIRQ lines: send them all to IRQ 11.
    t.cmd("outl 0xcf8 0x%x" % (0x80000000 | 1 << 11 | 0x60))
    t.cmd("outl 0xcfc 0x0b0b0b0b")
    t.cmd("irq_intercept_in ioapic")
    setup_device(t)
    t.write(RING, desc(1, 1, 11, CMDBUF_VA, len(cmds)))
    t.writel(BAR0 + 0x1000, 1)
    check("job completes with INTx", wait_reg(t, q_reg(0, Q_HEAD), 0xFFFFFFFF, 1))
    for _ in range(100):
        t.cmd("clock_step 1000")
        if any(i.startswith("IRQ raise") for i in t.irqs):
            break
        time.sleep(0.01)
    check("INTx raised", "IRQ raise 11" in t.irqs, str(t.irqs))
    t.writel(BAR0 + REG_IRQ_STATUS, 0xFFFFFFFF)
    t.cmd("clock_step 1000")
    check("INTx lowered on W1C", "IRQ lower 11" in t.irqs, str(t.irqs))

    # Quit while an endless kernel runs.
    t.writel(BAR0 + REG_STEP_LO, 0)
    t.writel(BAR0 + REG_STEP_HI, 0)
    t.write(RING + 64, desc(1, 1, 12, CMDBUF_VA + 128, 32))
    t.writel(BAR0 + 0x1000, 2)
    check("kernel running at exit", wait_reg(t, REG_DEV_STATUS, 2, 2))
    check("QEMU exits cleanly", t.close() == 0)

    # Properties, and a round trip through device memory: VA 0x103000 is
    # device memory offset 0x5000 (a JAL_PTE_VRAM leaf).
    t = QTest(",vram-size=64M,compute-threads=1")
    setup_pci(t)
    check("vram-size property", (t.readl(BAR0 + REG_VRAM_LO),
                                 t.readl(BAR0 + REG_VRAM_HI)) == (64 << 20, 0))
    setup_device(t)
    t.write(L0 + 0x103 * 8, struct.pack("<Q", 0x5000 | PTE_VRAM | 7))
    payload = bytes(range(7, 7 + 200))
    t.write(DATA_PA, payload)
    cmds = struct.pack("<IIQQQ", 0x00080001, 0, DATA_VA, 0x103000 + 24, 200)
    cmds += struct.pack("<IIQQQ", 0x00080001, 0, 0x103000 + 24, DATA_VA + 1024, 200)
    t.write(CMDBUF_PA, cmds)
    t.write(RING, desc(1, 0, 1, CMDBUF_VA, len(cmds)))
    t.writel(BAR0 + 0x1000, 1)
    check("copy through device memory completes",
          wait_reg(t, q_reg(0, Q_HEAD), 0xFFFFFFFF, 1) and
          struct.unpack("<I", t.read(RING + 32, 4))[0] == 0)
    check("copy through device memory round trip",
          t.read(DATA_PA + 1024, 200) == payload)
    check("QEMU with properties exits cleanly", t.close() == 0)

    fault_injection()

    for prop, err in (("vram-size=1000", "multiple of 4 KiB"),
                      ("compute-threads=65", "compute-threads must be")):
        bad = subprocess.run([QEMU, "-L", "/usr/share/seabios", "-machine",
                              "pc", "-accel", "qtest", "-display", "none",
                              "-nodefaults", "-device", "jalapeno," + prop],
                             capture_output=True, text=True, timeout=60)
        check("bad %s is refused" % prop.split("=")[0],
              bad.returncode != 0 and err in bad.stderr, bad.stderr.strip())
    print("1..%d" % len(results))
    print("# Totals: pass:%d fail:%d xfail:0 xpass:0 skip:0 error:0" %
          (results.count(True), results.count(False)))
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
