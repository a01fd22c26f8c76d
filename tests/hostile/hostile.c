// SPDX-License-Identifier: GPL-2.0-only
/*
 * hostile.c - a malicious frontend for a backend that xbgen generated.
 *
 * Test-only: the hostile-frontend test builds it against the tree under
 * test and loads it in the guest beside the tree's own (healthy) frontend.
 * It drives one device of the same type as the tree (XBH_TYPE) and, with
 * the ring layout of the tree's own include/XBH_TYPE_ring.h, breaks the
 * ring protocol in the one way the "mode" parameter names:
 *
 *   ungranted-ref   publish a ring-ref it never granted
 *   bad-evtchn      publish an event channel that is not allocated
 *   order-too-big   ring-page-order above the backend's max-ring-page-order
 *                   (with that many granted pages and their refs)
 *   prod-overflow   once Connected, set req_prod far past the ring, notify
 *   rewrite         push requests and keep rewriting them (and, in the
 *                   second half, the producer index) while the backend works
 *   event-storm     once Connected, notify without requests for storm_s
 *   reconnect       prod-overflow, but on each cut-off write our state
 *                   Connected again (up to "reconnects" times), keeping the
 *                   ring and the event channel: is the cut-off final?
 *   full-batches    no attack: a well-behaved frontend that fills the whole
 *                   ring, notifies as the protocol says and waits for all
 *                   the responses, "batches" times (it must not be cut off)
 *
 * With a tree whose spec has [ring.buffer] (XBH_BUF), once Connected, one
 * call whose buffer is wrong in one way (the segments in the slot, or in
 * indirect pages when the tree has them):
 *
 *   buf-ungranted   a segment's grant reference was never granted
 *   buf-readonly    the buffer the backend must write is granted read-only
 *   buf-past-page   a segment's offset + length pass its page
 *   buf-too-long    buf_len above the tree's maximum
 *   buf-too-many    more segments than the tree's maximum
 *   buf-same-ref    one grant reference in two segments
 *   buf-garbage     segments of random bytes (all of the maximum)
 *   buf-rewrite     valid calls whose segments are made invalid right after
 *                   each push, while the backend reads them, for rewrite_s
 *   buf-many-grants valid calls, each naming a page granted for it alone, up
 *                   to "many" of them: a backend that keeps what it maps
 *                   (transfer = "map") must stop at what a frontend can need
 *
 * The first two are no protocol violation the backend can see (a frontend
 * ends the grants of the calls it fails while they are still on the ring):
 * it must answer them unreachable and keep serving, which a valid call then
 * checks.  The others must be cut off.
 *
 * A backend that survives closes the device; the frontend then tears down
 * and goes Closed like any frontend, so the device can be unplugged.
 *
 * Build: make -C tests/hostile KDIR=<kernel build tree> XBH_NAME=<type>
 *        XBH_INCLUDE=<absolute path of the tree's include/>
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/delay.h>
#include <linux/errno.h>
#include <linux/gfp.h>
#include <linux/interrupt.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/random.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/wait.h>
#include <xen/events.h>
#include <xen/grant_table.h>
#include <xen/page.h>
#include <xen/xen.h>
#include <xen/xenbus.h>

#include XBH_RING_H

/* The ring types DEFINE_RING_TYPES(XBH_TYPE, ...) made in the tree's header. */
#define XBH_CAT_(a, b)	a##b
#define XBH_CAT(a, b)	XBH_CAT_(a, b)
#define xbh_sring	XBH_CAT(XBH_TYPE, _sring)
#define xbh_front_ring	XBH_CAT(XBH_TYPE, _front_ring)
#define xbh_request	XBH_CAT(XBH_TYPE, _request)

/* order-too-big grants 2^(max + 1) pages: at most 32 (a backend's max is 4). */
#define XBH_MAX_ORDER	5
#define XBH_MAX_PAGES	BIT(XBH_MAX_ORDER)

/* How far past the responses prod-overflow puts req_prod. */
#define XBH_FAR		0x40000000U

#ifdef XBH_BUF
/* The buffer part of the tree's header (XBH_UPPER is its prefix). */
#define xbh_segment	XBH_CAT(XBH_TYPE, _segment)
#define xbh_response	XBH_CAT(XBH_TYPE, _response)
#define XBH_BUF_MAX	XBH_CAT(XBH_UPPER, _BUF_MAX)
#define XBH_BUF_SEGS	XBH_CAT(XBH_UPPER, _BUF_SEGS)
#define XBH_BUF_OK	XBH_CAT(XBH_UPPER, _BUF_OK)
#ifdef XBH_BUF_INDIRECT
#define XBH_PER_PAGE	XBH_CAT(XBH_UPPER, _SEGS_PER_INDIRECT)
#define XBH_IND_PAGES	XBH_CAT(XBH_UPPER, _BUF_INDIRECT)
#endif
/* Bytes in each segment of a valid buffer. */
#define XBH_SEG_LEN	512U
/* buf-rewrite spoils a call up to this long after its push (TCG: ~2 round trips). */
#define XBH_SPOIL_US	4000U
#endif

