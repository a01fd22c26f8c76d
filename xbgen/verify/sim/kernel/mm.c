// SPDX-License-Identifier: GPL-2.0-only
/*
 * xbgen verify: kmalloc() and friends (mm/slab_common.c, mm/util.c) and
 * pages (mm/page_alloc.c), on one arena a configuration can be saved from.
 */
#include "../sim_internal.h"

static void check_freed_block(const void *p, size_t size, const char *how);

static int in_arena(uintptr_t v)
{
	return v >= (uintptr_t)arena && v < (uintptr_t)arena + w.top;
}

static void *arena_alloc_at(size_t at, size_t size)
{
	size_t end = at + ((size + 15) & ~(size_t)15);

	if (end + GAP > ARENA_SIZE)
		sim_limit("arena exhausted");
	w.top = end;
	if (end > arena_hwm)
		arena_hwm = end;
	UNPOISON(arena + at, size);
	return arena + at;
}

static void *arena_alloc(size_t size)
{
	size_t at = w.top + GAP;

	return arena_alloc_at(at, size);
}

/* A block at a page boundary, as pages and vmalloc() hand out. */
static void *arena_alloc_page_aligned(size_t size)
{
	size_t at = (w.top + GAP + XEN_PAGE_SIZE - 1) & ~(size_t)(XEN_PAGE_SIZE - 1);

	return arena_alloc_at(at, size);
}

static void arena_free(void *p, size_t size)
{
	POISON(p, size);
}

static struct alloc *find_alloc(const void *p)
{
	int i;

	for (i = 0; i < w.nallocs; i++)
		if (w.allocs[i].ptr == p)
			return &w.allocs[i];
	return NULL;
}

/* The live block that holds [p, p + n), if any. */
static struct alloc *alloc_holding(const void *p, size_t n)
{
	uintptr_t v = (uintptr_t)p;
	int i;

	for (i = 0; i < w.nallocs; i++) {
		uintptr_t a = (uintptr_t)w.allocs[i].ptr;

		if (v >= a && v + n <= a + (w.allocs[i].size ? w.allocs[i].size : 1))
			return &w.allocs[i];
	}
	return NULL;
}

static void *track(void *p, size_t size, int kind)
{
	struct dom *d = cur;

	if (w.nallocs == MAX_ALLOCS) {
		violate(PROP_SAFE, "more than %d live allocations", MAX_ALLOCS);
		return NULL;
	}
	w.allocs[w.nallocs].ptr = p;
	w.allocs[w.nallocs].size = size;
	w.allocs[w.nallocs].dom = d ? dom_index(d) : -1;
	w.allocs[w.nallocs].module = cur_t ? cur_t->in_module : 0;
	w.allocs[w.nallocs].kind = kind;
	w.allocs[w.nallocs].pages_freed = 0;
	w.allocs[w.nallocs].refs = 0;
	w.nallocs++;
	return p;
}

/* A block the simulation itself keeps (debugfs entries, transactions). */
static void *sim_block(size_t size)
{
	void *p = arena_alloc(size);

	memset(p, 0, size);
	return track(p, size, K_SIM);
}

static void drop_block(struct alloc *a)
{
	int i = (int)(a - w.allocs);

	arena_free(a->ptr, a->size ? a->size : 1);
	/* keep allocation order: the hash names blocks by position */
	memmove(&w.allocs[i], &w.allocs[i + 1], (size_t)(w.nallocs - 1 - i) * sizeof(*a));
	w.nallocs--;
}

static void *sim_alloc_in(size_t size, int zero, gfp_t gfp, int kind, const char *what,
			  int aligned)
{
	void *p;

	api_call();
	if (gfp & GFP_SLEEPS)
		may_sleep(what);
	if (fault_here(what))
		return NULL;
	p = aligned ? arena_alloc_page_aligned(size) : arena_alloc(size ? size : 1);
	if (zero)
		memset(p, 0, size);
	else
		memset(p, 0xa5, size);
	return track(p, size, kind);
}

