// SPDX-License-Identifier: GPL-2.0-only
/*
 * xbgen verify: the device core and the buses (drivers/xen/xenbus/
 * xenbus_probe.c, xenbus_probe_backend.c, xenbus_probe_frontend.c,
 * drivers/base/), and the modules' init and exit:
 *
 *  - a device appears on a bus when its directory's state is Initialising;
 *    probe reads the other end's details, calls the driver's probe, then
 *    watches <otherend>/state, and that watch fires once at once;
 *  - remove drops the watch and its queued events, calls the driver's
 *    remove, and then writes Closed unless the driver allows rebind (or
 *    the toolstack had written Closing);
 *  - device_unregister() from a callback removes and frees the device.
 */
#include "sim_internal.h"

static struct dom *dom_of(struct xenbus_device *xb)
{
	int i;

	for (i = 0; i < SIM_NDOM; i++)
		if (w.dom[i].dev && &w.dom[i].dev->xb == xb)
			return &w.dom[i];
	violate(PROP_SAFE, "a driver used a xenbus_device that no longer exists");
	return NULL;
}

void *dev_get_drvdata(const struct device *dev)
{
	struct simdev *sd = (struct simdev *)((char *)dev - offsetof(struct xenbus_device, dev));

	api_call();
	return sd->drvdata;
}

void dev_set_drvdata(struct device *dev, void *data)
{
	struct simdev *sd = (struct simdev *)((char *)dev - offsetof(struct xenbus_device, dev));

	api_call();
	sd->drvdata = data;
}

int xenbus_dev_is_online(struct xenbus_device *xb)
{
	int v = 0;

	api_call();
	xs_point(0);
	if (xs_read_int(xb->nodename, "online", &v))
		v = 0;
	step_result(v);
	return !!v;
}

static void release_device(struct dom *d)
{
	struct simdev *sd = d->dev;

	d->dev = NULL;
	drop_events(d, EV_OTHEREND);
	if (sd->refs) {
		int g;

		/* the last put_device() frees it */
		for (g = 0; g < MAX_GONE && d->gone[g]; g++)
			;
		if (g == MAX_GONE)
			sim_limit("more than %d unregistered devices still referenced", MAX_GONE);
		sd->gone = 1;
		d->gone[g] = sd;
		return;
	}
	arena_free(sd, sizeof(*sd));
}

static struct simdev *simdev_of(struct device *dev)
{
	return (struct simdev *)((char *)dev - offsetof(struct xenbus_device, dev));
}

struct device *get_device(struct device *dev)
{
	api_call();
	if (dev)
		simdev_of(dev)->refs++;
	return dev;
}

void put_device(struct device *dev)
{
	struct simdev *sd;

	api_call();
	if (!dev)
		return;
	sd = simdev_of(dev);
	if (sd->refs <= 0) {
		violate(PROP_SAFE, "%s puts a device it holds no reference on", me());
		return;
	}
	if (!--sd->refs && sd->gone) {
		struct dom *d;
		int i, g;

		for (i = 0; i < SIM_NDOM; i++) {
			d = &w.dom[i];
			for (g = 0; g < MAX_GONE; g++)
				if (d->gone[g] == sd) {
					memmove(&d->gone[g], &d->gone[g + 1],
						(size_t)(MAX_GONE - 1 - g) * sizeof(d->gone[0]));
					d->gone[MAX_GONE - 1] = NULL;
				}
		}
		arena_free(sd, sizeof(*sd));
	}
}

void device_unregister(struct device *dev)
{
	struct simdev *sd = (struct simdev *)((char *)dev - offsetof(struct xenbus_device, dev));
	struct dom *d;

	api_call();
	d = dom_of(&sd->xb);
	if (!d)
		return;
	trace("%s: device_unregister(%s)", d->name, sd->nodename);
	if (sd->bound)
		act_remove(d);
	release_device(d);
}

static int driver_register(struct xenbus_driver *drv, const char *mod_name, int back)
{
	struct dom *d = cur;

	api_call();
	if (!d || (back ? d != be() : d != fe())) {
		trace("%s registered on the wrong bus", mod_name);
		return -EINVAL;
	}
	d->drv = drv;
	return 0;
}

int __xenbus_register_frontend(struct xenbus_driver *drv, struct module *owner,
			       const char *mod_name)
{
	(void)owner;
	return driver_register(drv, mod_name, 0);
}

int __xenbus_register_backend(struct xenbus_driver *drv, struct module *owner,
			      const char *mod_name)
{
	(void)owner;
	return driver_register(drv, mod_name, 1);
}

void xenbus_unregister_driver(struct xenbus_driver *drv)
{
	struct dom *d = cur;

	api_call();
	if (d && d->drv == drv) {
		if (d->dev && d->dev->bound)
			act_remove(d);
		d->drv = NULL;
	}
}

