// SPDX-License-Identifier: GPL-2.0-only
/*
 * xbgen verify: fs/debugfs/inode.c: directories and files, as entries a
 * configuration holds.
 */
#include "../sim_internal.h"

#define SIM_ERR_PTR(e) ((void *)(intptr_t)(e))

static int is_err(const void *p)
{
	return (uintptr_t)p >= (uintptr_t)-4095;
}

static int dent_index(const struct dentry *d)
{
	int i;

	for (i = 0; i < MAX_DENTRIES; i++)
		if (w.dents[i].used && w.dents[i].d == d)
			return i;
	return -1;
}

static struct dentry *dent_create(const char *name, struct dentry *parent, int dir, void *data)
{
	struct dent *e;
	int i, pi = -1;

	api_call();
	may_sleep("creating a debugfs entry");
	if (is_err(parent))
		return parent;
	if (parent) {
		pi = dent_index(parent);
		if (pi < 0) {
			violate(PROP_SAFE, "%s creates debugfs entry '%s' in a directory that was removed",
				me(), name);
			return SIM_ERR_PTR(-ENOENT);
		}
	}
	for (i = 0; i < MAX_DENTRIES; i++)
		if (w.dents[i].used && w.dents[i].parent == pi && !strcmp(w.dents[i].name, name)) {
			trace("%s: debugfs entry '%s' exists already: -EEXIST", cur->name, name);
			return SIM_ERR_PTR(-EEXIST);
		}
	if (fault_here("creating a debugfs entry"))
		return SIM_ERR_PTR(-ENOMEM);
	for (i = 0; i < MAX_DENTRIES && w.dents[i].used; i++)
		;
	if (i == MAX_DENTRIES)
		sim_limit("more than %d debugfs entries", MAX_DENTRIES);
	e = &w.dents[i];
	memset(e, 0, sizeof(*e));
	e->d = sim_block(sizeof(struct dentry));
	e->used = 1;
	e->parent = (signed char)pi;
	e->dom = (unsigned char)dom_index(cur);
	e->module = (unsigned char)cur_t->in_module;
	e->dir = (unsigned char)dir;
	e->data = data;
	snprintf(e->name, sizeof(e->name), "%s", name);
	trace("%s creates debugfs %s '%s'", cur->name, dir ? "directory" : "file", name);
	return e->d;
}

struct dentry *debugfs_create_dir(const char *name, struct dentry *parent)
{
	return dent_create(name, parent, 1, NULL);
}

struct dentry *debugfs_create_file(const char *name, unsigned short mode, struct dentry *parent,
				   void *data, const struct file_operations *fops)
{
	(void)mode;
	(void)fops;
	return dent_create(name, parent, 0, data);
}

static void dent_remove(int i)
{
	struct alloc *a;
	int j;

	for (j = 0; j < MAX_DENTRIES; j++)
		if (w.dents[j].used && w.dents[j].parent == i)
			dent_remove(j);
	a = find_alloc(w.dents[i].d);
	if (a)
		drop_block(a);
	w.dents[i].used = 0;
}

void debugfs_remove(struct dentry *dentry)
{
	int i;

	api_call();
	may_sleep("debugfs_remove()");
	if (!dentry || is_err(dentry))
		return;
	i = dent_index(dentry);
	if (i < 0) {
		violate(PROP_RESOURCES, "%s removes a debugfs entry that was already removed", me());
		return;
	}
	trace("%s removes debugfs entry '%s'", cur->name, w.dents[i].name);
	dent_remove(i);
}
