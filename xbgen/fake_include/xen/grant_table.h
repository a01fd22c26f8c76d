/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _XBGEN_XEN_GRANT_TABLE_H
#define _XBGEN_XEN_GRANT_TABLE_H

#include <linux/types.h>

typedef u32 grant_ref_t;
typedef u32 grant_handle_t;
typedef u16 domid_t;
typedef unsigned long xen_pfn_t;
struct page;

#define DOMID_SELF		((domid_t)0x7FF0U)
#define GNTCOPY_source_gref	(1 << 0)
#define GNTCOPY_dest_gref	(1 << 1)
#define GNTST_okay		(0)
#define GNTST_general_error	(-1)
#define GNTMAP_host_map		(1 << 1)
#define GNTMAP_readonly		(1 << 2)

struct gnttab_map_grant_ref {
	u64 host_addr;
	u32 flags;
	grant_ref_t ref;
	domid_t dom;
	s16 status;
	grant_handle_t handle;
	u64 dev_bus_addr;
};

struct gnttab_unmap_grant_ref {
	u64 host_addr;
	u64 dev_bus_addr;
	grant_handle_t handle;
	s16 status;
};


struct gnttab_copy {
	struct {
		union {
			grant_ref_t ref;
			xen_pfn_t gmfn;
		} u;
		domid_t domid;
		u16 offset;
	} source, dest;
	u16 len;
	u16 flags;
	s16 status;
};

/* The generated Kbuild defines this from the target kernel's own header. */
#ifdef XBGEN_GNTTAB_END_PAGE
void gnttab_end_foreign_access(grant_ref_t ref, struct page *page);
#else
void gnttab_end_foreign_access(grant_ref_t ref, int readonly, unsigned long page);
#endif
int gnttab_grant_foreign_access(domid_t domid, unsigned long frame, int readonly);
void gnttab_grant_foreign_access_ref(grant_ref_t ref, domid_t domid, unsigned long frame,
				     int readonly);
void gnttab_batch_copy(struct gnttab_copy *batch, unsigned int count);

/* Pages of our own to map others' grants into (ballooned out). */
int gnttab_alloc_pages(int nr_pages, struct page **pages);
void gnttab_free_pages(int nr_pages, struct page **pages);
void gnttab_set_map_op(struct gnttab_map_grant_ref *map, unsigned long addr, u32 flags,
		       grant_ref_t ref, domid_t domid);
void gnttab_set_unmap_op(struct gnttab_unmap_grant_ref *unmap, unsigned long addr,
			 u32 flags, grant_handle_t handle);
int gnttab_map_refs(struct gnttab_map_grant_ref *map_ops,
		    struct gnttab_map_grant_ref *kmap_ops, struct page **pages,
		    unsigned int count);
int gnttab_unmap_refs(struct gnttab_unmap_grant_ref *unmap_ops,
		      struct gnttab_unmap_grant_ref *kunmap_ops, struct page **pages,
		      unsigned int count);

#endif
