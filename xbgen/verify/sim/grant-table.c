// SPDX-License-Identifier: GPL-2.0-only
/*
 * xbgen verify: drivers/xen/grant-table.c, and Xen's grant tables behind it.
 *
 * A grant table per domain: a granted page can be mapped by the domain it
 * is granted to; ending a grant that is still mapped is deferred until the
 * mapping goes, and the page lives until then.
 *
 * A save (toolstack.c) gives the guest a fresh table: Xen's entries of the
 * old domain go with it, but for those dom0 still maps (a zombie entry,
 * kept until dom0 unmaps it, invisible to the guest); the guest's own
 * bookkeeping of its references stays (Linux's free list is guest memory):
 * a reference of the old incarnation reads as not in use, so ending it
 * succeeds at once, and it can no longer be mapped.
 */
#include "sim_internal.h"

static int page_granted(const unsigned char *page, int only_active)
{
	int i;

	for (i = 0; i < MAX_GRANTS; i++)
		if (w.grants[i].used && w.grants[i].page == page &&
		    (!only_active || w.grants[i].used == 1))
			return 1;
	return 0;
}

/* The owner's own record of @ref (not an old domain's zombie entry). */
static struct grant *find_grant(int owner, uint32_t ref)
{
	int i;

	for (i = 0; i < MAX_GRANTS; i++)
		if (w.grants[i].used && w.grants[i].owner == owner && w.grants[i].ref == ref &&
		    !w.grants[i].zombie)
			return &w.grants[i];
	return NULL;
}

/* The owner's incarnation now: dom0 is never saved. */
static unsigned char grant_gen(int owner)
{
	return owner == SIM_DOMU ? w.gen : 0;
}

/* The entry a mapping of @owner's incarnation @gen holds. */
static struct grant *find_mapped(int owner, uint32_t ref, unsigned char gen)
{
	int i;

	for (i = 0; i < MAX_GRANTS; i++)
		if (w.grants[i].used && w.grants[i].owner == owner && w.grants[i].ref == ref &&
		    w.grants[i].gen == gen && w.grants[i].maps)
			return &w.grants[i];
	return NULL;
}

static int count_grants(int owner, int module, uint32_t *first)
{
	int i, n = 0;

	for (i = 0; i < MAX_GRANTS; i++)
		if (w.grants[i].used == 1 && w.grants[i].owner == owner &&
		    w.grants[i].module == module) {
			if (!n && first)
				*first = w.grants[i].ref;
			n++;
		}
	return n;
}

/* gnttab_grant_foreign_access(): the lowest free reference past the reserved ones. */
static int grant_page(struct dom *d, int to, unsigned char *page, uint32_t *ref)
{
	uint32_t r;
	int i, slot = -1;

	for (i = 0; i < MAX_GRANTS; i++)
		if (!w.grants[i].used) {
			slot = i;
			break;
		}
	if (slot < 0)
		return -ENOSPC;
	for (r = FIRST_GREF; find_grant(dom_index(d), r); r++)
		;
	w.grants[slot].ref = r;
	w.grants[slot].used = 1;
	w.grants[slot].owner = (unsigned char)dom_index(d);
	w.grants[slot].maps = 0;
	w.grants[slot].module = cur_t ? (unsigned char)cur_t->in_module : 0;
	w.grants[slot].to = to;
	w.grants[slot].page = page;
	w.grants[slot].gen = grant_gen(dom_index(d));
	w.grants[slot].zombie = 0;
	*ref = r;
	trace("%s grants a page to dom%d: grant %u", d->name, to, r);
	return 0;
}

static void grant_drop(struct grant *g)
{
	struct alloc *a = alloc_holding(g->page, 1);

	g->used = 0;
	if (a && a->kind == K_PAGES)
		page_release(a);
}

/* gnttab_end_foreign_access(): at once, or once the grantee unmaps it. */
static void end_grant(uint32_t ref)
{
	struct dom *d = cur;
	struct grant *g = find_grant(dom_index(d), ref);

	api_call();
	if (!g || g->used != 1) {
		violate(PROP_RESOURCES, "%s ends grant %u, which %s", me(), ref,
			g ? "it has already ended (ended twice)" : "is not granted");
		return;
	}
	if (g->gen != grant_gen(g->owner)) {
		trace("%s ends grant %u: the old domain's, not in use in the new table", d->name,
		      ref);
		grant_drop(g);
		return;
	}
	if (g->maps) {
		g->used = 2;
		trace("%s ends grant %u: deferred, dom%d still maps it", d->name, ref, g->to);
		return;
	}
	trace("%s ends grant %u", d->name, ref);
	grant_drop(g);
}

#ifdef XBGEN_GNTTAB_END_PAGE
void gnttab_end_foreign_access(grant_ref_t ref, struct page *page)
{
	end_grant(ref);
	if (page && !w.prop)
		pages_put((void *)page, XEN_PAGE_SIZE, "gnttab_end_foreign_access");
}
#else
void gnttab_end_foreign_access(grant_ref_t ref, int readonly, unsigned long page)
{
	(void)readonly;
	end_grant(ref);
	if (page && !w.prop)
		pages_put((void *)page, XEN_PAGE_SIZE, "gnttab_end_foreign_access");
}
#endif

static int count_maps(int dom, int module)
{
	int i, n = 0;

	for (i = 0; i < MAX_MAPS; i++)
		n += w.maps[i].used && w.maps[i].dom == dom && w.maps[i].module == module;
	return n;
}
