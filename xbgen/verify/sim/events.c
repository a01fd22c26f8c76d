// SPDX-License-Identifier: GPL-2.0-only
/*
 * xbgen verify: event channels and their irqs (drivers/xen/events/
 * events_base.c, kernel/irq/manage.c, and Xen's event channels behind them).
 *
 * Event channels per domain: an unbound port allocated for a remote domain,
 * an interdomain binding to such a port, irqs bound to ports; closing a port
 * leaves the remote end unbound; lateeoi channels stay masked from an event
 * until its EOI.  After a save the guest's irqs stay (xen_irq_resume()) but
 * their event channels went with the old domain (port 0 here, as Linux's
 * invalid evtchn): unbinding one closes nothing, notifying on it does
 * nothing, and no event reaches it.
 */
#include "sim_internal.h"

static struct port *port_of(struct dom *d, unsigned int port)
{
	if (!port || port >= MAX_PORTS || w.ports[dom_index(d)][port].state == P_FREE)
		return NULL;
	return &w.ports[dom_index(d)][port];
}

static int alloc_port(struct dom *d, int state, int rdom, int rport)
{
	int p;

	for (p = 1; p < MAX_PORTS; p++) {
		struct port *x = &w.ports[dom_index(d)][p];

		if (x->state == P_FREE) {
			memset(x, 0, sizeof(*x));
			x->state = (unsigned char)state;
			x->rdom = rdom;
			x->rport = rport;
			x->irq = -1;
			x->module = cur_t ? (unsigned char)cur_t->in_module : 0;
			return p;
		}
	}
	return -ENOSPC;
}

/* The remote end of @d's interdomain port @p, while it is bound to it. */
static inline struct port *peer_port(struct dom *d, int p)
{
	struct port *x = &w.ports[dom_index(d)][p];
	struct dom *r;
	struct port *y;

	if (x->state != P_INTERDOMAIN)
		return NULL;
	r = dom_by_id(x->rdom);
	y = r && r->alive ? port_of(r, (unsigned int)x->rport) : NULL;
	if (y && y->state == P_INTERDOMAIN && y->rdom == d->id && y->rport == p)
		return y;
	return NULL;
}

/* EVTCHNOP_close: the remote end of an interdomain channel goes back to unbound. */
static void close_port(struct dom *d, int p)
{
	struct port *x = &w.ports[dom_index(d)][p];
	struct port *y = peer_port(d, p);

	if (y) {
		y->state = P_UNBOUND;
		y->rport = 0;
	}
	trace("%s closes event channel %d", d->name, p);
	memset(x, 0, sizeof(*x));
	x->irq = -1;
}

static int bind_irq(struct dom *d, int p, irq_handler_t handler, void *dev_id)
{
	struct irqrec *q;
	int i;

	for (i = 0; i < MAX_IRQS; i++)
		if (!w.irqs[dom_index(d)][i].used)
			break;
	if (i == MAX_IRQS)
		return -ENOSPC;
	q = &w.irqs[dom_index(d)][i];
	memset(q, 0, sizeof(*q));
	q->used = 1;
	q->module = cur_t ? (unsigned char)cur_t->in_module : 0;
	q->port = p;
	q->handler = handler;
	q->dev_id = dev_id;
	w.ports[dom_index(d)][p].irq = (signed char)i;
	trace("%s binds event channel %d to irq %d", d->name, p, IRQ_BASE + i);
	step_result(IRQ_BASE + i);
	return IRQ_BASE + i;
}

int bind_evtchn_to_irqhandler_lateeoi(evtchn_port_t evtchn, irq_handler_t handler,
				      unsigned long irqflags, const char *devname,
				      void *dev_id)
{
	struct dom *d = cur;
	struct port *x;

	api_call();
	(void)irqflags;
	(void)devname;
	may_sleep("binding an irq");
	x = port_of(d, evtchn);
	if (!x) {
		violate(PROP_RESOURCES, "%s binds event channel %u, which is not open", me(), evtchn);
		return -EINVAL;
	}
	if (x->irq >= 0) {
		violate(PROP_RESOURCES, "%s binds event channel %u, which is already bound to irq %d",
			me(), evtchn, IRQ_BASE + x->irq);
		return -EBUSY;
	}
	if (fault_here("binding an irq"))
		return -ENOMEM;
	return bind_irq(d, (int)evtchn, handler, dev_id);
}

static int bind_interdomain(int remote_domain, evtchn_port_t remote_port, irq_handler_t handler,
			    void *dev_id)
{
	struct dom *d = cur, *r;
	struct port *y;
	int p;

	api_call();
	may_sleep("binding an irq");
	if (fault_here("binding an irq"))
		return -ENOMEM;
	hyp_point();
	r = dom_by_id(remote_domain);
	if (!r || !r->alive || r == d) {
		trace("%s: EVTCHNOP_bind_interdomain: dom%d does not exist", d->name, remote_domain);
		step_result(-ESRCH);
		cur_t->excused = 1;
		return -ESRCH;
	}
	y = port_of(r, remote_port);
	if (!y || y->state != P_UNBOUND || y->rdom != d->id) {
		trace("%s: EVTCHNOP_bind_interdomain: dom%d's port %u is not open for it",
		      d->name, remote_domain, remote_port);
		step_result(-EINVAL);
		cur_t->excused = 1;
		return -EINVAL;
	}
	p = alloc_port(d, P_INTERDOMAIN, remote_domain, (int)remote_port);
	if (p < 0)
		return p;
	y->state = P_INTERDOMAIN;
	y->rport = p;
	/*
	 * Xen raises an event on the new port at once, for any notification
	 * lost while the remote port was unbound; the irq is unmasked before
	 * the bind returns, and returning may sleep: the handler can run before
	 * the caller has stored the irq number.
	 */
	w.ports[dom_index(d)][p].pending = 1;
	trace("%s binds event channel %d to dom%d's %u (an event is pending on it)", d->name, p,
	      remote_domain, remote_port);
	p = bind_irq(d, p, handler, dev_id);
	hyp_point();
	return p;
}

