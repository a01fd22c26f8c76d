/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _XBGEN_LINUX_FREEZER_H
#define _XBGEN_LINUX_FREEZER_H

#include <linux/types.h>

/*
 * A kernel thread's point where it may be frozen for a suspend; true when
 * it was (and has thawed).  xbgen verify's threads are frozen where they
 * are (the guest's user tasks, for a save), so this one is never reached
 * frozen: false.
 */
bool try_to_freeze(void);

#endif
