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
	w.grants[slot].ro = 0;
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

/* The grant's hold on @page goes: a reference of alloc_page()'s, or the page. */
static void end_page(void *page)
{
	struct alloc *a = alloc_holding(page, 1);

	if (a && a->kind == K_PAGES && a->refs)
		put_page(page);
	else
		pages_put(page, XEN_PAGE_SIZE, "gnttab_end_foreign_access");
}

#ifdef XBGEN_GNTTAB_END_PAGE
void gnttab_end_foreign_access(grant_ref_t ref, struct page *page)
{
	end_grant(ref);
	if (page && !w.prop)
		end_page(page);
}
#else
void gnttab_end_foreign_access(grant_ref_t ref, int readonly, unsigned long page)
{
	(void)readonly;
	end_grant(ref);
	if (page && !w.prop)
		end_page((void *)page);
}
#endif

/*
 * gnttab_grant_foreign_access(): @frame is a frame number (the page's
 * address over XEN_PAGE_SIZE: see page_to_xen_pfn()).
 */
int gnttab_grant_foreign_access(domid_t domid, unsigned long frame, int readonly)
{
	uint32_t ref;
	int err;

	api_call();
	err = grant_page(cur, domid, (unsigned char *)(uintptr_t)(frame << XEN_PAGE_SHIFT), &ref);
	if (err)
		return err;
	find_grant(dom_index(cur), ref)->ro = !!readonly;
	return (int)ref;
}

/* gnttab_grant_foreign_access_ref(): a reference the caller holds, granted anew. */
void gnttab_grant_foreign_access_ref(grant_ref_t ref, domid_t domid, unsigned long frame,
				     int readonly)
{
	struct grant *g = find_grant(dom_index(cur), ref);

	api_call();
	if (!g || g->used != 1) {
		violate(PROP_SAFE, "%s grants reference %u again, which it does not hold", me(), ref);
		return;
	}
	if (g->maps && g->gen == grant_gen(g->owner)) {
		violate(PROP_SAFE, "%s grants reference %u anew while dom%d maps it", me(), ref,
			g->to);
		return;
	}
	g->to = domid;
	g->page = (unsigned char *)(uintptr_t)(frame << XEN_PAGE_SHIFT);
	g->ro = !!readonly;
	g->gen = grant_gen(g->owner);
	trace("%s grants reference %u again, to dom%d", cur->name, ref, domid);
}

/* The page @owner granted the running domain as @ref, or NULL; *@st why not. */
static unsigned char *copy_page(domid_t owner, uint32_t ref, int write, int16_t *st)
{
	struct dom *o = dom_by_id(owner);
	struct grant *g;

	if (!o || !o->alive) {
		*st = -2;	/* GNTST_bad_domain */
		return NULL;
	}
	g = find_grant(dom_index(o), ref);
	if (!g || g->used != 1 || g->to != cur->id || g->gen != grant_gen(g->owner)) {
		*st = -3;	/* GNTST_bad_gntref */
		return NULL;
	}
	if (write && g->ro) {
		*st = -8;	/* GNTST_permission_denied */
		return NULL;
	}
	return g->page;
}

/* A frame of the running domain's own: its address. */
static unsigned char *own_page(unsigned long gmfn, int16_t *st)
{
	unsigned char *p = (unsigned char *)(uintptr_t)(gmfn << XEN_PAGE_SHIFT);
	struct alloc *a = alloc_holding(p, XEN_PAGE_SIZE);

	if (!a || a->dom != dom_index(cur)) {
		*st = -9;	/* GNTST_bad_page */
		return NULL;
	}
	return p;
}

/* GNTTABOP_copy, as Xen does it: each op checked, then copied, or its status says why not. */
void gnttab_batch_copy(struct gnttab_copy *batch, unsigned int count)
{
	unsigned int i;

	api_call();
	for (i = 0; i < count; i++) {
		struct gnttab_copy *op = &batch[i];
		unsigned char *src, *dst;
		int16_t st = 0;

		if (op->source.offset + op->len > XEN_PAGE_SIZE ||
		    op->dest.offset + op->len > XEN_PAGE_SIZE) {
			op->status = -10;	/* GNTST_bad_copy_arg */
			continue;
		}
		src = op->flags & GNTCOPY_source_gref ?
		      copy_page(op->source.domid, op->source.u.ref, 0, &st) :
		      own_page(op->source.u.gmfn, &st);
		dst = !src ? NULL : op->flags & GNTCOPY_dest_gref ?
		      copy_page(op->dest.domid, op->dest.u.ref, 1, &st) :
		      own_page(op->dest.u.gmfn, &st);
		if (src && dst)
			memmove(dst + op->dest.offset, src + op->source.offset, op->len);
		op->status = st;
		trace("%s copies %u bytes by grant: status %d", cur->name, op->len, st);
	}
}

/* The page gnttab_alloc_pages() gives: a page to map another's grant into. */
int gnttab_alloc_pages(int nr_pages, struct page **pages)
{
	int i;

	for (i = 0; i < nr_pages; i++) {
		pages[i] = alloc_pages_exact(XEN_PAGE_SIZE, GFP_KERNEL);
		if (!pages[i]) {
			gnttab_free_pages(i, pages);
			return -ENOMEM;
		}
	}
	return 0;
}