enum xbh_mode {
	XBH_UNGRANTED_REF,
	XBH_BAD_EVTCHN,
	XBH_ORDER_TOO_BIG,
	XBH_PROD_OVERFLOW,
	XBH_REWRITE,
	XBH_EVENT_STORM,
	XBH_RECONNECT,
	XBH_FULL_BATCHES,
	XBH_BUF_UNGRANTED,
	XBH_BUF_READONLY,
	XBH_BUF_PAST_PAGE,
	XBH_BUF_TOO_LONG,
	XBH_BUF_TOO_MANY,
	XBH_BUF_SAME_REF,
	XBH_BUF_GARBAGE,
	XBH_BUF_REWRITE,
	XBH_BUF_MANY_GRANTS,
};

static const char * const xbh_modes[] = {
	[XBH_UNGRANTED_REF] = "ungranted-ref",
	[XBH_BAD_EVTCHN] = "bad-evtchn",
	[XBH_ORDER_TOO_BIG] = "order-too-big",
	[XBH_PROD_OVERFLOW] = "prod-overflow",
	[XBH_REWRITE] = "rewrite",
	[XBH_EVENT_STORM] = "event-storm",
	[XBH_RECONNECT] = "reconnect",
	[XBH_FULL_BATCHES] = "full-batches",
	[XBH_BUF_UNGRANTED] = "buf-ungranted",
	[XBH_BUF_READONLY] = "buf-readonly",
	[XBH_BUF_PAST_PAGE] = "buf-past-page",
	[XBH_BUF_TOO_LONG] = "buf-too-long",
	[XBH_BUF_TOO_MANY] = "buf-too-many",
	[XBH_BUF_SAME_REF] = "buf-same-ref",
	[XBH_BUF_GARBAGE] = "buf-garbage",
	[XBH_BUF_REWRITE] = "buf-rewrite",
	[XBH_BUF_MANY_GRANTS] = "buf-many-grants",
};

static char *mode = "prod-overflow";
module_param(mode, charp, 0444);
MODULE_PARM_DESC(mode, "ungranted-ref, bad-evtchn, order-too-big, prod-overflow, rewrite, event-storm, reconnect, full-batches or (buffer trees) buf-*");

static unsigned int storm_s = 30;
module_param(storm_s, uint, 0444);
MODULE_PARM_DESC(storm_s, "event-storm: seconds of notifications (default 30)");

static unsigned int rewrite_s = 20;
module_param(rewrite_s, uint, 0444);
MODULE_PARM_DESC(rewrite_s, "rewrite, buf-rewrite: seconds of rewriting, rewrite's second half also req_prod (default 20)");

static unsigned int reconnects = 10;
module_param(reconnects, uint, 0444);
MODULE_PARM_DESC(reconnects, "reconnect: how many times to ask for the device back (default 10)");

static unsigned int batches = 32;
module_param(batches, uint, 0444);
MODULE_PARM_DESC(batches, "full-batches: how many full rings to send (default 32)");

static unsigned int many = 4096;
module_param(many, uint, 0444);
MODULE_PARM_DESC(many, "buf-many-grants: how many pages to name at most (default 4096)");

static unsigned int bad_port;
module_param(bad_port, uint, 0444);
MODULE_PARM_DESC(bad_port, "bad-evtchn: the port to publish (default: one allocated and closed again)");

static int xbh_mode;

struct xbh_device {
	struct xenbus_device *dev;
	bool set_up;			/* pages, grants, event channel held */

	struct page *pages[XBH_MAX_PAGES];
	grant_ref_t refs[XBH_MAX_PAGES];
	unsigned int nr_pages;		/* granted pages */
	grant_ref_t idle_ref;		/* ungranted-ref: claimed, never granted */
	bool have_idle_ref;
	struct xbh_front_ring ring;	/* on pages[0] */

	evtchn_port_t evtchn;
	int irq;			/* > 0 while the event channel is bound */
	atomic_t events;		/* events the backend sent */

	struct task_struct *task;	/* the attack, once Connected */
	bool attacking;			/* the backend is still Connected */
	wait_queue_head_t wq;		/* the attack sleeps here */
	unsigned long started;		/* jiffies when the attack began */
	unsigned int reconnects;	/* reconnect: times we asked back */
	u64 next_id;			/* buf-*: the next request's id */
	struct page **many_pages;	/* buf-many-grants: a page per call */
	grant_ref_t *many_refs;
	unsigned int nr_many;
};

static irqreturn_t xbh_interrupt(int irq, void *dev_id)
{
	struct xbh_device *h = dev_id;

	atomic_inc(&h->events);
	xen_irq_lateeoi(irq, 0);
	return IRQ_HANDLED;
}

static bool xbh_attacking(struct xbh_device *h)
{
	return READ_ONCE(h->attacking) && !kthread_should_stop();
}

/* Sleep up to @ms, or less when the backend leaves Connected or we stop. */
static void xbh_sleep(struct xbh_device *h, unsigned int ms)
{
	wait_event_interruptible_timeout(h->wq, !xbh_attacking(h),
					 msecs_to_jiffies(ms));
}

static unsigned int xbh_elapsed_ms(struct xbh_device *h)
{
	return jiffies_to_msecs(jiffies - h->started);
}

static const char *xbh_outcome(struct xbh_device *h)
{
	return READ_ONCE(h->attacking) ? "still Connected" : "left Connected";
}

