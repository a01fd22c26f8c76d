/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _XBGEN_LINUX_DEVICE_H
#define _XBGEN_LINUX_DEVICE_H

#include <linux/kernel.h>

struct device_driver {
	const char *name;
};

/* Only the members the templates may touch; use the accessors below. */
struct device {
	struct device *parent;
	struct device_driver *driver;
};

void *dev_get_drvdata(const struct device *dev);
void dev_set_drvdata(struct device *dev, void *data);
void device_unregister(struct device *dev);
struct device *get_device(struct device *dev);
void put_device(struct device *dev);

void _dev_err(const struct device *dev, const char *fmt, ...);
void _dev_warn(const struct device *dev, const char *fmt, ...);
void _dev_info(const struct device *dev, const char *fmt, ...);
#define dev_err(dev, fmt, ...)	_dev_err(dev, fmt, ##__VA_ARGS__)
#define dev_warn(dev, fmt, ...)	_dev_warn(dev, fmt, ##__VA_ARGS__)
#define dev_info(dev, fmt, ...)	_dev_info(dev, fmt, ##__VA_ARGS__)
/* Rate-limited: at most a burst of lines per interval. */
void __xbgen_dev_info_ratelimited(const struct device *dev, const char *fmt, ...);
#define dev_info_ratelimited(dev, fmt, ...) \
	__xbgen_dev_info_ratelimited(dev, fmt, ##__VA_ARGS__)

#endif
