/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A model of Linux pages of PAGE_SIZE (1 << XBGEN_PAGE_SHIFT) bytes holding
 * XEN_PFN_PER_PAGE Xen pages of 4 KiB, and of a grant table, for the page
 * handling of the generated drivers (tests/test_pages.py).  A page is its
 * address, as in xbgen verify's simulation; unlike there, a Linux page may
 * be larger than a Xen page.
 *
 * Linux: alloc_page() and alloc_pages_exact() give pages of one reference
 * each (alloc_pages_exact() splits its block), get_page()/put_page() count
 * them, the last put frees the page; free_pages_exact() puts each page.
 * Xen: a grant covers one Xen page, which must lie in a live Linux page;
 * gnttab_end_foreign_access() ends it and puts its page when given one
 * (before 5.19, put_page(virt_to_page(addr)); since, put_page(page)).
 * Everything a test leaves must be free and every grant ended.
 */
#ifndef XBGEN_TEST_PAGES_H
#define XBGEN_TEST_PAGES_H

#include <linux/err.h>
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/vmalloc.h>
#include <xen/grant_table.h>
#include <xen/page.h>
#include <xen/xenbus.h>

void *calloc(size_t n, size_t size);
void *memmove(void *dest, const void *src, size_t n);
void *aligned_alloc(size_t align, size_t size);
void free(void *p);
int printf(const char *fmt, ...);
int vprintf(const char *fmt, va_list args);
void exit(int status);

#define ARENA_SIZE	(64UL << 20)
#define NR_LINUX_PAGES	(ARENA_SIZE / PAGE_SIZE)
#define NR_GRANTS	8192
#define FIRST_REF	8

static unsigned char *arena;
static unsigned long arena_base, arena_top, arena_hwm;	/* in Linux pages */
static int page_refs[ARENA_SIZE / 4096];
static unsigned int failures;

static struct {
	unsigned char *addr;	/* the Xen page granted, or NULL */
	bool readonly;
} grants[NR_GRANTS];

static void fail(const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	printf("FAIL (PAGE_SIZE %lu): ", PAGE_SIZE);
	vprintf(fmt, args);
	printf("\n");
	va_end(args);
	if (++failures > 20)
		exit(1);
}

static long page_index(const void *addr, const char *what)
{
	const unsigned char *p = addr;

	if (!arena || p < arena || p >= arena + ARENA_SIZE) {
		fail("%s of %p, which no page holds", what, addr);
		return -1;
	}
	return (p - arena) / PAGE_SIZE;
}

static void pages_init(void)
{
	arena = aligned_alloc(1UL << 16, ARENA_SIZE);
}

/* Pages allocated so far stay for the whole run (pages_reset() keeps them). */
static inline void pages_mark(void)
{
	arena_base = arena_top;
}

/* A fresh start for a test case: no grants, the arena's pages back. */
static void pages_reset(void)
{
	memset(grants, 0, sizeof(grants));
	memset(&page_refs[arena_base], 0, (arena_top - arena_base) * sizeof(*page_refs));
	arena_top = arena_base;
}

static unsigned char *pages_alloc(unsigned long n, gfp_t gfp)
{
	unsigned char *p;
	unsigned long i;

	if (arena_top + n > NR_LINUX_PAGES) {
		fail("the arena is exhausted");
		exit(1);
	}
	p = arena + arena_top * PAGE_SIZE;
	for (i = 0; i < n; i++)
		page_refs[arena_top + i] = 1;
	arena_top += n;
	if (arena_top > arena_hwm)
		arena_hwm = arena_top;
	memset(p, gfp & __GFP_ZERO ? 0 : 0xa5, n * PAGE_SIZE);
	return p;
}

static void page_put_at(long i, const char *what)
{
	unsigned long g;

	if (i < 0)
		return;
	if (page_refs[i] <= 0) {
		fail("%s of Linux page %ld, which is free (freed twice)", what, i);
		return;
	}
	if (--page_refs[i])
		return;
	for (g = 0; g < NR_GRANTS; g++)
		if (grants[g].addr && page_index(grants[g].addr, what) == i)
			fail("%s frees Linux page %ld, which grant %lu still covers", what, i,
			     g + FIRST_REF);
	memset(arena + i * PAGE_SIZE, 0x6b, PAGE_SIZE);
}