/* Grant one more zeroed page to the backend; its index in h->pages. */
static int xbh_grant_page(struct xbh_device *h, bool readonly)
{
	struct page *page;
	int ref;

	if (h->nr_pages == XBH_MAX_PAGES)
		return -ENOSPC;
	page = alloc_page(GFP_KERNEL | __GFP_ZERO);
	if (!page)
		return -ENOMEM;
	ref = gnttab_grant_foreign_access(h->dev->otherend_id,
					  xen_page_to_gfn(page), readonly);
	if (ref < 0) {
		__free_page(page);
		return ref;
	}
	h->pages[h->nr_pages] = page;
	h->refs[h->nr_pages] = ref;
	return h->nr_pages++;
}

/* Grant zeroed pages to the backend until @nr are. */
static int xbh_grant_pages(struct xbh_device *h, unsigned int nr)
{
	int err;

	while (h->nr_pages < nr) {
		err = xbh_grant_page(h, false);
		if (err < 0)
			return err;
	}
	return 0;
}

/* A grant reference of ours that grants nothing: claimed, never filled in. */
static int xbh_idle_ref(struct xbh_device *h)
{
	grant_ref_t head;
	int ref, err;

	err = gnttab_alloc_grant_references(1, &head);
	if (err)
		return err;
	ref = gnttab_claim_grant_reference(&head);
	gnttab_free_grant_references(head);
	if (ref < 0)
		return ref;
	h->idle_ref = ref;
	h->have_idle_ref = true;
	return 0;
}

static int xbh_publish(struct xbh_device *h, int order, evtchn_port_t port)
{
	struct xenbus_device *dev = h->dev;
	struct xenbus_transaction xbt;
	unsigned int i;
	char key[20];
	int err;

again:
	err = xenbus_transaction_start(&xbt);
	if (err)
		return err;
	if (order < 0) {
		err = xenbus_printf(xbt, dev->nodename, "ring-ref", "%u",
				    h->have_idle_ref ? h->idle_ref : h->refs[0]);
	} else {
		err = xenbus_printf(xbt, dev->nodename, "ring-page-order", "%d",
				    order);
		for (i = 0; !err && i < h->nr_pages; i++) {
			snprintf(key, sizeof(key), "ring-ref%u", i);
			err = xenbus_printf(xbt, dev->nodename, key, "%u",
					    h->refs[i]);
		}
	}
	if (!err)
		err = xenbus_printf(xbt, dev->nodename, "event-channel", "%u",
				    port);
	if (err) {
		xenbus_transaction_end(xbt, 1);
		return err;
	}
	err = xenbus_transaction_end(xbt, 0);
	if (err == -EAGAIN)
		goto again;
	return err;
}

/* Give back everything: the attack first, then event channel and grants. */
static void xbh_release(struct xbh_device *h)
{
	unsigned int i;

	WRITE_ONCE(h->attacking, false);
	if (h->task) {
		kthread_stop(h->task);
		h->task = NULL;
	}
	if (h->irq > 0) {
		unbind_from_irqhandler(h->irq, h);	/* closes the port */
		h->irq = 0;
	}
	/* The backend may still map them: the grant code frees them later. */
	for (i = 0; i < h->nr_pages; i++)
		gnttab_end_foreign_access(h->refs[i], h->pages[i]);
	h->nr_pages = 0;
	for (i = 0; i < h->nr_many; i++)
		gnttab_end_foreign_access(h->many_refs[i], h->many_pages[i]);
	h->nr_many = 0;
	kvfree(h->many_pages);
	kvfree(h->many_refs);
	h->many_pages = NULL;
	h->many_refs = NULL;
	h->ring.sring = NULL;
	if (h->have_idle_ref) {
		gnttab_free_grant_reference(h->idle_ref);
		h->have_idle_ref = false;
	}
	h->set_up = false;
}

/* The backend is in InitWait: publish this mode's ring details. */
static int xbh_setup(struct xbh_device *h)
{
	struct xenbus_device *dev = h->dev;
	unsigned int max_order;
	evtchn_port_t port;
	int order = -1;		/* a single "ring-ref" */
	int err;

	h->set_up = true;
	max_order = xenbus_read_unsigned(dev->otherend, "max-ring-page-order", 0);
	if (xbh_mode == XBH_ORDER_TOO_BIG) {
		if (max_order >= XBH_MAX_ORDER)
			return -E2BIG;
		order = max_order + 1;
		err = xbh_grant_pages(h, 1U << order);
	} else if (xbh_mode == XBH_UNGRANTED_REF) {
		err = xbh_idle_ref(h);
	} else {
		err = xbh_grant_pages(h, 1);
		if (!err) {
			struct xbh_sring *sring = page_address(h->pages[0]);

			SHARED_RING_INIT(sring);
			FRONT_RING_INIT(&h->ring, sring, XEN_PAGE_SIZE);
		}
	}
	if (err)
		return err;

	err = xenbus_alloc_evtchn(dev, &h->evtchn);
	if (err)
		return err;
	if (xbh_mode == XBH_BAD_EVTCHN) {
		/* Close it again: the port we publish is not allocated. */
		port = bad_port ? bad_port : h->evtchn;
		xenbus_free_evtchn(dev, h->evtchn);
	} else {
		err = bind_evtchn_to_irqhandler_lateeoi(h->evtchn, xbh_interrupt,
							0, "xbgen-hostile", h);
		if (err < 0) {
			xenbus_free_evtchn(dev, h->evtchn);
			return err;
		}
		h->irq = err;
		port = h->evtchn;
	}

	err = xbh_publish(h, order, port);
	if (err)
		return err;
	if (xbh_mode == XBH_UNGRANTED_REF)
		pr_info("%s: ring-ref %u (never granted), event-channel %u\n",
			dev->nodename, h->idle_ref, port);
	else if (xbh_mode == XBH_ORDER_TOO_BIG)
		pr_info("%s: ring-page-order %d (backend max %u), %u refs, event-channel %u\n",
			dev->nodename, order, max_order, h->nr_pages, port);
	else
		pr_info("%s: ring-ref %u, event-channel %u%s\n", dev->nodename,
			h->refs[0], port,
			xbh_mode == XBH_BAD_EVTCHN ? " (not allocated)" : "");
	return 0;
}

