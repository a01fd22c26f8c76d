/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _XBGEN_LINUX_LOG2_H
#define _XBGEN_LINUX_LOG2_H

int __xbgen_ilog2(unsigned long long n);
#define ilog2(n) __xbgen_ilog2(n)

#endif
