/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _XBGEN_LINUX_FREEZER_H
#define _XBGEN_LINUX_FREEZER_H

#include <linux/types.h>

/* xbgen verify freezes no task: saving a guest is a move of its own */
bool __xbgen_try_to_freeze(void);
#define try_to_freeze() __xbgen_try_to_freeze()

#endif
