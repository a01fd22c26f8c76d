/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _XBGEN_LINUX_FS_H
#define _XBGEN_LINUX_FS_H

#include <linux/types.h>

struct inode;
struct module;

struct file {
	void *private_data;
};

struct file_operations {
	struct module *owner;
	loff_t (*llseek)(struct file *file, loff_t offset, int whence);
	ssize_t (*read)(struct file *file, char __user *buf, size_t count, loff_t *ppos);
	ssize_t (*write)(struct file *file, const char __user *buf, size_t count,
			 loff_t *ppos);
	int (*open)(struct inode *inode, struct file *file);
	int (*release)(struct inode *inode, struct file *file);
};

int simple_open(struct inode *inode, struct file *file);
loff_t default_llseek(struct file *file, loff_t offset, int whence);
ssize_t simple_read_from_buffer(void __user *to, size_t count, loff_t *ppos,
				const void *from, size_t available);

#endif
