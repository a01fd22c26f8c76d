// SPDX-License-Identifier: GPL-2.0-only
/*
 * xbgen verify: drivers/xen/xenbus/xenbus_client.c: state switches, error
 * reports, granting and mapping rings, allocating event channels.
 *
 *  - xenbus_switch_state() returns 0 even when its transaction failed, and
 *    then leaves dev->state alone (the failure goes to xenbus_dev_fatal).
 */
#include "sim_internal.h"

static const char *const state_names[] = {
	"Unknown", "Initialising", "InitWait", "Initialised", "Connected",
	"Closing", "Closed", "Reconfiguring", "Reconfigured",
};

const char *xenbus_strstate(enum xenbus_state state)
{
	if ((unsigned int)state < sizeof(state_names) / sizeof(state_names[0]))
		return state_names[state];
	return "INVALID";
}

static void dev_error(struct xenbus_device *xb, int err, const char *fmt, va_list ap,
		      const char *what)
{
	char buf[300];
	struct dom *d = cur;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	trace("%s %s: %d %s", d ? d->name : "?", what, err, buf);
	(void)xb;
	/* the error node write: the only effect is that it may fail */
	if (d)
		xs_point(0);
}

void xenbus_dev_error(struct xenbus_device *xb, int err, const char *fmt, ...)
{
	va_list ap;

	api_call();
	va_start(ap, fmt);
	dev_error(xb, err, fmt, ap, "xenbus_dev_error");
	va_end(ap);
}

void xenbus_dev_fatal(struct xenbus_device *xb, int err, const char *fmt, ...)
{
	va_list ap;
	char buf[300];
	struct dom *d = cur;

	api_call();
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/*
	 * A fatal error is a bug on a legal schedule, unless the other end
	 * withdrew the grant or event channel this thread was taking: a race
	 * no driver can close (what follows is judged by the goals).
	 */
	if (!(cur_t && cur_t->core) && !(w.flags & SF_TAINTED) && !(cur_t && cur_t->excused))
		violate(PROP_SAFE, "xenbus_dev_fatal(%d, \"%s\") in the %s on a legal schedule",
			err, buf, d ? d->side : "?");
	trace("%s xenbus_dev_fatal: %d %s", d ? d->name : "?", err, buf);
	if (d)
		xs_point(0);
	if (dom_of(xb))
		core_switch(dom_of(xb)->dev, XenbusStateClosing, 0);
}

/* __xenbus_switch_state(): one transaction; returns nothing useful. */
static void core_switch(struct simdev *sd, enum xenbus_state state, int depth)
{
	struct dom *d = cur;
	char val[16];
	int old;

	if (sd->xb.state == state)
		return;
	xs_point(1);
	if (write_fails(d)) {
		trace("%s: xenstore transaction fails (planted) switching to %s",
		      d->name, xenbus_strstate(state));
		step_result(-EIO);
		/* xenbus_switch_fatal(): report, then try Closing once */
		if (!depth) {
			cur_t->core++;
			xs_point(0);	/* the error node */
			cur_t->core--;
			core_switch(sd, XenbusStateClosing, 1);
		}
		return;
	}
	if (xs_read_int(sd->nodename, "state", &old)) {
		/* the node is gone: do not resurrect it, remember the state */
		step_result(-ENOENT);
		sd->xb.state = state;
		return;
	}
	snprintf(val, sizeof(val), "%d", state);
	{
		char path[SIM_PATH + 8];

		snprintf(path, sizeof(path), "%s/state", sd->nodename);
		trace("%s writes %s = %s (%s)", d ? d->name : "?", path, val,
		      xenbus_strstate(state));
		xs_write(path, val);
	}
	step_result(state);
	sd->xb.state = state;
}

int xenbus_switch_state(struct xenbus_device *xb, enum xenbus_state state)
{
	struct dom *d;

	api_call();
	d = dom_of(xb);
	if (d)
		core_switch(d->dev, state, 0);
	return 0;
}

