/*
 * Jalapeño LLM inference accelerator (PCI device)
 *
 * SPDX-License-Identifier: MIT
 *
 * This file is only the QEMU binding: the chip itself (registers, queues,
 * MMU, command processor, compute unit and its worker thread) lives in
 * core/ as plain C shared with the host unit tests. The binding provides
 * BAR0 (64-bit, registers and doorbells), MSI-X in BAR2 (64-bit) with an
 * INTx fallback, and the platform services the core needs:
 *
 * - DMA: pci_dma_rw() from the core's worker thread, which registers
 *   itself with RCU. Accesses are tagged MemTxAttrs.memory so they only
 *   ever reach RAM: a guest pointing the device at MMIO (its own BAR
 *   included) gets a bus error instead of the worker taking the BQL,
 *   which could deadlock against a vCPU waiting in a reset write.
 * - Interrupts: the worker only records pending vectors and schedules a
 *   bottom half; MSI-X notification and INTx level changes happen there,
 *   under the BQL. A vector raised again before the bottom half ran is
 *   notified twice (a duplicated interrupt must reach the guest as two).
 *
 * Properties: vram-size (device memory, default 1 GiB; the core maps it
 * lazily, so untouched memory costs no host RAM), compute-threads
 * (host threads for compute instructions, 0 = min(4, host CPUs)) and
 * fault-injection (JAL_CAP_FAULT_INJECT and the JAL_REG_INJECT_*
 * registers, for testing a driver's recovery; off by default).
 */

#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "qemu/log.h"
#include "qemu/main-loop.h"
#include "qemu/module.h"
#include "qemu/range.h"
#include "qemu/rcu.h"
#include "qemu/timer.h"
#include "qapi/error.h"
#include "hw/pci/pci_device.h"
#include "hw/pci/msix.h"
#include "hw/qdev-properties.h"
#include "migration/vmstate.h"
#include "qom/object.h"

#include "jalapeno_hw.h"
#include "jal_core.h"

#define TYPE_JALAPENO "jalapeno"
OBJECT_DECLARE_SIMPLE_TYPE(JalapenoState, JALAPENO)

#define JALAPENO_MSIX_BAR_SIZE  4096
#define JALAPENO_MSIX_PBA       (JALAPENO_MSIX_BAR_SIZE / 2)

struct JalapenoState {
    PCIDevice parent_obj;

    MemoryRegion regs;
    MemoryRegion msix_bar;
    QEMUBH *irq_bh;
    /*
     * Vectors raised by the core and not yet delivered (atomic), and
     * those raised again while already pending.
     */
    uint32_t pending_vectors;
    uint32_t pending_again;

    struct jal_device *core;

    /* Offset of the Advanced Features capability (function level reset). */
    uint8_t af_cap;

    /* Properties. */
    uint64_t vram_size;
    uint32_t compute_threads;
    bool fault_injection;
};

/* Platform services, called from the core's worker thread. */

static int jalapeno_dma(JalapenoState *s, uint64_t pa, void *buf, size_t len,
                        DMADirection dir)
{
    MemTxAttrs attrs = { .memory = 1 };

    return pci_dma_rw(&s->parent_obj, pa, buf, len, dir, attrs) == MEMTX_OK ?
           0 : -1;
}

static int jalapeno_dma_read(void *opaque, uint64_t pa, void *buf, size_t len)
{
    return jalapeno_dma(opaque, pa, buf, len, DMA_DIRECTION_TO_DEVICE);
}

static int jalapeno_dma_write(void *opaque, uint64_t pa, const void *buf,
                              size_t len)
{
    return jalapeno_dma(opaque, pa, (void *)buf, len,
                        DMA_DIRECTION_FROM_DEVICE);
}

static void jalapeno_raise_irq(void *opaque, unsigned int vector)
{
    JalapenoState *s = opaque;
    uint32_t bit = 1u << vector;

    if (qatomic_fetch_or(&s->pending_vectors, bit) & bit) {
        qatomic_or(&s->pending_again, bit);
    }
    qemu_bh_schedule(s->irq_bh);
}

static uint64_t jalapeno_now_ns(void *opaque)
{
    return qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL);
}

static void G_GNUC_PRINTF(2, 3) jalapeno_log_guest_error(void *opaque,
                                                         const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list ap;

    if (!qemu_loglevel_mask(LOG_GUEST_ERROR)) {
        return;
    }
    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    qemu_log_mask(LOG_GUEST_ERROR, "%s", msg);
}

static void jalapeno_worker_start(void *opaque)
{
    rcu_register_thread();
}

static void jalapeno_worker_stop(void *opaque)
{
    rcu_unregister_thread();
}

static const struct jal_platform_ops jalapeno_platform_ops = {
    .dma_read = jalapeno_dma_read,
    .dma_write = jalapeno_dma_write,
    .raise_irq = jalapeno_raise_irq,
    .now_ns = jalapeno_now_ns,
    .log_guest_error = jalapeno_log_guest_error,
    .worker_start = jalapeno_worker_start,
    .worker_stop = jalapeno_worker_stop,
};

