// SPDX-License-Identifier: GPL-2.0-only
/*
 * hostile_back.c - a malicious backend for a frontend that xbgen generated.
 *
 * Test-only: the hostile test loads it in dom0 in place of the tree's own
 * backend, built against the tree's include/XBH_TYPE_ring.h, and plugs a
 * device for the tree's own frontend in the guest.  It maps the ring the
 * frontend grants and answers its requests wrongly, in the one way the
 * "mode" parameter names:
 *
 *   twice       answer each request after the first with the first one's
 *               response again (an answer to a request that has one)
 *   long-buf    (buffer trees) report one byte more in buf_len than the
 *               request's buffer holds
 *   bad-status  (buffer trees) a buf_status the protocol does not have
 *
 * It never answers more requests than it took, so the frontend finds the
 * one thing wrong and no other.  The frontend must refuse the answer, fail
 * its calls, and close the device when asked.
 *
 * Build: make -C tests/hostile KDIR=<kernel build tree> XBH_NAME=<type>
 *        XBH_INCLUDE=<absolute path of the tree's include/>
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/errno.h>
#include <linux/interrupt.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <xen/events.h>
#include <xen/grant_table.h>
#include <xen/page.h>
#include <xen/xen.h>
#include <xen/xenbus.h>

#include XBH_RING_H

#define XBH_CAT_(a, b)	a##b
#define XBH_CAT(a, b)	XBH_CAT_(a, b)
#define xbh_sring	XBH_CAT(XBH_TYPE, _sring)
#define xbh_back_ring	XBH_CAT(XBH_TYPE, _back_ring)
#define xbh_request	XBH_CAT(XBH_TYPE, _request)
#define xbh_response	XBH_CAT(XBH_TYPE, _response)

enum xbhb_mode {
	XBHB_TWICE,
	XBHB_LONG_BUF,
	XBHB_BAD_STATUS,
};

static const char * const xbhb_modes[] = {
	[XBHB_TWICE] = "twice",
	[XBHB_LONG_BUF] = "long-buf",
	[XBHB_BAD_STATUS] = "bad-status",
};

static char *mode = "twice";
module_param(mode, charp, 0444);
MODULE_PARM_DESC(mode, "twice, or (buffer trees) long-buf or bad-status");

static int xbhb_mode;

struct xbhb_device {
	struct xenbus_device *dev;
	struct xbh_back_ring ring;
	void *ring_addr;		/* the frontend's ring page, mapped */
	int irq;			/* > 0 while bound */
	bool have_first;		/* twice: the first answer, kept */
	struct xbh_response first;
	unsigned long answered;
};

/* Put @rsp on the ring and notify as the protocol says. */
static void xbhb_push(struct xbhb_device *h, const struct xbh_response *rsp)
{
	int notify;

	*RING_GET_RESPONSE(&h->ring, h->ring.rsp_prod_pvt) = *rsp;
	h->ring.rsp_prod_pvt++;
	RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&h->ring, notify);
	if (notify)
		notify_remote_via_irq(h->irq);
	h->answered++;
}

/* The wrong answer to @req, in @rsp, for this mode. */
static void xbhb_answer(struct xbhb_device *h, const struct xbh_request *req,
			struct xbh_response *rsp)
{
	memset(rsp, 0, sizeof(*rsp));
	rsp->id = req->id;
	switch (xbhb_mode) {
	case XBHB_TWICE:
		if (!h->have_first) {
			h->first = *rsp;
			h->have_first = true;
		} else {
			*rsp = h->first;
		}
		break;
#ifdef XBH_BUF
	case XBHB_LONG_BUF:
		rsp->buf_len = req->buf_len + 1;
		break;
	case XBHB_BAD_STATUS:
		rsp->buf_status = 0x7f;
		break;
#endif
	default:
		break;
	}
}

/* Bound with the lateeoi API; the irq's handler never runs twice at once. */
static irqreturn_t xbhb_interrupt(int irq, void *dev_id)
{
	struct xbhb_device *h = dev_id;
	struct xbh_request req;
	struct xbh_response rsp;
	RING_IDX rc, rp;
	int more;

	do {
		rp = READ_ONCE(h->ring.sring->req_prod);
		virt_rmb();	/* the requests after req_prod */
		if (RING_REQUEST_PROD_OVERFLOW(&h->ring, rp)) {
			pr_warn("%s: req_prod %u past the ring\n",
				h->dev->nodename, rp);
			break;
		}
		for (rc = h->ring.req_cons; rc != rp; rc++) {
			RING_COPY_REQUEST(&h->ring, rc, &req);
			h->ring.req_cons = rc + 1;
			xbhb_answer(h, &req, &rsp);
			xbhb_push(h, &rsp);
		}
		RING_FINAL_CHECK_FOR_REQUESTS(&h->ring, more);
	} while (more);
	xen_irq_lateeoi(irq, 0);
	return IRQ_HANDLED;
}

