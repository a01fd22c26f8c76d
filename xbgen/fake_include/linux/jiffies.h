/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _XBGEN_LINUX_JIFFIES_H
#define _XBGEN_LINUX_JIFFIES_H

#define HZ 250
extern unsigned long volatile jiffies;

#endif
