/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _XBGEN_LINUX_MM_H
#define _XBGEN_LINUX_MM_H

#include <linux/types.h>

struct page;

/* 4 KiB; tests/test_pages.py also builds with arm64's 16 and 64 KiB. */
#ifndef XBGEN_PAGE_SHIFT
#define XBGEN_PAGE_SHIFT	12
#endif
#define PAGE_SHIFT	XBGEN_PAGE_SHIFT
#define PAGE_SIZE	(1UL << PAGE_SHIFT)
#define PAGE_MASK	(~(PAGE_SIZE - 1))
#define DIV_ROUND_UP(n, d)	(((n) + (d) - 1) / (d))
#define offset_in_page(p)	((unsigned long)(p) & ~PAGE_MASK)

void *alloc_pages_exact(size_t size, gfp_t gfp_mask);
void free_pages_exact(void *virt, size_t size);
struct page *virt_to_page(const void *addr);
struct page *alloc_page(gfp_t gfp_mask);
void get_page(struct page *page);
void put_page(struct page *page);
void *page_address(const struct page *page);
void *kvmalloc(size_t size, gfp_t flags);

#endif
