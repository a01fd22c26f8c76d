/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _XBGEN_XEN_GRANT_TABLE_H
#define _XBGEN_XEN_GRANT_TABLE_H

#include <linux/types.h>

typedef u32 grant_ref_t;
typedef u32 grant_handle_t;
struct page;

/* The generated Kbuild defines this from the target kernel's own header. */
#ifdef XBGEN_GNTTAB_END_PAGE
void gnttab_end_foreign_access(grant_ref_t ref, struct page *page);
#else
void gnttab_end_foreign_access(grant_ref_t ref, int readonly, unsigned long page);
#endif

#endif