static void xbh_prod_overflow(struct xbh_device *h)
{
	struct xbh_sring *sring = h->ring.sring;
	RING_IDX rsp = READ_ONCE(sring->rsp_prod);
	unsigned int i;

	WRITE_ONCE(sring->req_prod, rsp + XBH_FAR);
	pr_info("prod-overflow: req_prod %u, %u past rsp_prod %u (ring size %u)\n",
		rsp + XBH_FAR, XBH_FAR, rsp, RING_SIZE(&h->ring));
	/* The backend looks at req_prod on events: send one a second. */
	for (i = 0; i < 30 && xbh_attacking(h); i++) {
		notify_remote_via_irq(h->irq);
		xbh_sleep(h, 1000);
	}
	pr_info("prod-overflow: %u notifications, backend %s after %u ms, rsp_prod %u\n",
		i, xbh_outcome(h), xbh_elapsed_ms(h), READ_ONCE(sring->rsp_prod));
}

/* Would RING_PUSH_REQUESTS_AND_CHECK_NOTIFY() notify for @old -> @new? */
static bool xbh_wants_event(struct xbh_sring *sring, RING_IDX old, RING_IDX new)
{
	virt_mb();	/* req_prod written before req_event is read */
	return (RING_IDX)(new - READ_ONCE(sring->req_event)) <
	       (RING_IDX)(new - old);
}

/*
 * Fill the ring with random requests, push half of them, then scribble
 * over all of them while the backend copies them out.  In the second half,
 * also move req_prod anywhere within a ring of the last rsp_prod seen,
 * backwards included.  Events go only where the ring protocol asks for
 * them (req_event), and no push fills the whole ring, so the backend sees
 * requests rewritten, not an event storm nor full-ring batches.
 */
static void xbh_rewrite(struct xbh_device *h)
{
	struct xbh_sring *sring = h->ring.sring;
	unsigned int size = RING_SIZE(&h->ring);
	unsigned long end = jiffies + rewrite_s * HZ;
	unsigned long half = jiffies + rewrite_s * HZ / 2;
	unsigned long rounds = 0, rewrites = 0, rewinds = 0, events = 0;
	RING_IDX first = READ_ONCE(sring->rsp_prod), prod = first, old, rsp;
	unsigned int i, k;

	while (xbh_attacking(h) && time_before(jiffies, end)) {
		bool rewind = time_after(jiffies, half);

		rsp = READ_ONCE(sring->rsp_prod);
		for (i = 0; i < size; i++)
			get_random_bytes(RING_GET_REQUEST(&h->ring, rsp + i),
					 sizeof(struct xbh_request));
		virt_wmb();	/* the requests before req_prod */
		old = prod;
		prod = rsp + size / 2;
		WRITE_ONCE(sring->req_prod, prod);
		if (xbh_wants_event(sring, old, prod)) {
			notify_remote_via_irq(h->irq);
			events++;
		}

		for (k = 0; k < 4 * size && xbh_attacking(h); k++) {
			u32 *word = (u32 *)RING_GET_REQUEST(&h->ring,
							    rsp + get_random_u32_below(size));

			word[get_random_u32_below(sizeof(struct xbh_request) / 4)] =
				get_random_u32();
			rewrites++;
			if (rewind && !(k % 16)) {
				prod = rsp + get_random_u32_below(size + 1);
				WRITE_ONCE(sring->req_prod, prod);
				rewinds++;
			}
			if (!(k % 32))
				cond_resched();
		}
		rounds++;
		cond_resched();
	}
	pr_info("rewrite: %lu rounds, %lu words rewritten, %lu req_prod rewrites, %lu events, backend answered %u, %s after %u ms\n",
		rounds, rewrites, rewinds, events,
		READ_ONCE(sring->rsp_prod) - first, xbh_outcome(h),
		xbh_elapsed_ms(h));
}

/*
 * Behave: fill the whole ring with zeroed requests, push them with the
 * protocol's notification check, wait for every response, take them.
 */
