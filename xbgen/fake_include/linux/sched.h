/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _XBGEN_LINUX_SCHED_H
#define _XBGEN_LINUX_SCHED_H

int __xbgen_cond_resched(void);
#define cond_resched() __xbgen_cond_resched()

struct task_struct;
struct task_struct *__xbgen_current(void);
#define current __xbgen_current()

#endif