/* Since 5.12 the caller passes its device, before the remote domain's id. */
#ifdef XBGEN_EVTCHN_BIND_DEV
#define REMOTE_PARAM	struct xenbus_device *dev
#define REMOTE_DOMID	dev->otherend_id
#else
#define REMOTE_PARAM	unsigned int remote_domain
#define REMOTE_DOMID	(int)remote_domain
#endif

int bind_interdomain_evtchn_to_irqhandler_lateeoi(REMOTE_PARAM, evtchn_port_t remote_port,
						  irq_handler_t handler,
						  unsigned long irqflags,
						  const char *devname, void *dev_id)
{
	(void)irqflags;
	(void)devname;
	return bind_interdomain(REMOTE_DOMID, remote_port, handler, dev_id);
}

static struct irqrec *irq_of(struct dom *d, unsigned int irq)
{
	if (irq < IRQ_BASE || irq >= IRQ_BASE + MAX_IRQS ||
	    !w.irqs[dom_index(d)][irq - IRQ_BASE].used)
		return NULL;
	return &w.irqs[dom_index(d)][irq - IRQ_BASE];
}

void unbind_from_irqhandler(unsigned int irq, void *dev_id)
{
	struct dom *d = cur;
	struct irqrec *q;
	int p;

	api_call();
	may_sleep("unbind_from_irqhandler()");
	q = irq_of(d, irq);
	if (!q) {
		violate(PROP_RESOURCES, "%s unbinds irq %u, which is not bound (unbound twice?)",
			me(), irq);
		return;
	}
	if (q->dev_id != dev_id) {
		violate(PROP_RESOURCES, "%s unbinds irq %u with a dev_id it was not bound with",
			me(), irq);
		return;
	}
	p = q->port;
	memset(q, 0, sizeof(*q));
	if (!p) {
		trace("%s unbinds irq %u (its event channel went with the old domain)", d->name,
		      irq);
		return;
	}
	trace("%s unbinds irq %u", d->name, irq);
	w.ports[dom_index(d)][p].irq = -1;
	close_port(d, p);
}

/* Raise the event on the remote end of @d's port @p. */
static void signal_port(struct dom *d, int p)
{
	struct port *y = peer_port(d, p);

	if (y)
		y->pending = 1;
}

void notify_remote_via_irq(int irq)
{
	struct dom *d = cur;
	struct irqrec *q;

	api_call();
	q = irq < 0 ? NULL : irq_of(d, (unsigned int)irq);
	if (!q) {
		violate(PROP_RESOURCES, "%s notifies via irq %d, which is not bound", me(), irq);
		return;
	}
	if (!q->port) {
		trace("%s notifies via irq %d: its event channel went with the old domain", d->name,
		      irq);
		return;
	}
	trace("%s notifies the other end (irq %d)", d->name, irq);
	signal_port(d, q->port);
}

void disable_irq(unsigned int irq)
{
	struct irqrec *q;

	api_call();
	q = irq_of(cur, irq);
	if (!q) {
		violate(PROP_RESOURCES, "%s disables irq %u, which is not bound", me(), irq);
		return;
	}
	may_sleep("disable_irq()");
	q->disabled++;
}

void enable_irq(unsigned int irq)
{
	struct irqrec *q;

	api_call();
	q = irq_of(cur, irq);
	if (!q || !q->disabled) {
		violate(PROP_RESOURCES, "%s enables irq %u, which is %s", me(), irq,
			q ? "not disabled (unbalanced enable)" : "not bound");
		return;
	}
	q->disabled--;
}

void xen_irq_lateeoi(unsigned int irq, unsigned int eoi_flags)
{
	struct irqrec *q;

	api_call();
	(void)eoi_flags;
	q = irq_of(cur, irq);
	if (!q) {
		violate(PROP_RESOURCES, "%s sends an EOI for irq %u, which is not bound", me(), irq);
		return;
	}
	q->masked = 0;
}

/* The first irq of @d with an event it may take now, or -1. */
static int pending_irq(struct dom *d)
{
	int i, di = dom_index(d);

	for (i = 0; i < MAX_IRQS; i++) {
		struct irqrec *q = &w.irqs[di][i];

		if (q->used && q->port && !q->disabled && !q->masked && w.ports[di][q->port].pending)
			return i;
	}
	return -1;
}

/* A port of @d connected to a port of the other domain that has no event pending. */
static int signal_port_of(struct dom *d)
{
	int p;

	for (p = 1; p < MAX_PORTS; p++) {
		struct port *y = peer_port(d, p);

		if (y && !y->pending)
			return p;
	}
	return -1;
}
