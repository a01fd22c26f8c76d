/* SPDX-License-Identifier: GPL-2.0-only */
#include <linux/types.h>
#include <linux/printk.h>
#include <linux/bug.h>