static void *sim_alloc(size_t size, int zero, gfp_t gfp, int kind, const char *what)
{
	return sim_alloc_in(size, zero, gfp, kind, what, 0);
}

void *kmalloc(size_t size, gfp_t flags)
{
	return sim_alloc(size, !!(flags & __GFP_ZERO), flags, K_MEM, "an allocation");
}

void *kzalloc(size_t size, gfp_t flags)
{
	return sim_alloc(size, 1, flags, K_MEM, "an allocation");
}

void *kcalloc(size_t n, size_t size, gfp_t flags)
{
	if (size && n > (size_t)-1 / size)
		return NULL;
	return sim_alloc(n * size, 1, flags, K_MEM, "an allocation");
}

void *kvcalloc(size_t n, size_t size, gfp_t flags)
{
	return kcalloc(n, size, flags);
}

static void sim_free(const void *objp, const char *fn)
{
	struct alloc *a;

	api_call();
	if (!objp)
		return;
	a = find_alloc(objp);
	if (!a || a->kind != K_MEM) {
		violate(PROP_SAFE, "%s() of memory that is not allocated (double free?)", fn);
		return;
	}
	check_freed_block(a->ptr, a->size, fn);
	drop_block(a);
}

void kfree(const void *objp)
{
	sim_free(objp, "kfree");
}

void kvfree(const void *addr)
{
	sim_free(addr, "kvfree");
}

void *kvmalloc(size_t size, gfp_t flags)
{
	return sim_alloc(size, !!(flags & __GFP_ZERO), flags, K_MEM, "an allocation");
}

void *vmalloc(unsigned long size)
{
	return sim_alloc_in(size, 0, GFP_KERNEL, K_MEM, "vmalloc()", 1);
}

void vfree(const void *addr)
{
	sim_free(addr, "vfree");
}

/* A page is its address here; vmalloc() memory starts at a page boundary. */
struct page *vmalloc_to_page(const void *addr)
{
	return (struct page *)((uintptr_t)addr & ~(uintptr_t)(XEN_PAGE_SIZE - 1));
}

void *page_address(const struct page *page)
{
	return (void *)page;
}

unsigned long page_to_xen_pfn(const struct page *page)
{
	return (unsigned long)((uintptr_t)page >> XEN_PAGE_SHIFT);
}

unsigned long pfn_to_gfn(unsigned long pfn)
{
	return pfn;
}

/* alloc_page(): one page, a reference held; the last put_page() frees it. */
struct page *alloc_page(gfp_t gfp_mask)
{
	void *p = sim_alloc_in(XEN_PAGE_SIZE, !!(gfp_mask & __GFP_ZERO), gfp_mask, K_PAGES,
			       "alloc_page()", 1);
	struct alloc *a;

	if (!p)
		return NULL;
	a = find_alloc(p);
	a->refs = 1;
	return (struct page *)p;
}

static struct alloc *counted_page(const struct page *page, const char *fn)
{
	struct alloc *a = alloc_holding(page, 1);

	if (!a || a->kind != K_PAGES || !a->refs || a->ptr != (void *)page) {
		violate(PROP_SAFE, "%s %s() of a page it holds no reference on", me(), fn);
		return NULL;
	}
	return a;
}

void get_page(struct page *page)
{
	struct alloc *a = counted_page(page, "get_page");

	if (a)
		a->refs++;
}

void put_page(struct page *page)
{
	struct alloc *a = counted_page(page, "put_page");

	if (a && !--a->refs)
		pages_put(page, XEN_PAGE_SIZE, "put_page");
}

static int live_allocs(int dom, int module)
{
	int i, n = 0;

	for (i = 0; i < w.nallocs; i++)
		n += w.allocs[i].dom == dom && w.allocs[i].module == module &&
		     w.allocs[i].kind != K_SIM;
	return n;
}

void *alloc_pages_exact(size_t size, gfp_t gfp_mask)
{
	size = (size + XEN_PAGE_SIZE - 1) & ~(XEN_PAGE_SIZE - 1);
	return sim_alloc(size, !!(gfp_mask & __GFP_ZERO), gfp_mask, K_PAGES,
			 "alloc_pages_exact()");
}