static unsigned int grants_active(void)
{
	unsigned int g, n = 0;

	for (g = 0; g < NR_GRANTS; g++)
		n += !!grants[g].addr;
	return n;
}

static unsigned char *grant_addr(grant_ref_t ref)
{
	if (ref < FIRST_REF || ref >= FIRST_REF + NR_GRANTS || !grants[ref - FIRST_REF].addr) {
		fail("grant reference %u is not granted", ref);
		return NULL;
	}
	return grants[ref - FIRST_REF].addr;
}

static bool grant_readonly(grant_ref_t ref)
{
	return grant_addr(ref) && grants[ref - FIRST_REF].readonly;
}

/* Does another live grant cover the Xen page @ref does? */
static inline bool grant_shares_page(grant_ref_t ref)
{
	unsigned char *addr = grant_addr(ref);
	unsigned int g;

	for (g = 0; g < NR_GRANTS; g++)
		if (g != ref - FIRST_REF && addr && grants[g].addr == addr)
			return true;
	return false;
}

static int grant(unsigned char *addr, bool readonly)
{
	long i = page_index(addr, "a grant");
	unsigned int g;

	if (i < 0)
		return -EINVAL;
	if ((addr - arena) % XEN_PAGE_SIZE)
		fail("a grant of %p, inside a Xen page", addr);
	if (page_refs[i] <= 0)
		fail("a grant of Linux page %ld, which is free", i);
	for (g = 0; g < NR_GRANTS; g++) {
		if (!grants[g].addr) {
			grants[g].addr = addr;
			grants[g].readonly = readonly;
			return g + FIRST_REF;
		}
	}
	fail("out of grant references");
	return -ENOSPC;
}

static void end_grant(grant_ref_t ref)
{
	if (grant_addr(ref))
		grants[ref - FIRST_REF].addr = NULL;
}

/* Every grant ended, every page freed. */
static inline void pages_all_free(const char *what)
{
	unsigned long i;

	if (grants_active())
		fail("%s: %u grants not ended", what, grants_active());
	for (i = arena_base; i < arena_top; i++)
		if (page_refs[i]) {
			fail("%s: Linux page %lu kept (%d references)", what, i, page_refs[i]);
			page_refs[i] = 0;
		}
}

static int pages_done(void)
{
	printf("%s: PAGE_SIZE %lu, at most %lu Linux pages used\n", failures ? "FAIL" : "ok",
	       PAGE_SIZE, arena_hwm);
	return failures ? 1 : 0;
}

/* linux/mm.h */

void *alloc_pages_exact(size_t size, gfp_t gfp_mask)
{
	return pages_alloc(DIV_ROUND_UP(size, PAGE_SIZE), gfp_mask);
}

void free_pages_exact(void *virt, size_t size)
{
	long i = page_index(virt, "free_pages_exact()"), n = DIV_ROUND_UP(size, PAGE_SIZE);

	if ((unsigned long)virt % PAGE_SIZE)
		fail("free_pages_exact() of %p, inside a Linux page", virt);
	while (i >= 0 && n--)
		page_put_at(i++, "free_pages_exact()");
}

struct page *virt_to_page(const void *addr)
{
	return (struct page *)((unsigned long)addr & ~(PAGE_SIZE - 1));
}

struct page *alloc_page(gfp_t gfp_mask)
{
	return (struct page *)pages_alloc(1, gfp_mask);
}

void get_page(struct page *page)
{
	long i = page_index(page, "get_page()");

	if (i >= 0 && page_refs[i] <= 0)
		fail("get_page() of Linux page %ld, which is free", i);
	else if (i >= 0)
		page_refs[i]++;
}

void put_page(struct page *page)
{
	if ((unsigned long)page % PAGE_SIZE)
		fail("put_page() of %p, which is no struct page", page);
	page_put_at(page_index(page, "put_page()"), "put_page()");
}

void *page_address(const struct page *page)
{
	return (void *)page;
}

unsigned long page_to_xen_pfn(const struct page *page)
{
	return (unsigned long)page >> XEN_PAGE_SHIFT;
}

unsigned long pfn_to_gfn(unsigned long pfn)
{
	return pfn;
}

