// SPDX-License-Identifier: GPL-2.0-only
/*
 * Jalapeño accelerator driver: telemetry through hwmon and sysfs.
 *
 * A chip with JAL_CAP_TELEMETRY reports its temperature and power (hwmon:
 * temp1_input, power1_input, so `sensors` shows them), and its clock and
 * the time its compute unit spent on jobs (the PCI device's clock_mhz and
 * busy_ns attributes). The chip derives temperature and power from its
 * utilisation between two reads, so reading them is also what samples
 * them.
 *
 * Copyright (C) 2025 The Jalapeño authors
 */

#include <linux/device.h>
#include <linux/hwmon.h>
#include <linux/sysfs.h>

#include <drm/drm_drv.h>
#include <drm/drm_managed.h>

#include "jalapeno_drv.h"
#include "jalapeno_hw.h"
#include "jalapeno_hwmon.h"

/* Reads of the chip's telemetry registers; the lock pairs LO and HI. */
static int jal_telemetry_read(struct jal_device *jdev, u32 reg, u64 *val)
{
	int idx;

	if (!drm_dev_enter(&jdev->drm, &idx))
		return -ENODEV;
	if (reg == JAL_REG_BUSY_NS_LO) {
		mutex_lock(&jdev->telemetry_lock);
		*val = jal_rreg(jdev, JAL_REG_BUSY_NS_LO);
		*val |= (u64)jal_rreg(jdev, JAL_REG_BUSY_NS_HI) << 32;
		mutex_unlock(&jdev->telemetry_lock);
	} else {
		*val = jal_rreg(jdev, reg);
	}
	drm_dev_exit(idx);
	return 0;
}

static umode_t jal_hwmon_is_visible(const void *data,
				    enum hwmon_sensor_types type, u32 attr,
				    int channel)
{
	return 0444;
}

static int jal_hwmon_read(struct device *dev, enum hwmon_sensor_types type,
			  u32 attr, int channel, long *val)
{
	struct jal_device *jdev = dev_get_drvdata(dev);
	u64 v;
	int ret;

	switch (type) {
	case hwmon_temp:	/* millidegrees C, as the chip reports */
		ret = jal_telemetry_read(jdev, JAL_REG_TEMP_MC, &v);
		break;
	case hwmon_power:	/* microwatts from milliwatts */
		ret = jal_telemetry_read(jdev, JAL_REG_POWER_MW, &v);
		v *= 1000;
		break;
	default:
		return -EOPNOTSUPP;
	}
	if (!ret)
		*val = v;
	return ret;
}

static const struct hwmon_channel_info * const jal_hwmon_info[] = {
	HWMON_CHANNEL_INFO(temp, HWMON_T_INPUT),
	HWMON_CHANNEL_INFO(power, HWMON_P_INPUT),
	NULL
};

static const struct hwmon_ops jal_hwmon_ops = {
	.is_visible = jal_hwmon_is_visible,
	.read = jal_hwmon_read,
};

static const struct hwmon_chip_info jal_hwmon_chip = {
	.ops = &jal_hwmon_ops,
	.info = jal_hwmon_info,
};

static ssize_t busy_ns_show(struct device *dev, struct device_attribute *attr,
			    char *buf)
{
	struct jal_device *jdev = pci_get_drvdata(to_pci_dev(dev));
	u64 v;
	int ret;

	if (!(jdev->caps & JAL_CAP_TELEMETRY))
		return -EOPNOTSUPP;
	ret = jal_telemetry_read(jdev, JAL_REG_BUSY_NS_LO, &v);
	return ret ? ret : sysfs_emit(buf, "%llu\n", v);
}
static DEVICE_ATTR_RO(busy_ns);

static ssize_t clock_mhz_show(struct device *dev,
			      struct device_attribute *attr, char *buf)
{
	struct jal_device *jdev = pci_get_drvdata(to_pci_dev(dev));
	u64 v;
	int ret;

	if (!(jdev->caps & JAL_CAP_TELEMETRY))
		return -EOPNOTSUPP;
	ret = jal_telemetry_read(jdev, JAL_REG_CLOCK_MHZ, &v);
	return ret ? ret : sysfs_emit(buf, "%llu\n", v);
}
static DEVICE_ATTR_RO(clock_mhz);

static struct attribute *jal_dev_attrs[] = {
	&dev_attr_busy_ns.attr,
	&dev_attr_clock_mhz.attr,
	NULL
};

static const struct attribute_group jal_dev_group = {
	.attrs = jal_dev_attrs,
};

const struct attribute_group *jal_dev_groups[] = {
	&jal_dev_group,
	NULL
};

/**
 * jal_hwmon_init() - register the chip's sensors
 * @jdev: device; removed with the PCI binding (devres).
 *
 * Return: 0 (also on a chip without telemetry) or a negative errno.
 */
int jal_hwmon_init(struct jal_device *jdev)
{
	struct device *hwmon;
	int ret;

	ret = drmm_mutex_init(&jdev->drm, &jdev->telemetry_lock);
	if (ret || !(jdev->caps & JAL_CAP_TELEMETRY))
		return ret;
	hwmon = devm_hwmon_device_register_with_info(&jdev->pdev->dev,
						     JAL_DRIVER_NAME, jdev,
						     &jal_hwmon_chip, NULL);
	return PTR_ERR_OR_ZERO(hwmon);
}