int xenbus_frontend_closed(struct xenbus_device *xb)
{
	api_call();
	return xenbus_switch_state(xb, XenbusStateClosed);
}

/* gnttab_alloc_grant_references() + claim + grant, as xenbus_client.c does. */
static int grant_pages(struct xenbus_device *dev, unsigned char *vaddr, unsigned int nr_pages,
		       grant_ref_t *grefs)
{
	unsigned int i;
	int err = 0;

	if (fault_here("granting the ring"))
		err = -ENOSPC;
	for (i = 0; !err && i < nr_pages; i++) {
		err = grant_page(cur, dev->otherend_id, vaddr + i * XEN_PAGE_SIZE, &grefs[i]);
		if (err)
			while (i--)
				end_grant(grefs[i]);
	}
	if (err) {
		cur_t->core++;
		xenbus_dev_fatal(dev, err, "granting access to %u ring pages", nr_pages);
		cur_t->core--;
	}
	return err;
}

#ifdef XBGEN_XENBUS_SETUP_RING
int xenbus_setup_ring(struct xenbus_device *dev, gfp_t gfp, void **vaddr,
		      unsigned int nr_pages, grant_ref_t *grefs)
{
	unsigned int i;
	int err;

	api_call();
	*vaddr = alloc_pages_exact(nr_pages * XEN_PAGE_SIZE, gfp | __GFP_ZERO);
	if (!*vaddr) {
		err = -ENOMEM;
		goto fail;
	}
	err = grant_pages(dev, *vaddr, nr_pages, grefs);
	if (err)
		goto fail;
	return 0;
fail:
	if (*vaddr)
		free_pages_exact(*vaddr, nr_pages * XEN_PAGE_SIZE);
	for (i = 0; i < nr_pages; i++)
		grefs[i] = INVALID_GREF;
	*vaddr = NULL;
	return err;
}

void xenbus_teardown_ring(void **vaddr, unsigned int nr_pages, grant_ref_t *grefs)
{
	unsigned int i;

	api_call();
	for (i = 0; i < nr_pages && !w.prop; i++) {
		if (grefs[i] != INVALID_GREF) {
			end_grant(grefs[i]);
			grefs[i] = INVALID_GREF;
		}
	}
	if (*vaddr && !w.prop)
		free_pages_exact(*vaddr, nr_pages * XEN_PAGE_SIZE);
	*vaddr = NULL;
}
#else
int xenbus_grant_ring(struct xenbus_device *dev, void *vaddr, unsigned int nr_pages,
		      grant_ref_t *grefs)
{
	api_call();
	return grant_pages(dev, vaddr, nr_pages, grefs);
}
#endif

int xenbus_map_ring_valloc(struct xenbus_device *dev, grant_ref_t *gnt_refs,
			   unsigned int nr_grefs, void **vaddr)
{
	struct dom *d = cur, *owner;
	struct grant *g[RING_PAGES_MAX];
	struct mapping *m;
	unsigned int i;

	api_call();
	may_sleep("xenbus_map_ring_valloc()");
	*vaddr = NULL;
	if (nr_grefs > RING_PAGES_MAX)
		return -EINVAL;
	if (fault_here("an allocation (xenbus_map_ring_valloc)"))
		return -ENOMEM;
	hyp_point();
	owner = dom_by_id(dev->otherend_id);
	for (i = 0; i < nr_grefs; i++) {
		g[i] = owner && owner != d ? find_grant(dom_index(owner), gnt_refs[i]) : NULL;
		if (!g[i] || g[i]->to != d->id || g[i]->gen != grant_gen(g[i]->owner) ||
		    (i && g[i]->page != g[0]->page + i * XEN_PAGE_SIZE)) {
			trace("%s: mapping grant %u of dom%d fails: it is not granted to it",
			      d->name, gnt_refs[i], dev->otherend_id);
			step_result(-ENOENT);
			cur_t->excused = 1;
			cur_t->core++;
			xenbus_dev_fatal(dev, -1, "mapping in shared page %d from domain %d",
					 gnt_refs[i], dev->otherend_id);
			cur_t->core--;
			return -ENOENT;
		}
	}
	for (i = 0; i < MAX_MAPS && w.maps[i].used; i++)
		;
	if (i == MAX_MAPS)
		sim_limit("more than %d ring mappings", MAX_MAPS);
	m = &w.maps[i];
	memset(m, 0, sizeof(*m));
	m->used = 1;
	m->dom = (unsigned char)dom_index(d);
	m->owner = (unsigned char)dom_index(owner);
	m->n = (unsigned char)nr_grefs;
	m->module = (unsigned char)cur_t->in_module;
	m->gen = g[0]->gen;
	for (i = 0; i < nr_grefs; i++) {
		m->refs[i] = gnt_refs[i];
		g[i]->maps++;
	}
	m->vaddr = g[0]->page;
	*vaddr = m->vaddr;
	step_result(0);
	trace("%s maps grant %u of dom%d", d->name, gnt_refs[0], owner->id);
	/* both domains now share memory: their threads see each other's writes */
	return 0;
}

