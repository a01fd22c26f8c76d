/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _XBGEN_LINUX_XARRAY_H
#define _XBGEN_LINUX_XARRAY_H

#include <linux/types.h>

/* `xbgen verify` keeps a small table of (index, entry) pairs in it. */
#define __XBGEN_XA_SLOTS	16
struct xarray {
	unsigned long __xbgen_index[__XBGEN_XA_SLOTS];
	void *__xbgen_entry[__XBGEN_XA_SLOTS];
};

void xa_init(struct xarray *xa);
void *xa_load(struct xarray *xa, unsigned long index);
void *xa_store(struct xarray *xa, unsigned long index, void *entry, gfp_t gfp);
int xa_err(void *entry);
void xa_destroy(struct xarray *xa);
/* The first entry at @*index or above, its index in @*index; NULL when none. */
void *__xbgen_xa_next(struct xarray *xa, unsigned long *index);

#define xa_for_each(xa, index, entry) \
	for (index = 0, entry = __xbgen_xa_next(xa, &index); entry; \
	     index++, entry = __xbgen_xa_next(xa, &index))

#endif
