/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _XBGEN_XEN_EVENTS_H
#define _XBGEN_XEN_EVENTS_H

#include <linux/interrupt.h>

typedef unsigned int evtchn_port_t;
struct xenbus_device;

int bind_evtchn_to_irqhandler_lateeoi(evtchn_port_t evtchn, irq_handler_t handler,
				      unsigned long irqflags, const char *devname,
				      void *dev_id);
/* The generated Kbuild defines this from the target kernel's own header. */
#ifdef XBGEN_EVTCHN_BIND_DEV
int bind_interdomain_evtchn_to_irqhandler_lateeoi(struct xenbus_device *dev,
						  evtchn_port_t remote_port,
						  irq_handler_t handler,
						  unsigned long irqflags,
						  const char *devname, void *dev_id);
#else
int bind_interdomain_evtchn_to_irqhandler_lateeoi(unsigned int remote_domain,
						  evtchn_port_t remote_port,
						  irq_handler_t handler,
						  unsigned long irqflags,
						  const char *devname, void *dev_id);
#endif
void unbind_from_irqhandler(unsigned int irq, void *dev_id);
void notify_remote_via_irq(int irq);
void xen_irq_lateeoi(unsigned int irq, unsigned int eoi_flags);
#define XEN_EOI_FLAG_SPURIOUS	0x00000001

#endif
