/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _XBGEN_LINUX_ERR_H
#define _XBGEN_LINUX_ERR_H

#include <linux/types.h>

void *ERR_PTR(long error);
long PTR_ERR(const void *ptr);
bool IS_ERR(const void *ptr);

#endif