static void xbhb_disconnect(struct xbhb_device *h)
{
	if (h->irq > 0) {
		unbind_from_irqhandler(h->irq, h);
		h->irq = 0;
	}
	if (h->ring_addr) {
		xenbus_unmap_ring_vfree(h->dev, h->ring_addr);
		h->ring_addr = NULL;
		pr_info("%s: disconnected, %lu answers given\n",
			h->dev->nodename, h->answered);
	}
}

static int xbhb_connect(struct xbhb_device *h)
{
	struct xenbus_device *dev = h->dev;
	grant_ref_t ref;
	unsigned int port;
	int err;

	err = xenbus_scanf(XBT_NIL, dev->otherend, "ring-ref", "%u", &ref);
	if (err != 1)
		return err < 0 ? err : -EINVAL;
	err = xenbus_scanf(XBT_NIL, dev->otherend, "event-channel", "%u", &port);
	if (err != 1)
		return err < 0 ? err : -EINVAL;
	err = xenbus_map_ring_valloc(dev, &ref, 1, &h->ring_addr);
	if (err)
		return err;
	BACK_RING_INIT(&h->ring, (struct xbh_sring *)h->ring_addr,
		       XEN_PAGE_SIZE);
	err = bind_interdomain_evtchn_to_irqhandler_lateeoi(dev, port,
							    xbhb_interrupt, 0,
							    "xbgen-hostile-back",
							    h);
	if (err < 0)
		return err;
	h->irq = err;
	pr_info("%s: Connected, mode %s, ring-ref %u, event-channel %u\n",
		dev->nodename, xbhb_modes[xbhb_mode], ref, port);
	return 0;
}

static void xbhb_frontend_changed(struct xenbus_device *dev,
				  enum xenbus_state frontend_state)
{
	struct xbhb_device *h = dev_get_drvdata(&dev->dev);
	int err;

	switch (frontend_state) {
	case XenbusStateInitialised:
	case XenbusStateConnected:
		if (dev->state != XenbusStateInitWait)
			break;
		err = xbhb_connect(h);
		if (err) {
			xbhb_disconnect(h);
			xenbus_dev_fatal(dev, err, "connecting");
			break;
		}
		xenbus_switch_state(dev, XenbusStateConnected);
		break;

	case XenbusStateClosing:
		xbhb_disconnect(h);
		xenbus_switch_state(dev, XenbusStateClosing);
		break;

	case XenbusStateClosed:
	case XenbusStateUnknown:
		xbhb_disconnect(h);
		xenbus_switch_state(dev, XenbusStateClosed);
		if (xenbus_dev_is_online(dev))
			break;
		device_unregister(&dev->dev);
		break;

	default:
		break;
	}
}

static int xbhb_probe(struct xenbus_device *dev,
		      const struct xenbus_device_id *id)
{
	struct xbhb_device *h;

	h = kzalloc(sizeof(*h), GFP_KERNEL);
	if (!h)
		return -ENOMEM;
	h->dev = dev;
	dev_set_drvdata(&dev->dev, h);
	pr_info("%s: probe, mode %s\n", dev->nodename, xbhb_modes[xbhb_mode]);
	xenbus_switch_state(dev, XenbusStateInitWait);
	return 0;
}

static void xbhb_teardown(struct xenbus_device *dev)
{
	struct xbhb_device *h = dev_get_drvdata(&dev->dev);

	xbhb_disconnect(h);
	dev_set_drvdata(&dev->dev, NULL);
	kfree(h);
}

#ifdef XBH_REMOVE_VOID
static void xbhb_remove(struct xenbus_device *dev)
{
	xbhb_teardown(dev);
}
#else
static int xbhb_remove(struct xenbus_device *dev)
{
	xbhb_teardown(dev);
	return 0;
}
#endif

static const struct xenbus_device_id xbhb_ids[] = {
	{ XBH_NAME },
	{ "" }
};

static struct xenbus_driver xbhb_driver = {
	.name = XBH_NAME "-hostile-back",
	.ids = xbhb_ids,
	.probe = xbhb_probe,
	.remove = xbhb_remove,
	.otherend_changed = xbhb_frontend_changed,
};

static int __init xbhb_init(void)
{
	if (!xen_domain())
		return -ENODEV;
	xbhb_mode = match_string(xbhb_modes, ARRAY_SIZE(xbhb_modes), mode);
	if (xbhb_mode < 0) {
		pr_err("unknown mode '%s'\n", mode);
		return -EINVAL;
	}
#ifndef XBH_BUF
	if (xbhb_mode != XBHB_TWICE) {
		pr_err("mode %s needs a tree with [ring.buffer]\n", mode);
		return -EINVAL;
	}
#endif
	pr_info("mode %s, driver %s\n", xbhb_modes[xbhb_mode], xbhb_driver.name);
	return xenbus_register_backend(&xbhb_driver);
}
module_init(xbhb_init);

static void __exit xbhb_exit(void)
{
	xenbus_unregister_driver(&xbhb_driver);
}
module_exit(xbhb_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Hostile " XBH_NAME " backend (xbgen test only)");
