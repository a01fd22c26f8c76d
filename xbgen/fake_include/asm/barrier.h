/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _XBGEN_ASM_BARRIER_H
#define _XBGEN_ASM_BARRIER_H

#include <linux/compiler.h>

#endif
