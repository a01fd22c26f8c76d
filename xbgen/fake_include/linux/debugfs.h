/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _XBGEN_LINUX_DEBUGFS_H
#define _XBGEN_LINUX_DEBUGFS_H

#include <linux/fs.h>

struct dentry;

struct dentry *debugfs_create_dir(const char *name, struct dentry *parent);
struct dentry *debugfs_create_file(const char *name, unsigned short mode,
				   struct dentry *parent, void *data,
				   const struct file_operations *fops);
void debugfs_remove(struct dentry *dentry);

#endif
