#!/bin/sh
# PID 1 of dom0 in the xbgen e2e initramfs: bring up the Xen toolstack, run the
# scenario, report on the console and leave QEMU through isa-debug-exit.  The
# stages and what they print: the init library (protocol.sh and the parts it
# lists), packed next to /xbgen/config.
# shellcheck source=/dev/null
. /xbgen/config
export PATH="/bin:/usr/bin:$XEN_BIN"
# shellcheck source=dom0.sh
. /xbgen/dom0.sh
# shellcheck source=trace.sh
. /xbgen/trace.sh
# shellcheck source=stage1.sh
. /xbgen/stage1.sh
# shellcheck source=stage2.sh
. /xbgen/stage2.sh
# shellcheck source=mixed.sh
. /xbgen/mixed.sh
# shellcheck source=stage3.sh
. /xbgen/stage3.sh
# shellcheck source=lifecycle.sh
. /xbgen/lifecycle.sh
# shellcheck source=ring.sh
. /xbgen/ring.sh
# shellcheck source=net.sh
. /xbgen/net.sh

main() {
	mount_basics
	echo "XBGEN-BOOT $(now)"
	boot_toolstack dom0/toolstack
	start_watcher
	[ "$RING" = 1 ] && enable_grant_debug
	stage1
	if [ "$GUEST" = 1 ]; then
		stage2
		other_guests
		[ "$RING" = 1 ] && ring_stage
		[ "$PINGS" -gt 0 ] && net_stage
		if [ "$STAGE3" = 1 ]; then
			if [ "$DRIVER_DOMAIN" = 1 ]; then dd_stage3; else stage3; fi
		fi
	fi
	finish PASS
}

main
