/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _XBGEN_XEN_PAGE_H
#define _XBGEN_XEN_PAGE_H

#include <linux/mm.h>

#define XEN_PAGE_SHIFT	12
#define XEN_PAGE_SIZE	(1UL << XEN_PAGE_SHIFT)
#define XEN_PAGE_MASK	(~(XEN_PAGE_SIZE - 1))
#define XEN_PFN_PER_PAGE	(PAGE_SIZE / XEN_PAGE_SIZE)

unsigned long page_to_xen_pfn(const struct page *page);
unsigned long pfn_to_gfn(unsigned long pfn);

#endif