/* Interrupt delivery, under the BQL. */

static void jalapeno_update_intx(JalapenoState *s)
{
    PCIDevice *pdev = &s->parent_obj;

    if (!msix_enabled(pdev)) {
        pci_set_irq(pdev, jal_irq_asserted(s->core));
    }
}

static void jalapeno_msix_notify(PCIDevice *pdev, uint32_t vectors)
{
    unsigned int v;

    for (v = 0; v < JAL_MSIX_NUM_VECTORS; v++) {
        if (vectors & (1u << v)) {
            msix_notify(pdev, v);
        }
    }
}

static void jalapeno_irq_bh(void *opaque)
{
    JalapenoState *s = opaque;
    PCIDevice *pdev = &s->parent_obj;
    uint32_t vectors = qatomic_xchg(&s->pending_vectors, 0);
    uint32_t again = qatomic_xchg(&s->pending_again, 0);

    if (!msix_enabled(pdev)) {
        /* A level: a second raise of a pending event changes nothing. */
        jalapeno_update_intx(s);
        return;
    }
    jalapeno_msix_notify(pdev, vectors);
    jalapeno_msix_notify(pdev, again);
}

/* BAR0: every access goes to the core, which validates size/alignment. */

static uint64_t jalapeno_mmio_read(void *opaque, hwaddr addr, unsigned size)
{
    JalapenoState *s = opaque;

    return jal_mmio_read(s->core, addr, size);
}

static void jalapeno_mmio_write(void *opaque, hwaddr addr, uint64_t val,
                                unsigned size)
{
    JalapenoState *s = opaque;

    jal_mmio_write(s->core, addr, val, size);
    /* IRQ_STATUS/IRQ_MASK writes and resets may change the INTx level. */
    jalapeno_update_intx(s);
}

static const MemoryRegionOps jalapeno_mmio_ops = {
    .read = jalapeno_mmio_read,
    .write = jalapeno_mmio_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = {
        .min_access_size = 1,
        .max_access_size = 8,
        .unaligned = true,
    },
    .impl = {
        .min_access_size = 1,
        .max_access_size = 8,
        .unaligned = true,
    },
};

/* Turning MSI-X off hands pending events back to INTx. */
static void jalapeno_config_write(PCIDevice *pdev, uint32_t addr, uint32_t val,
                                  int len)
{
    JalapenoState *s = JALAPENO(pdev);
    uint8_t *af_ctrl = &pdev->config[s->af_cap + PCI_AF_CTRL];

    pci_default_write_config(pdev, addr, val, len);
    if (s->af_cap && range_covers_byte(addr, len, s->af_cap + PCI_AF_CTRL) &&
        (*af_ctrl & PCI_AF_CTRL_FLR)) {
        /* Function level reset: as a cold reset of this function alone. */
        *af_ctrl &= ~PCI_AF_CTRL_FLR;
        pci_device_reset(pdev);
        return;
    }
    if (s->core) {
        jalapeno_update_intx(s);
    }
}

/*
 * PCI Advanced Features with FLR, so that the host can reset the
 * function alone (Linux's af_flr method, /sys/bus/pci/devices/.../reset).
 * No transactions are ever reported pending.
 */
static int jalapeno_init_af(JalapenoState *s, Error **errp)
{
    PCIDevice *pdev = PCI_DEVICE(s);
    int pos;

    pos = pci_add_capability(pdev, PCI_CAP_ID_AF, 0, PCI_CAP_AF_SIZEOF, errp);
    if (pos < 0) {
        return pos;
    }
    s->af_cap = pos;
    pdev->config[pos + PCI_AF_LENGTH] = PCI_CAP_AF_SIZEOF;
    pdev->config[pos + PCI_AF_CAP] = PCI_AF_CAP_TP | PCI_AF_CAP_FLR;
    pdev->wmask[pos + PCI_AF_CTRL] = PCI_AF_CTRL_FLR;
    return 0;
}