static void xbh_full_batches(struct xbh_device *h)
{
	struct xbh_sring *sring = h->ring.sring;
	unsigned int size = RING_SIZE(&h->ring), n, i;
	RING_IDX prod = h->ring.req_prod_pvt, old;
	unsigned long events = 0;

	for (n = 0; n < batches && xbh_attacking(h); n++) {
		unsigned long deadline = jiffies + 10 * HZ;

		for (i = 0; i < size; i++) {
			struct xbh_request *req = RING_GET_REQUEST(&h->ring, prod + i);

			memset(req, 0, sizeof(*req));
			req->id = (u64)n * size + i;
		}
		virt_wmb();	/* the requests before req_prod */
		old = prod;
		prod += size;
		WRITE_ONCE(sring->req_prod, prod);
		if (xbh_wants_event(sring, old, prod)) {
			notify_remote_via_irq(h->irq);
			events++;
		}
		while (READ_ONCE(sring->rsp_prod) != prod && xbh_attacking(h) &&
		       time_before(jiffies, deadline))
			xbh_sleep(h, 2);
		if (READ_ONCE(sring->rsp_prod) != prod)
			break;
		virt_rmb();	/* the responses after rsp_prod */
		h->ring.rsp_cons = prod;
		WRITE_ONCE(sring->rsp_event, prod + 1);
	}
	pr_info("full-batches: %u of %u full rings answered (%u requests each, %lu events), backend %s after %u ms\n",
		n, batches, size, events, xbh_outcome(h), xbh_elapsed_ms(h));
}

/* Notify as fast as we can, with nothing on the ring. */
static void xbh_event_storm(struct xbh_device *h)
{
	unsigned long end = jiffies + storm_s * HZ;
	unsigned long sent = 0;

	while (xbh_attacking(h) && time_before(jiffies, end)) {
		notify_remote_via_irq(h->irq);
		sent++;
		cond_resched();
	}
	pr_info("event-storm: %lu notifications, backend %s after %u ms\n",
		sent, xbh_outcome(h), xbh_elapsed_ms(h));
}

#ifdef XBH_BUF
/*
 * Segment @i of the request @req: in the slot, or in the indirect page
 * @ind (an index into h->pages, granted for @req's segments) for trees
 * with indirect pages.
 */
static struct xbh_segment *xbh_seg(struct xbh_device *h,
				   struct xbh_request *req, int ind,
				   unsigned int i)
{
#ifdef XBH_BUF_INDIRECT
	struct xbh_segment *page = page_address(h->pages[ind + i / XBH_PER_PAGE]);

	return &page[i % XBH_PER_PAGE];
#else
	return &req->buf_seg[i];
#endif
}

/*
 * Make room for @nr segments of @req (@nr may pass the tree's maximum: only
 * what the request can name is granted) and set buf_nr_segs; the segments
 * are then filled in through xbh_seg() at the returned index.
 */
static int xbh_segs(struct xbh_device *h, struct xbh_request *req,
		    unsigned int nr)
{
	int ind = 0;
#ifdef XBH_BUF_INDIRECT
	unsigned int i, pages = min_t(unsigned int, XBH_IND_PAGES,
				      DIV_ROUND_UP(nr, XBH_PER_PAGE));
	int page;

	for (i = 0; i < pages; i++) {
		page = xbh_grant_page(h, true);
		if (page < 0)
			return page;
		if (!i)
			ind = page;
		req->buf_indirect[i] = h->refs[page];
	}
#endif
	req->buf_nr_segs = nr;
	return ind;
}

/* A valid buffer: @nr segments of XBH_SEG_LEN bytes on pages of their own. */
static int xbh_valid_buf(struct xbh_device *h, struct xbh_request *req,
			 unsigned int nr, bool readonly)
{
	struct xbh_segment *seg;
	unsigned int i;
	int ind, page;

	ind = xbh_segs(h, req, nr);
	if (ind < 0)
		return ind;
	for (i = 0; i < nr; i++) {
		page = xbh_grant_page(h, readonly);
		if (page < 0)
			return page;
		seg = xbh_seg(h, req, ind, i);
		seg->gref = h->refs[page];
		seg->offset = 0;
		seg->len = XBH_SEG_LEN;
	}
	req->buf_len = nr * XBH_SEG_LEN;
	return ind;
}

/* Push @req with the next id and notify, as the protocol says. */
static void xbh_push(struct xbh_device *h, struct xbh_request *req)
{
	int notify;

	req->id = ++h->next_id;
	*RING_GET_REQUEST(&h->ring, h->ring.req_prod_pvt) = *req;
	h->ring.req_prod_pvt++;
	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&h->ring, notify);
	if (notify)
		notify_remote_via_irq(h->irq);
}

/*
 * Wait up to 10 s for the next response, copied to @rsp.  -ETIMEDOUT when
 * none came, -ECONNRESET when the backend left Connected first.
 */
static int xbh_wait(struct xbh_device *h, struct xbh_response *rsp)
{
	struct xbh_sring *sring = h->ring.sring;
	unsigned long deadline = jiffies + 10 * HZ;
	RING_IDX cons = h->ring.rsp_cons;

	while (READ_ONCE(sring->rsp_prod) == cons && xbh_attacking(h) &&
	       time_before(jiffies, deadline))
		xbh_sleep(h, 2);
	if (READ_ONCE(sring->rsp_prod) == cons)
		return xbh_attacking(h) ? -ETIMEDOUT : -ECONNRESET;
	virt_rmb();	/* the response after rsp_prod */
	*rsp = *RING_GET_RESPONSE(&h->ring, cons);
	h->ring.rsp_cons = cons + 1;
	return 0;
}

static int xbh_call(struct xbh_device *h, struct xbh_request *req,
		    struct xbh_response *rsp)
{
	xbh_push(h, req);
	return xbh_wait(h, rsp);
}

