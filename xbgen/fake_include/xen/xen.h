/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _XBGEN_XEN_XEN_H
#define _XBGEN_XEN_XEN_H

enum xen_domain_type {
	XEN_NATIVE,
	XEN_PV_DOMAIN,
	XEN_HVM_DOMAIN,
};

extern enum xen_domain_type xen_domain_type;

#define xen_domain()		(xen_domain_type != XEN_NATIVE)
#define xen_pv_domain()		(xen_domain_type == XEN_PV_DOMAIN)
#define xen_hvm_domain()	(xen_domain_type == XEN_HVM_DOMAIN)

int xen_initial_domain(void);

#endif