/* xenbus_dev_probe(): talk_to_otherend, probe, watch_otherend. */
static int act_probe(struct dom *d)
{
	struct simdev *sd = d->dev;
	const char *idkey = d == fe() ? "backend-id" : "frontend-id";
	const char *pathkey = d == fe() ? "backend" : "frontend";
	char path[SIM_PATH * 2];
	const char *other;
	int id, err, exists;

	cur_t->core++;
	xs_point(0);
	snprintf(path, sizeof(path), "%s/%s", sd->nodename, pathkey);
	other = xs_read(path);
	err = xs_read_int(sd->nodename, idkey, &id);
	step_result(other ? (long)strlen(other) : -1);
	if (!other || err) {
		xenbus_dev_fatal(&sd->xb, -ENOENT, "reading other end details from %s",
				 sd->nodename);
		cur_t->core--;
		return -ENOENT;
	}
	snprintf(sd->otherend, SIM_PATH, "%s", other);
	sd->xb.otherend_id = id;
	sd->have_otherend = 1;
	xs_point(1);
	exists = sd->otherend[0] && xs_exists(sd->otherend);
	step_result(exists);
	if (!exists) {
		xenbus_dev_fatal(&sd->xb, -ENOENT, "unable to read other end from %s",
				 sd->nodename);
		sd->have_otherend = 0;
		cur_t->core--;
		return -ENOENT;
	}
	cur_t->core--;
	trace("%s: %s probe(%s)", d->name, d->side, sd->nodename);
	{
		static const struct xenbus_device_id id0;

		err = d->drv->probe(&sd->xb, d->drv->ids ? d->drv->ids : &id0);
	}
	if (err) {
		trace("%s: probe failed: %d", d->name, err);
		sd->drvdata = NULL;
		sd->have_otherend = 0;
		return err;
	}
	sd->bound = 1;
	sd->watching = 1;
	/* registering a watch fires it once */
	enqueue(d, EV_OTHEREND);
	return 0;
}

/* xenbus_dev_remove() */
static void act_remove(struct dom *d)
{
	struct simdev *sd = d->dev;
	struct xenbus_driver *drv = d->drv;
	int st;

	sd->watching = 0;
	drop_events(d, EV_OTHEREND);
	trace("%s: %s remove(%s)", d->name, d->side, sd->nodename);
	if (drv->remove)
		drv->remove(&sd->xb);
	sd->drvdata = NULL;
	sd->bound = 0;
	sd->have_otherend = 0;
	cur_t->core++;
	if (!drv->allow_rebind) {
		core_switch(sd, XenbusStateClosed, 0);
	} else {
		xs_point(0);
		if (xs_read_int(sd->nodename, "state", &st))
			st = XenbusStateUnknown;
		step_result(st);
		if (st == XenbusStateClosing)
			core_switch(sd, XenbusStateClosed, 0);
	}
	cur_t->core--;
}

/* xenbus_dev_changed() for the device's directory. */
static void act_bus(struct dom *d)
{
	const char *dir = d == fe() ? fe_dir : be_dir;
	int exists, st;

	cur_t->core++;
	xs_point(0);
	exists = dir_exists(dir);
	step_result(exists);
	if (!exists) {
		if (d->dev) {
			trace("%s: %s gone, unregistering the device", d->name, dir);
			cur_t->core--;
			if (d->dev->bound)
				act_remove(d);
			release_device(d);
			cur_t->core++;
		}
		cur_t->core--;
		return;
	}
	if (d->dev) {
		cur_t->core--;
		return;
	}
	xs_point(0);
	if (xs_read_int(dir, "state", &st))
		st = XenbusStateUnknown;
	step_result(st);
	cur_t->core--;
	if (st != XenbusStateInitialising)
		return;
	d->dev = arena_alloc(sizeof(*d->dev));
	memset(d->dev, 0, sizeof(*d->dev));
	snprintf(d->dev->nodename, SIM_PATH, "%s", dir);
	d->dev->xb.nodename = d->dev->nodename;
	d->dev->xb.otherend = d->dev->otherend;
	d->dev->xb.devicetype = devtype;
	d->dev->xb.state = XenbusStateInitialising;
	trace("%s: new device %s", d->name, dir);
	if (d->loaded && d->drv)
		act_probe(d);
}

/* xenbus_otherend_changed() */
static void act_otherend(struct dom *d)
{
	struct simdev *sd = d->dev;
	int st;

	cur_t->core++;
	xs_point(1);
	if (xs_read_int(sd->otherend, "state", &st))
		st = XenbusStateUnknown;
	step_result(st);
	cur_t->core--;
	cur_t->told = st;
	trace("%s: otherend_changed(%s) in state %s", d->name, xenbus_strstate(st),
	      xenbus_strstate(sd->xb.state));
	d->drv->otherend_changed(&sd->xb, st);
}

static void act_insmod(struct dom *d)
{
	int err;

	cur_t->in_module = 1;
	err = d == fe() ? xbgen_sim_init_front() : xbgen_sim_init_back();
	cur_t->in_module = 0;
	if (err) {
		trace("%s: module init failed: %d", d->name, err);
		if (d->drv)
			violate(PROP_SAFE, "the %s module failed to load but left its driver registered",
				d->side);
		return;
	}
	if (!d->drv) {
		violate(PROP_SAFE, "the %s module loaded but registered no driver", d->side);
		return;
	}
	d->loaded = 1;
	d->ever_loaded = 1;
	if (d->dev && !d->dev->bound)
		act_probe(d);
}

static void act_rmmod(struct dom *d)
{
	cur_t->in_module = 1;
	if (d == fe())
		xbgen_sim_exit_front();
	else
		xbgen_sim_exit_back();
	cur_t->in_module = 0;
	if (d->drv)
		violate(PROP_SAFE, "the %s module unloaded with its driver still registered",
			d->side);
	d->loaded = 0;
}
