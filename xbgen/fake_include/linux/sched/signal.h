/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _XBGEN_LINUX_SCHED_SIGNAL_H
#define _XBGEN_LINUX_SCHED_SIGNAL_H

#include <linux/sched.h>

/* SIGKILL is pending for @p: every killable wait ends. */
int fatal_signal_pending(struct task_struct *p);

#endif