void gnttab_free_pages(int nr_pages, struct page **pages)
{
	int i;

	for (i = 0; i < nr_pages; i++)
		free_pages_exact(pages[i], XEN_PAGE_SIZE);
}

void gnttab_set_map_op(struct gnttab_map_grant_ref *map, unsigned long addr, u32 flags,
		       grant_ref_t ref, domid_t domid)
{
	memset(map, 0, sizeof(*map));
	map->host_addr = addr;
	map->flags = flags;
	map->ref = ref;
	map->dom = domid;
}

void gnttab_set_unmap_op(struct gnttab_unmap_grant_ref *unmap, unsigned long addr,
			 u32 flags, grant_handle_t handle)
{
	(void)flags;
	memset(unmap, 0, sizeof(*unmap));
	unmap->host_addr = addr;
	unmap->handle = handle;
}

/*
 * GNTTABOP_map_grant_ref, one op at a time as Xen checks them: the page
 * @pages[i] now shows the granting domain's page (a page here is its
 * address, so the page pointer itself moves to it and back at unmap).
 */
int gnttab_map_refs(struct gnttab_map_grant_ref *map_ops,
		    struct gnttab_map_grant_ref *kmap_ops, struct page **pages,
		    unsigned int count)
{
	struct dom *d = cur;
	unsigned int i;
	int k;

	(void)kmap_ops;
	api_call();
	hyp_point();
	for (i = 0; i < count; i++) {
		struct gnttab_map_grant_ref *op = &map_ops[i];
		struct dom *o = dom_by_id(op->dom);
		struct grant *g = o && o->alive && o != d ? find_grant(dom_index(o), op->ref) : NULL;
		int ro = !!(op->flags & GNTMAP_readonly);
		struct mapping *m;

		if (!g || g->used != 1 || g->to != d->id || g->gen != grant_gen(g->owner)) {
			op->status = -3;	/* GNTST_bad_gntref */
			trace("%s: mapping grant %u of dom%d fails: it is not granted to it",
			      d->name, op->ref, op->dom);
			continue;
		}
		if (g->ro && !ro) {
			op->status = -8;	/* GNTST_permission_denied */
			trace("%s: mapping grant %u of dom%d writable fails: it is read-only",
			      d->name, op->ref, op->dom);
			continue;
		}
		for (k = 0; k < MAX_MAPS && w.maps[k].used; k++)
			;
		if (k == MAX_MAPS)
			sim_limit("more than %d mappings", MAX_MAPS);
		m = &w.maps[k];
		memset(m, 0, sizeof(*m));
		m->used = 1;
		m->dom = (unsigned char)dom_index(d);
		m->owner = (unsigned char)dom_index(o);
		m->n = 1;
		m->module = (unsigned char)cur_t->in_module;
		m->gen = g->gen;
		m->ro = (unsigned char)ro;
		m->refs[0] = op->ref;
		m->vaddr = g->page;
		m->orig = pages[i];
		g->maps++;
		pages[i] = (struct page *)g->page;
		op->handle = (grant_handle_t)k;
		op->status = GNTST_okay;
		trace("%s maps grant %u of dom%d%s", d->name, op->ref, o->id, ro ? " read-only" : "");
	}
	return 0;
}

int gnttab_unmap_refs(struct gnttab_unmap_grant_ref *unmap_ops,
		      struct gnttab_unmap_grant_ref *kunmap_ops, struct page **pages,
		      unsigned int count)
{
	struct dom *d = cur;
	unsigned int i;

	(void)kunmap_ops;
	api_call();
	for (i = 0; i < count; i++) {
		struct gnttab_unmap_grant_ref *op = &unmap_ops[i];
		struct mapping *m = op->handle < MAX_MAPS ? &w.maps[op->handle] : NULL;
		struct grant *g;

		if (!m || !m->used || m->dom != dom_index(d) || !m->orig ||
		    (void *)pages[i] != m->vaddr) {
			violate(PROP_RESOURCES, "%s unmaps a grant it has not mapped (handle %u)",
				me(), op->handle);
			op->status = -1;
			continue;
		}
		trace("%s unmaps grant %u of dom%d", d->name, m->refs[0], w.dom[m->owner].id);
		g = find_mapped(m->owner, m->refs[0], m->gen);
		if (g) {
			g->maps--;
			if (g->used == 2 && !g->maps) {
				trace("dom%d's deferred end of grant %u completes%s",
				      w.dom[g->owner].id, g->ref,
				      g->zombie ? " (the old domain's entry goes)" : "");
				grant_drop(g);
			}
		}
		pages[i] = m->orig;
		m->used = 0;
		op->status = GNTST_okay;
	}
	return 0;
}

static int count_maps(int dom, int module)
{
	int i, n = 0;

	for (i = 0; i < MAX_MAPS; i++)
		n += w.maps[i].used && w.maps[i].dom == dom && w.maps[i].module == module;
	return n;
}
