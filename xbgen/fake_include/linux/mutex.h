/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _XBGEN_LINUX_MUTEX_H
#define _XBGEN_LINUX_MUTEX_H

struct mutex {
	int locked;
};

void mutex_init(struct mutex *lock);
void mutex_lock(struct mutex *lock);
int mutex_lock_interruptible(struct mutex *lock);
void mutex_unlock(struct mutex *lock);

#endif
