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

static struct simdev *simdev_of(const struct device *dev)
{
	return (struct simdev *)((char *)dev - offsetof(struct xenbus_device, dev));
}

/*
 * The device leaves the bus; its memory goes with the last reference
 * (get_device()/put_device()): until then it is a block of the domain's,
 * saved, hashed and leak-checked like the drivers' own.
 */
static void release_device(struct dom *d)
{
	struct simdev *sd = d->dev;

	d->dev = NULL;
	drop_events(d, EV_OTHEREND);
	if (sd->refs) {
		trace("%s: %s stays in memory: %d reference(s) to it", d->name, sd->nodename,
		      sd->refs);
		track(sd, sizeof(*sd), K_DEV);
		return;
	}
	arena_free(sd, sizeof(*sd));
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
	struct alloc *a;

	api_call();
	if (!dev)
		return;
	sd = simdev_of(dev);
	if (sd->refs <= 0) {
		violate(PROP_SAFE, "%s puts a device reference it does not hold", me());
		return;
	}
	if (--sd->refs)
		return;
	a = find_alloc(sd);
	if (a && a->kind == K_DEV) {
		trace("%s: the last reference to %s goes: the device is freed",
		      cur ? cur->name : "?", sd->nodename);
		drop_block(a);
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
	if (d == fe())
		w.nanswered = 0;	/* a new binding numbers its requests afresh */
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

/*
 * `xl save` / `xl migrate` (or `xl save -c`, w.saving == 2) from the guest's
 * side, run where Linux runs it: do_suspend() (drivers/xen/manage.c) in
 * the xenwatch thread, from the shutdown watch.  User tasks are frozen
 * (a call in flight stays where it is); dpm_suspend: xenbus_dev_suspend()
 * calls the driver's .suspend, if any; the suspend hypercall returns in
 * the new domain once the toolstack has re-plugged and unpaused it (or at
 * once, cancelled, for a checkpoint: xenbus_dev_cancel() does nothing);
 * then xs_resume() and dpm_resume: xenbus_dev_resume() talks to the other
 * end again (drops the otherend watch and its queued events, re-reads the
 * backend's path and id), sets dev->state to Initialising in memory only,
 * calls the driver's .resume, if any, and watches the other end again,
 * which fires once.  Then the tasks thaw.
 */
static void act_save(struct dom *d)
{
	struct simdev *sd = d->dev;
	char path[SIM_PATH * 2];
	const char *other;
	int err = 0, id;

	w.frozen = 1;
	trace("%s: do_suspend(): tasks frozen", d->name);
	if (sd && sd->bound && d->drv->suspend) {
		trace("%s: %s suspend(%s)", d->name, d->side, sd->nodename);
		err = d->drv->suspend(&sd->xb);
		if (err)
			trace("%s: suspend failed: %d", d->name, err);
	}
	if (w.saving == 2) {
		trace("%s: the suspend is cancelled (checkpoint): xenbus_dev_cancel() does nothing",
		      d->name);
		goto thaw;
	}
	save_guest();
	block_on(BLK_PAUSED, NULL, 0, "the suspend hypercall");
	trace("%s: resumed in the new domain", d->name);
	sd = d->dev;
	if (!sd || !sd->bound || !d->drv)
		goto thaw;
	/* talk_to_otherend() */
	cur_t->core++;
	sd->watching = 0;
	drop_events(d, EV_OTHEREND);
	xs_point(0);
	snprintf(path, sizeof(path), "%s/backend", sd->nodename);
	other = xs_read(path);
	err = xs_read_int(sd->nodename, "backend-id", &id);
	step_result(other ? (long)strlen(other) : -1);
	cur_t->core--;
	if (!other || err) {
		trace("%s: resume (talk_to_otherend) failed", d->name);
		goto thaw;
	}
	snprintf(sd->otherend, SIM_PATH, "%s", other);
	sd->xb.otherend_id = id;
	sd->xb.state = XenbusStateInitialising;
	if (d->drv->resume) {
		trace("%s: %s resume(%s)", d->name, d->side, sd->nodename);
		err = d->drv->resume(&sd->xb);
		if (err) {
			trace("%s: resume failed: %d", d->name, err);
			goto thaw;
		}
	}
	sd->watching = 1;
	enqueue(d, EV_OTHEREND);
thaw:
	w.saving = 0;
	w.frozen = 0;
	trace("%s: tasks thawed", d->name);
}
