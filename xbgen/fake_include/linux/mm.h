/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _XBGEN_LINUX_MM_H
#define _XBGEN_LINUX_MM_H

#include <linux/types.h>

struct page;

void *alloc_pages_exact(size_t size, gfp_t gfp_mask);
void free_pages_exact(void *virt, size_t size);
struct page *virt_to_page(const void *addr);

#endif
