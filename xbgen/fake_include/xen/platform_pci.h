/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _XBGEN_XEN_PLATFORM_PCI_H
#define _XBGEN_XEN_PLATFORM_PCI_H

#include <linux/types.h>

bool xen_has_pv_devices(void);

#endif