/* linux/slab.h, linux/vmalloc.h: plain memory (a vmalloc area in pages) */

void *kmalloc(size_t size, gfp_t flags)
{
	return calloc(1, size);
}

void *kzalloc(size_t size, gfp_t flags)
{
	return calloc(1, size);
}

void *kcalloc(size_t n, size_t size, gfp_t flags)
{
	return calloc(n, size);
}

void *kvcalloc(size_t n, size_t size, gfp_t flags)
{
	return calloc(n, size);
}

void *kvmalloc(size_t size, gfp_t flags)
{
	return calloc(1, size);
}

void kfree(const void *objp)
{
	free((void *)objp);
}

void kvfree(const void *addr)
{
	free((void *)addr);
}

void *vmalloc(unsigned long size)
{
	return pages_alloc(DIV_ROUND_UP(size, PAGE_SIZE), 0);
}

struct page *vmalloc_to_page(const void *addr)
{
	return virt_to_page(addr);
}

/* xen/grant_table.h */

int gnttab_grant_foreign_access(domid_t domid, unsigned long frame, int readonly)
{
	return grant((unsigned char *)(frame << XEN_PAGE_SHIFT), readonly);
}

void gnttab_grant_foreign_access_ref(grant_ref_t ref, domid_t domid, unsigned long frame,
				     int readonly)
{
	fail("gnttab_grant_foreign_access_ref() is not modelled");
}

#ifdef XBGEN_GNTTAB_END_PAGE
void gnttab_end_foreign_access(grant_ref_t ref, struct page *page)
{
	end_grant(ref);
	if (page)
		put_page(page);
}
#else
void gnttab_end_foreign_access(grant_ref_t ref, int readonly, unsigned long page)
{
	end_grant(ref);
	if (page)
		put_page(virt_to_page((void *)page));
}
#endif

/* xen/xenbus.h: the ring, as drivers/xen/xenbus/xenbus_client.c grants it */

static int grant_ring(void *vaddr, unsigned int nr_pages, grant_ref_t *grefs)
{
	unsigned int i;
	int ref;

	for (i = 0; i < nr_pages; i++) {
		ref = grant((unsigned char *)vaddr + i * XEN_PAGE_SIZE, false);
		if (ref < 0)
			return ref;
		grefs[i] = ref;
	}
	return 0;
}

#ifdef XBGEN_XENBUS_SETUP_RING
int xenbus_setup_ring(struct xenbus_device *dev, gfp_t gfp, void **vaddr,
		      unsigned int nr_pages, grant_ref_t *grefs)
{
	*vaddr = alloc_pages_exact(nr_pages * XEN_PAGE_SIZE, gfp | __GFP_ZERO);
	return grant_ring(*vaddr, nr_pages, grefs);
}

/* Ends the grants without their pages, then frees the pages: 5.19's. */
void xenbus_teardown_ring(void **vaddr, unsigned int nr_pages, grant_ref_t *grefs)
{
	unsigned int i;

	for (i = 0; i < nr_pages; i++)
		end_grant(grefs[i]);
	free_pages_exact(*vaddr, nr_pages * XEN_PAGE_SIZE);
	*vaddr = NULL;
}
#else
int xenbus_grant_ring(struct xenbus_device *dev, void *vaddr, unsigned int nr_pages,
		      grant_ref_t *grefs)
{
	return grant_ring(vaddr, nr_pages, grefs);
}
#endif

void xenbus_dev_fatal(struct xenbus_device *dev, int err, const char *fmt, ...)
{
	fail("xenbus_dev_fatal(%d, \"%s\")", err, fmt);
}

/* what xbgen verify's simulation gives the fake headers' helpers */

unsigned int __xbgen_ring_size(unsigned long bytes, unsigned long entry)
{
	unsigned long n = bytes > 64 ? (bytes - 64) / entry : 0, p = 1;

	if (!n)
		return 0;
	while (p * 2 <= n)
		p *= 2;
	return (unsigned int)p;
}

void __xbgen_mb(void)
{
}

void *ERR_PTR(long error)
{
	return (void *)error;
}

long PTR_ERR(const void *ptr)
{
	return (long)ptr;
}

bool IS_ERR(const void *ptr)
{
	return (unsigned long)ptr >= (unsigned long)-4095;
}

#endif
