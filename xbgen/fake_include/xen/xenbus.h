/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _XBGEN_XEN_XENBUS_H
#define _XBGEN_XEN_XENBUS_H

#include <linux/device.h>
#include <linux/module.h>
#include <xen/grant_table.h>
#include <xen/events.h>

/* include/xen/interface/io/xenbus.h */
enum xenbus_state {
	XenbusStateUnknown = 0,
	XenbusStateInitialising = 1,
	XenbusStateInitWait = 2,
	XenbusStateInitialised = 3,
	XenbusStateConnected = 4,
	XenbusStateClosing = 5,
	XenbusStateClosed = 6,
	XenbusStateReconfiguring = 7,
	XenbusStateReconfigured = 8
};

struct xenbus_device_id {
	char devicetype[32];
};

struct xenbus_device {
	const char *devicetype;
	const char *nodename;
	const char *otherend;
	int otherend_id;
	struct device dev;
	enum xenbus_state state;
};

struct kobj_uevent_env;

struct xenbus_driver {
	const char *name;
	const struct xenbus_device_id *ids;
	bool allow_rebind;
#ifdef XBGEN_XENBUS_NOT_ESSENTIAL
	bool not_essential;
#endif
	int (*probe)(struct xenbus_device *dev, const struct xenbus_device_id *id);
	void (*otherend_changed)(struct xenbus_device *dev, enum xenbus_state backend_state);
/* The generated Kbuild defines these from the target kernel's own header. */
#ifdef XBGEN_XENBUS_REMOVE_VOID
	void (*remove)(struct xenbus_device *dev);
#else
	int (*remove)(struct xenbus_device *dev);
#endif
	int (*suspend)(struct xenbus_device *dev);
	int (*resume)(struct xenbus_device *dev);
	struct device_driver driver;
	int (*read_otherend_details)(struct xenbus_device *dev);
	int (*is_ready)(struct xenbus_device *dev);
	void (*reclaim_memory)(struct xenbus_device *dev);
};

int __xenbus_register_frontend(struct xenbus_driver *drv, struct module *owner,
			       const char *mod_name);
int __xenbus_register_backend(struct xenbus_driver *drv, struct module *owner,
			      const char *mod_name);
#define xenbus_register_frontend(drv) \
	__xenbus_register_frontend(drv, THIS_MODULE, KBUILD_MODNAME)
#define xenbus_register_backend(drv) \
	__xenbus_register_backend(drv, THIS_MODULE, KBUILD_MODNAME)
void xenbus_unregister_driver(struct xenbus_driver *drv);

struct xenbus_transaction {
	u32 id;
};
#define XBT_NIL ((struct xenbus_transaction) { 0 })

unsigned int xenbus_read_unsigned(const char *dir, const char *node,
				  unsigned int default_val);
int xenbus_printf(struct xenbus_transaction t, const char *dir, const char *node,
		  const char *fmt, ...);

int xenbus_scanf(struct xenbus_transaction t, const char *dir, const char *node,
		 const char *fmt, ...);
int xenbus_transaction_start(struct xenbus_transaction *t);
int xenbus_transaction_end(struct xenbus_transaction t, int abort);

/* The generated Kbuild defines this from the target kernel's own header. */
#ifdef XBGEN_XENBUS_SETUP_RING
int xenbus_setup_ring(struct xenbus_device *dev, gfp_t gfp, void **vaddr,
		      unsigned int nr_pages, grant_ref_t *grefs);
void xenbus_teardown_ring(void **vaddr, unsigned int nr_pages, grant_ref_t *grefs);
#else
int xenbus_grant_ring(struct xenbus_device *dev, void *vaddr, unsigned int nr_pages,
		      grant_ref_t *grefs);
#endif
int xenbus_map_ring_valloc(struct xenbus_device *dev, grant_ref_t *gnt_refs,
			   unsigned int nr_grefs, void **vaddr);
int xenbus_unmap_ring_vfree(struct xenbus_device *dev, void *vaddr);
int xenbus_alloc_evtchn(struct xenbus_device *dev, evtchn_port_t *port);
int xenbus_free_evtchn(struct xenbus_device *dev, evtchn_port_t port);

int xenbus_switch_state(struct xenbus_device *dev, enum xenbus_state new_state);
int xenbus_frontend_closed(struct xenbus_device *dev);
int xenbus_dev_is_online(struct xenbus_device *dev);
const char *xenbus_strstate(enum xenbus_state state);
void xenbus_dev_error(struct xenbus_device *dev, int err, const char *fmt, ...);
void xenbus_dev_fatal(struct xenbus_device *dev, int err, const char *fmt, ...);

#endif