/* Say what became of a call: "WHAT: answered, buf_status S buf_len L". */
static void xbh_said(struct xbh_device *h, const char *what, int err,
		     const struct xbh_response *rsp)
{
	if (err)
		pr_info("%s: %s: no answer (%d), backend %s after %u ms\n",
			xbh_modes[xbh_mode], what, err, xbh_outcome(h),
			xbh_elapsed_ms(h));
	else
		pr_info("%s: %s: answered, buf_status %u buf_len %u\n",
			xbh_modes[xbh_mode], what, rsp->buf_status,
			rsp->buf_len);
}

/* Build the one bad request of @mode. */
static int xbh_bad_buf(struct xbh_device *h, struct xbh_request *req)
{
	struct xbh_segment *seg;
	unsigned int i;
	int ind, err;

	switch (xbh_mode) {
	case XBH_BUF_UNGRANTED:
		err = xbh_idle_ref(h);
		if (err)
			return err;
		ind = xbh_valid_buf(h, req, 1, false);
		if (ind < 0)
			return ind;
		xbh_seg(h, req, ind, 0)->gref = h->idle_ref;
		pr_info("buf-ungranted: segment 0 names reference %u, never granted\n",
			h->idle_ref);
		return 0;
	case XBH_BUF_READONLY:
		ind = xbh_valid_buf(h, req, 1, true);
		if (ind < 0)
			return ind;
		pr_info("buf-readonly: reference %u granted read-only\n",
			xbh_seg(h, req, ind, 0)->gref);
		return 0;
	case XBH_BUF_PAST_PAGE:
		ind = xbh_valid_buf(h, req, 1, false);
		if (ind < 0)
			return ind;
		seg = xbh_seg(h, req, ind, 0);
		seg->offset = XEN_PAGE_SIZE - XBH_SEG_LEN / 2;
		pr_info("buf-past-page: %u bytes at offset %u\n", seg->len,
			seg->offset);
		return 0;
	case XBH_BUF_TOO_LONG:
		ind = xbh_valid_buf(h, req, 1, false);
		if (ind < 0)
			return ind;
		req->buf_len = XBH_BUF_MAX + XBH_SEG_LEN;
		pr_info("buf-too-long: buf_len %u, the maximum is %u\n",
			req->buf_len, XBH_BUF_MAX);
		return 0;
	case XBH_BUF_TOO_MANY:
		ind = xbh_valid_buf(h, req, 1, false);
		if (ind < 0)
			return ind;
		req->buf_nr_segs = XBH_BUF_SEGS + 1;
		pr_info("buf-too-many: %u segments, the maximum is %u\n",
			req->buf_nr_segs, XBH_BUF_SEGS);
		return 0;
	case XBH_BUF_SAME_REF:
		ind = xbh_valid_buf(h, req, 2, false);
		if (ind < 0)
			return ind;
		xbh_seg(h, req, ind, 1)->gref = xbh_seg(h, req, ind, 0)->gref;
		pr_info("buf-same-ref: reference %u in segments 0 and 1\n",
			xbh_seg(h, req, ind, 0)->gref);
		return 0;
	case XBH_BUF_GARBAGE:
		ind = xbh_segs(h, req, XBH_BUF_SEGS);
		if (ind < 0)
			return ind;
		for (i = 0; i < XBH_BUF_SEGS; i++)
			get_random_bytes(xbh_seg(h, req, ind, i), sizeof(*seg));
		req->buf_len = XBH_BUF_MAX;
		pr_info("buf-garbage: %u segments of random bytes\n", XBH_BUF_SEGS);
		return 0;
	default:
		return -EINVAL;
	}
}

/* One bad call; after the two the backend must answer, one valid call. */
static void xbh_buf_attack(struct xbh_device *h)
{
	struct xbh_request req;
	struct xbh_response rsp;
	int err;

	memset(&req, 0, sizeof(req));
	err = xbh_bad_buf(h, &req);
	if (err) {
		pr_info("%s: building the request failed: %d\n",
			xbh_modes[xbh_mode], err);
		return;
	}
	err = xbh_call(h, &req, &rsp);
	xbh_said(h, "bad call", err, &rsp);
	if (err || (xbh_mode != XBH_BUF_UNGRANTED && xbh_mode != XBH_BUF_READONLY))
		return;
	memset(&req, 0, sizeof(req));
	err = xbh_valid_buf(h, &req, 2, false);
	if (err < 0) {
		pr_info("%s: building the valid call failed: %d\n",
			xbh_modes[xbh_mode], err);
		return;
	}
	err = xbh_call(h, &req, &rsp);
	xbh_said(h, "then a valid call", err, &rsp);
}

/*
 * Valid calls, each of whose segments is made invalid (too long, at a
 * reserved reference) right after the push, for rewrite_s: the backend
 * copies the request (and the indirect page) once, so it either sees the
 * valid buffer and answers it or sees the rewritten one and cuts us off.
 */
