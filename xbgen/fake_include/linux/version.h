/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _XBGEN_LINUX_VERSION_H
#define _XBGEN_LINUX_VERSION_H

#define KERNEL_VERSION(a, b, c) (((a) << 16) + ((b) << 8) + ((c) > 255 ? 255 : (c)))
/* `xbgen check` passes -DLINUX_VERSION_CODE=... to try each side of a guard. */
#ifndef LINUX_VERSION_CODE
#define LINUX_VERSION_CODE KERNEL_VERSION(6, 1, 0)
#endif

#endif
