/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _XBGEN_LINUX_SPINLOCK_H
#define _XBGEN_LINUX_SPINLOCK_H

#include <linux/types.h>

typedef struct {
	int locked;
} spinlock_t;

void spin_lock_init(spinlock_t *lock);
void spin_lock(spinlock_t *lock);
void spin_unlock(spinlock_t *lock);
void spin_lock_irq(spinlock_t *lock);
void spin_unlock_irq(spinlock_t *lock);
unsigned long __xbgen_spin_lock_irqsave(spinlock_t *lock);
#define spin_lock_irqsave(lock, flags) ((flags) = __xbgen_spin_lock_irqsave(lock))
void spin_unlock_irqrestore(spinlock_t *lock, unsigned long flags);

#endif