static void xbh_buf_rewrite(struct xbh_device *h)
{
	unsigned long end = jiffies + rewrite_s * HZ;
	unsigned long calls = 0, ok = 0, unreachable = 0;
	struct xbh_segment good[2], *seg;
	struct xbh_request req, *slot;
	struct xbh_response rsp;
	unsigned int i;
	int ind, err = 0;

	memset(&req, 0, sizeof(req));
	ind = xbh_valid_buf(h, &req, 2, false);
	if (ind < 0) {
		pr_info("buf-rewrite: building the request failed: %d\n", ind);
		return;
	}
	for (i = 0; i < 2; i++)
		good[i] = *xbh_seg(h, &req, ind, i);
	while (xbh_attacking(h) && time_before(jiffies, end)) {
		for (i = 0; i < 2; i++)
			*xbh_seg(h, &req, ind, i) = good[i];
		xbh_push(h, &req);
		/*
		 * Now spoil it, where the backend reads it: at once or up to
		 * two round trips later, so that the backend takes some calls
		 * before and some after.
		 */
		fsleep(get_random_u32_below(XBH_SPOIL_US));
		slot = RING_GET_REQUEST(&h->ring, h->ring.req_prod_pvt - 1);
		for (i = 0; i < 2; i++) {
			seg = xbh_seg(h, slot, ind, i);
			WRITE_ONCE(seg->len, 0xffff);
			WRITE_ONCE(seg->gref, i);
		}
		calls++;
		err = xbh_wait(h, &rsp);
		if (err)
			break;
		if (rsp.buf_status == XBH_BUF_OK)
			ok++;
		else
			unreachable++;
		cond_resched();
	}
	pr_info("buf-rewrite: %lu calls spoilt after the push, %lu answered ok, %lu unreachable, last %d, backend %s after %u ms\n",
		calls, ok, unreachable, err, xbh_outcome(h), xbh_elapsed_ms(h));
}

/*
 * Valid calls of one segment each, every one on a page granted for it
 * alone and kept granted: a backend that keeps its mappings must cut us off
 * once we name more pages than a frontend can need.
 */
static void xbh_buf_many_grants(struct xbh_device *h)
{
	struct xbh_request req;
	struct xbh_response rsp;
	struct xbh_segment *seg;
	struct page *page;
	int ind, ref, err = 0;

	h->many_pages = kvcalloc(many, sizeof(*h->many_pages), GFP_KERNEL);
	h->many_refs = kvcalloc(many, sizeof(*h->many_refs), GFP_KERNEL);
	memset(&req, 0, sizeof(req));
	ind = h->many_pages && h->many_refs ? xbh_segs(h, &req, 1) : -ENOMEM;
	if (ind < 0) {
		pr_info("buf-many-grants: setting up failed: %d\n", ind);
		return;
	}
	req.buf_len = XBH_SEG_LEN;
	while (h->nr_many < many && xbh_attacking(h)) {
		page = alloc_page(GFP_KERNEL | __GFP_ZERO);
		if (!page) {
			err = -ENOMEM;
			break;
		}
		ref = gnttab_grant_foreign_access(h->dev->otherend_id,
						  xen_page_to_gfn(page), 0);
		if (ref < 0) {
			__free_page(page);
			err = ref;
			break;
		}
		h->many_pages[h->nr_many] = page;
		h->many_refs[h->nr_many++] = ref;
		seg = xbh_seg(h, &req, ind, 0);
		seg->gref = ref;
		seg->offset = 0;
		seg->len = XBH_SEG_LEN;
		err = xbh_call(h, &req, &rsp);
		if (err)
			break;
		cond_resched();
	}
	pr_info("buf-many-grants: %u pages named, one a call, last %d, backend %s after %u ms\n",
		h->nr_many, err, xbh_outcome(h), xbh_elapsed_ms(h));
}
#endif /* XBH_BUF */

static int xbh_attack_thread(void *data)
{
	struct xbh_device *h = data;

	switch (xbh_mode) {
	case XBH_PROD_OVERFLOW:
		xbh_prod_overflow(h);
		break;
	case XBH_REWRITE:
		xbh_rewrite(h);
		break;
	case XBH_EVENT_STORM:
		xbh_event_storm(h);
		break;
	case XBH_FULL_BATCHES:
		xbh_full_batches(h);
		break;
#ifdef XBH_BUF
	case XBH_BUF_REWRITE:
		xbh_buf_rewrite(h);
		break;
	case XBH_BUF_MANY_GRANTS:
		xbh_buf_many_grants(h);
		break;
	case XBH_BUF_UNGRANTED ... XBH_BUF_GARBAGE:
		xbh_buf_attack(h);
		break;
#endif
	default:
		break;
	}

	/* kthread_stop() reaps us: wait for it. */
	set_current_state(TASK_INTERRUPTIBLE);
	while (!kthread_should_stop()) {
		schedule();
		set_current_state(TASK_INTERRUPTIBLE);
	}
	__set_current_state(TASK_RUNNING);
	return 0;
}

static void xbh_connected(struct xbh_device *h)
{
	struct xenbus_device *dev = h->dev;
	struct task_struct *task;

	h->started = jiffies;
	WRITE_ONCE(h->attacking, true);
	pr_info("%s: Connected, mode %s\n", dev->nodename, xbh_modes[xbh_mode]);
	if (xbh_mode == XBH_RECONNECT) {
		/* As prod-overflow; every reconnect finds req_prod still there. */
		WRITE_ONCE(h->ring.sring->req_prod,
			   READ_ONCE(h->ring.sring->rsp_prod) + XBH_FAR);
		notify_remote_via_irq(h->irq);
		return;
	}
	if (xbh_mode != XBH_PROD_OVERFLOW && xbh_mode != XBH_REWRITE &&
	    xbh_mode != XBH_EVENT_STORM && xbh_mode != XBH_FULL_BATCHES &&
	    xbh_mode < XBH_BUF_UNGRANTED)
		return;		/* the backend should never have got here */
	task = kthread_run(xbh_attack_thread, h, "xbgen-hostile");
	if (IS_ERR(task)) {
		xenbus_dev_fatal(dev, PTR_ERR(task), "starting the attack");
		return;
	}
	h->task = task;
}

