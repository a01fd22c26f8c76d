/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _XBGEN_LINUX_MINMAX_H
#define _XBGEN_LINUX_MINMAX_H

/* The real ones use statement expressions; these evaluate twice. */
#define min(x, y)		((x) < (y) ? (x) : (y))
#define max(x, y)		((x) > (y) ? (x) : (y))
#define min_t(type, x, y)	((type)(x) < (type)(y) ? (type)(x) : (type)(y))
#define max_t(type, x, y)	((type)(x) > (type)(y) ? (type)(x) : (type)(y))

#endif
