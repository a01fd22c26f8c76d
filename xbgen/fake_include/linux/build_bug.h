/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _XBGEN_LINUX_BUILD_BUG_H
#define _XBGEN_LINUX_BUILD_BUG_H

#define static_assert(expr) _Static_assert(expr, #expr)

#endif
