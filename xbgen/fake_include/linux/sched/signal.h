/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _XBGEN_LINUX_SCHED_SIGNAL_H
#define _XBGEN_LINUX_SCHED_SIGNAL_H

#include <linux/sched.h>

#endif