static void jalapeno_realize(PCIDevice *pdev, Error **errp)
{
    JalapenoState *s = JALAPENO(pdev);
    struct jal_device_config cfg;
    unsigned int v;
    int ret;

    jal_device_config_default(&cfg);
    if (s->vram_size % JAL_PAGE_SIZE || s->vram_size > JAL_VRAM_SIZE_MAX) {
        error_setg(errp, "jalapeno: vram-size must be a multiple of 4 KiB "
                   "up to %llu bytes", (unsigned long long)JAL_VRAM_SIZE_MAX);
        return;
    }
    if (s->compute_threads > JAL_COMPUTE_THREADS_MAX) {
        error_setg(errp, "jalapeno: compute-threads must be 0 (auto) to %u",
                   JAL_COMPUTE_THREADS_MAX);
        return;
    }
    cfg.vram_size = s->vram_size;
    cfg.compute_threads = s->compute_threads;
    cfg.fault_injection = s->fault_injection;

    pci_config_set_interrupt_pin(pdev->config, 1);
    if (jalapeno_init_af(s, errp) < 0) {
        return;
    }

    memory_region_init_io(&s->regs, OBJECT(s), &jalapeno_mmio_ops, s,
                          "jalapeno-regs", JAL_BAR_REGS_SIZE);
    pci_register_bar(pdev, JAL_BAR_REGS, PCI_BASE_ADDRESS_SPACE_MEMORY |
                     PCI_BASE_ADDRESS_MEM_TYPE_64, &s->regs);

    /* msix_init_exclusive_bar() would make a 32-bit BAR: build our own. */
    memory_region_init(&s->msix_bar, OBJECT(s), "jalapeno-msix",
                       JALAPENO_MSIX_BAR_SIZE);
    pci_register_bar(pdev, JAL_BAR_MSIX, PCI_BASE_ADDRESS_SPACE_MEMORY |
                     PCI_BASE_ADDRESS_MEM_TYPE_64, &s->msix_bar);
    ret = msix_init(pdev, JAL_MSIX_NUM_VECTORS, &s->msix_bar, JAL_BAR_MSIX, 0,
                    &s->msix_bar, JAL_BAR_MSIX, JALAPENO_MSIX_PBA, 0, errp);
    if (ret == -ENOTSUP) {
        /* No MSI on this machine: INTx only. */
        warn_report_err(*errp);
        *errp = NULL;
    } else if (ret < 0) {
        return;
    } else {
        for (v = 0; v < JAL_MSIX_NUM_VECTORS; v++) {
            msix_vector_use(pdev, v);
        }
    }

    s->irq_bh = qemu_bh_new_guarded(jalapeno_irq_bh, s,
                                    &DEVICE(s)->mem_reentrancy_guard);
    s->core = jal_device_create(&jalapeno_platform_ops, s, &cfg);
    if (!s->core) {
        error_setg_errno(errp, errno, "jalapeno: cannot create the chip model");
        qemu_bh_delete(s->irq_bh);
        s->irq_bh = NULL;
        if (msix_present(pdev)) {
            msix_uninit(pdev, &s->msix_bar, &s->msix_bar);
        }
    }
}

static void jalapeno_exit(PCIDevice *pdev)
{
    JalapenoState *s = JALAPENO(pdev);

    /* Stops the worker: no DMA or interrupt after this. */
    jal_device_destroy(s->core);
    s->core = NULL;
    qemu_bh_delete(s->irq_bh);
    s->irq_bh = NULL;
    if (msix_present(pdev)) {
        msix_uninit(pdev, &s->msix_bar, &s->msix_bar);
    }
}

static void jalapeno_reset(DeviceState *dev)
{
    JalapenoState *s = JALAPENO(dev);

    if (s->core) {
        /* Returns once the worker let go of any running job. */
        jal_device_reset(s->core);
    }
    qatomic_set(&s->pending_vectors, 0);
    qatomic_set(&s->pending_again, 0);
}

static const Property jalapeno_properties[] = {
    DEFINE_PROP_SIZE("vram-size", JalapenoState, vram_size,
                     JAL_VRAM_SIZE_DEFAULT),
    DEFINE_PROP_UINT32("compute-threads", JalapenoState, compute_threads, 0),
    DEFINE_PROP_BOOL("fault-injection", JalapenoState, fault_injection, false),
};

/* The worker thread and in-flight jobs are not migratable. */
static const VMStateDescription jalapeno_vmstate = {
    .name = TYPE_JALAPENO,
    .unmigratable = 1,
};

static void jalapeno_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    PCIDeviceClass *k = PCI_DEVICE_CLASS(klass);

    k->realize = jalapeno_realize;
    k->exit = jalapeno_exit;
    k->config_write = jalapeno_config_write;
    k->vendor_id = JAL_PCI_VENDOR_ID;
    k->device_id = JAL_PCI_DEVICE_ID;
    k->revision = JAL_PCI_REVISION;
    k->class_id = JAL_PCI_CLASS;
    dc->desc = "Jalapeno LLM inference accelerator";
    dc->vmsd = &jalapeno_vmstate;
    device_class_set_legacy_reset(dc, jalapeno_reset);
    device_class_set_props(dc, jalapeno_properties);
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);
}

static const TypeInfo jalapeno_info = {
    .name = TYPE_JALAPENO,
    .parent = TYPE_PCI_DEVICE,
    .instance_size = sizeof(JalapenoState),
    .class_init = jalapeno_class_init,
    .interfaces = (InterfaceInfo[]) {
        { INTERFACE_CONVENTIONAL_PCI_DEVICE },
        { },
    },
};

static void jalapeno_register_types(void)
{
    type_register_static(&jalapeno_info);
}

type_init(jalapeno_register_types)