static void xbh_backend_changed(struct xenbus_device *dev,
				enum xenbus_state backend_state)
{
	struct xbh_device *h = dev_get_drvdata(&dev->dev);
	int err;

	switch (backend_state) {
	case XenbusStateInitWait:
		if (dev->state != XenbusStateInitialising || h->set_up)
			break;
		err = xbh_setup(h);
		if (err) {
			xbh_release(h);
			xenbus_dev_fatal(dev, err, "setting up mode %s",
					 xbh_modes[xbh_mode]);
			break;
		}
		xenbus_switch_state(dev, XenbusStateInitialised);
		break;

	case XenbusStateConnected:
		if (xbh_mode == XBH_RECONNECT && dev->state == XenbusStateConnected &&
		    h->reconnects) {
			pr_info("%s: backend Connected again (%u)\n", dev->nodename,
				h->reconnects);
			notify_remote_via_irq(h->irq);
			break;
		}
		if (dev->state != XenbusStateInitialised)
			break;
		xenbus_switch_state(dev, XenbusStateConnected);
		xbh_connected(h);
		break;

	case XenbusStateClosing:
	case XenbusStateClosed:
		if (dev->state == XenbusStateClosed)
			break;
		if (xbh_mode == XBH_RECONNECT && h->irq > 0 &&
		    h->reconnects < reconnects) {
			/* Closed is on the backend's way back: wait for Closing. */
			if (backend_state == XenbusStateClosed)
				break;
			h->reconnects++;
			pr_info("%s: backend %s %u ms after Connected, asking it back (%u)\n",
				dev->nodename, xenbus_strstate(backend_state),
				xbh_elapsed_ms(h), h->reconnects);
			err = xenbus_printf(XBT_NIL, dev->nodename, "state", "%d",
					    XenbusStateConnected);
			if (!err)
				break;
		}
		if (READ_ONCE(h->attacking)) {
			WRITE_ONCE(h->attacking, false);
			wake_up(&h->wq);
			pr_info("%s: backend %s %u ms after Connected\n",
				dev->nodename, xenbus_strstate(backend_state),
				xbh_elapsed_ms(h));
		} else {
			pr_info("%s: backend %s\n", dev->nodename,
				xenbus_strstate(backend_state));
		}
		xbh_release(h);
		xenbus_frontend_closed(dev);
		break;

	default:
		break;
	}
}

static int xbh_probe(struct xenbus_device *dev,
		     const struct xenbus_device_id *id)
{
	struct xbh_device *h;

	h = kzalloc(sizeof(*h), GFP_KERNEL);
	if (!h)
		return -ENOMEM;
	h->dev = dev;
	atomic_set(&h->events, 0);
	init_waitqueue_head(&h->wq);
	dev_set_drvdata(&dev->dev, h);
	pr_info("%s: probe, mode %s\n", dev->nodename, xbh_modes[xbh_mode]);
	xenbus_switch_state(dev, XenbusStateInitialising);
	return 0;
}

static void xbh_teardown(struct xenbus_device *dev)
{
	struct xbh_device *h = dev_get_drvdata(&dev->dev);

	xbh_release(h);
	pr_info("%s: removed, %d events from the backend\n", dev->nodename,
		atomic_read(&h->events));
	dev_set_drvdata(&dev->dev, NULL);
	kfree(h);
}

#ifdef XBH_REMOVE_VOID
static void xbh_remove(struct xenbus_device *dev)
{
	xbh_teardown(dev);
}
#else
static int xbh_remove(struct xenbus_device *dev)
{
	xbh_teardown(dev);
	return 0;
}
#endif

static const struct xenbus_device_id xbh_ids[] = {
	{ XBH_NAME },
	{ "" }
};

static struct xenbus_driver xbh_driver = {
	.name = XBH_NAME "-hostile",
	.ids = xbh_ids,
	.probe = xbh_probe,
	.remove = xbh_remove,
	.otherend_changed = xbh_backend_changed,
	.not_essential = true,
};

static int __init xbh_init(void)
{
	if (!xen_domain())
		return -ENODEV;
	xbh_mode = match_string(xbh_modes, ARRAY_SIZE(xbh_modes), mode);
	if (xbh_mode < 0) {
		pr_err("unknown mode '%s'\n", mode);
		return -EINVAL;
	}
#ifndef XBH_BUF
	if (xbh_mode >= XBH_BUF_UNGRANTED) {
		pr_err("mode %s needs a tree with [ring.buffer]\n", mode);
		return -EINVAL;
	}
#endif
	pr_info("mode %s, driver %s\n", xbh_modes[xbh_mode], xbh_driver.name);
	return xenbus_register_frontend(&xbh_driver);
}
module_init(xbh_init);

static void __exit xbh_exit(void)
{
	xenbus_unregister_driver(&xbh_driver);
}
module_exit(xbh_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Hostile " XBH_NAME " frontend (xbgen test only)");
