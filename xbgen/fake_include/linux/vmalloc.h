/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _XBGEN_LINUX_VMALLOC_H
#define _XBGEN_LINUX_VMALLOC_H

#include <linux/types.h>

struct page;

void *vmalloc(unsigned long size);
void vfree(const void *addr);
struct page *vmalloc_to_page(const void *addr);

#endif
