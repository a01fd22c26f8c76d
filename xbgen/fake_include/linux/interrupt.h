/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _XBGEN_LINUX_INTERRUPT_H
#define _XBGEN_LINUX_INTERRUPT_H

enum irqreturn {
	IRQ_NONE = 0,
	IRQ_HANDLED = 1,
	IRQ_WAKE_THREAD = 2
};
typedef enum irqreturn irqreturn_t;
typedef irqreturn_t (*irq_handler_t)(int irq, void *dev_id);

void disable_irq(unsigned int irq);
void enable_irq(unsigned int irq);

#endif
