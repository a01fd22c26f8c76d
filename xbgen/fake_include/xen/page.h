/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _XBGEN_XEN_PAGE_H
#define _XBGEN_XEN_PAGE_H

#define XEN_PAGE_SHIFT	12
#define XEN_PAGE_SIZE	(1UL << XEN_PAGE_SHIFT)

#endif
