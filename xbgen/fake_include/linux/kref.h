/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _XBGEN_LINUX_KREF_H
#define _XBGEN_LINUX_KREF_H

#include <linux/types.h>

struct kref {
	unsigned int refcount;
};

void kref_init(struct kref *kref);
void kref_get(struct kref *kref);
/* Drops a reference; calls @release and returns 1 when it was the last. */
int kref_put(struct kref *kref, void (*release)(struct kref *kref));

#endif