int xenbus_unmap_ring_vfree(struct xenbus_device *dev, void *vaddr)
{
	struct dom *d = cur;
	struct mapping *m = NULL;
	unsigned int i;

	api_call();
	(void)dev;
	may_sleep("xenbus_unmap_ring_vfree()");
	for (i = 0; i < MAX_MAPS; i++)
		if (w.maps[i].used && w.maps[i].dom == dom_index(d) && w.maps[i].vaddr == vaddr &&
		    !w.maps[i].orig) {
			m = &w.maps[i];
			break;
		}
	if (!m) {
		violate(PROP_RESOURCES, "%s unmaps %s, which it has not mapped (unmapped twice?)",
			me(), vaddr ? "a ring" : "NULL");
		return -ENOENT;
	}
	trace("%s unmaps grant %u of dom%d", d->name, m->refs[0], w.dom[m->owner].id);
	for (i = 0; i < m->n; i++) {
		struct grant *g = find_mapped(m->owner, m->refs[i], m->gen);

		if (g) {
			g->maps--;
			if (g->used == 2 && !g->maps) {
				trace("dom%d's deferred end of grant %u completes%s",
				      w.dom[g->owner].id, g->ref,
				      g->zombie ? " (the old domain's entry goes)" : "");
				grant_drop(g);
			}
		}
	}
	m->used = 0;
	return 0;
}

int xenbus_alloc_evtchn(struct xenbus_device *dev, evtchn_port_t *port)
{
	struct dom *d = cur;
	int p;

	api_call();
	p = fault_here("allocating an event channel") ? -ENOSPC :
	    alloc_port(d, P_UNBOUND, dev->otherend_id, 0);
	if (p < 0) {
		cur_t->core++;
		xenbus_dev_fatal(dev, p, "allocating event channel");
		cur_t->core--;
		return p;
	}
	*port = (evtchn_port_t)p;
	trace("%s allocates event channel %d for dom%d", d->name, p, dev->otherend_id);
	step_result(p);
	return 0;
}

int xenbus_free_evtchn(struct xenbus_device *dev, evtchn_port_t port)
{
	struct dom *d = cur;
	struct port *x;

	api_call();
	(void)dev;
	x = port_of(d, port);
	if (!x) {
		violate(PROP_RESOURCES, "%s closes event channel %u, which is not open (closed twice?)",
			me(), port);
		return -EINVAL;
	}
	if (x->irq >= 0) {
		violate(PROP_RESOURCES,
			"%s closes event channel %u, which irq %d is still bound to "
			"(unbind_from_irqhandler() closes it)", me(), port, IRQ_BASE + x->irq);
		return -EINVAL;
	}
	close_port(d, (int)port);
	return 0;
}
