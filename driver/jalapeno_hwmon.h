/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Jalapeño accelerator driver: telemetry through hwmon and sysfs.
 *
 * Copyright (C) 2025 The Jalapeño authors
 */
#ifndef __JALAPENO_HWMON_H__
#define __JALAPENO_HWMON_H__

struct attribute_group;
struct jal_device;

extern const struct attribute_group *jal_dev_groups[];

int jal_hwmon_init(struct jal_device *jdev);

#endif /* __JALAPENO_HWMON_H__ */