/* A page block goes once its owner freed every page and no grant needs it. */
static void page_release(struct alloc *a)
{
	unsigned int all = (1U << (a->size / XEN_PAGE_SIZE)) - 1;
	size_t i;

	if ((a->pages_freed & all) != all)
		return;
	for (i = 0; i < a->size; i += XEN_PAGE_SIZE)
		if (page_granted((unsigned char *)a->ptr + i, 0))
			return;
	drop_block(a);
}

/* The owner gives back pages [p, p + size): free_pages_exact() or a put_page. */
static void pages_put(const void *p, size_t size, const char *fn)
{
	struct alloc *a = alloc_holding(p, 1);
	size_t off, i;

	api_call();
	if (!a || a->kind != K_PAGES || a->dom != dom_index(cur)) {
		violate(PROP_SAFE, "%s() of pages that are not allocated (freed twice?)", fn);
		return;
	}
	off = (size_t)((const unsigned char *)p - (unsigned char *)a->ptr);
	if (off % XEN_PAGE_SIZE || off + size > a->size) {
		violate(PROP_SAFE, "%s() of a range that is not what was allocated", fn);
		return;
	}
	for (i = off; i < off + size; i += XEN_PAGE_SIZE) {
		unsigned int bit = 1U << (i / XEN_PAGE_SIZE);

		if (a->pages_freed & bit) {
			violate(PROP_SAFE, "%s() of a page that was already freed", fn);
			return;
		}
		if (page_granted((unsigned char *)a->ptr + i, 1)) {
			violate(PROP_RESOURCES,
				"%s frees a page that is still granted to another domain "
				"(the grant was not ended first)", me());
			return;
		}
		a->pages_freed |= bit;
	}
	if (a->pages_freed == (1U << (a->size / XEN_PAGE_SIZE)) - 1) {
		/* a page ended while mapped stays until it is unmapped */
		a->dom = -1;
		page_release(a);
	}
}

void free_pages_exact(void *virt, size_t size)
{
	size = (size + XEN_PAGE_SIZE - 1) & ~(XEN_PAGE_SIZE - 1);
	pages_put(virt, size, "free_pages_exact");
}

struct page *virt_to_page(const void *addr)
{
	return (struct page *)(uintptr_t)addr;
}

/* kfree() of a block something still points into. */
static void check_freed_block(const void *p, size_t size, const char *how)
{
	uintptr_t a = (uintptr_t)p, b = a + size;
	int i, k;

	for (i = 0; i < SIM_NDOM; i++) {
		struct dom *d = &w.dom[i];

		for (k = 0; k < d->nworks; k++)
			if ((uintptr_t)d->works[k] >= a && (uintptr_t)d->works[k] < b)
				violate(PROP_SAFE, "%s %s() frees memory that holds a queued work item "
					"(it would run on freed memory)", me(), how);
		for (k = 0; k < SIM_NTH; k++) {
			struct thread *t = &d->th[k];

			if (t == cur_t || t->act == ACT_NONE)
				continue;
			if (t->act == ACT_WORK && (uintptr_t)t->work >= a && (uintptr_t)t->work < b)
				violate(PROP_SAFE, "%s %s() frees memory that holds a running work item",
					me(), how);
			if (t->block && (uintptr_t)t->block_on >= a && (uintptr_t)t->block_on < b)
				violate(PROP_SAFE, "%s %s() frees memory that %s sleeps on", me(), how,
					who(d, t));
		}
	}
	for (i = 0; i < MAX_DENTRIES; i++)
		if (w.dents[i].used && (uintptr_t)w.dents[i].data >= a &&
		    (uintptr_t)w.dents[i].data < b)
			violate(PROP_SAFE, "%s %s() frees the data of debugfs file '%s', which is "
				"still there (reading it would use freed memory)", me(), how,
				w.dents[i].name);
}
