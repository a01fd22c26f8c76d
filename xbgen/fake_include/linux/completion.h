/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _XBGEN_LINUX_COMPLETION_H
#define _XBGEN_LINUX_COMPLETION_H

struct completion {
	unsigned int done;
};

void init_completion(struct completion *x);
void reinit_completion(struct completion *x);
void complete(struct completion *x);
unsigned long wait_for_completion_timeout(struct completion *x, unsigned long timeout);
/* 0 on timeout, -ERESTARTSYS on a fatal signal, else the jiffies left. */
long wait_for_completion_killable_timeout(struct completion *x, unsigned long timeout);

#endif
