#!/bin/sh
# PID 1 of the guest in the buffer benchmark (see dom0-init.sh here): the
# tree's frontend runs dom0's self-tests; xen-blkfront gives /dev/xvdb, which
# O_DIRECT dd writes and reads.
export PATH=/bin:/usr/bin
# shellcheck source=/dev/null
. /xbgen/config
# shellcheck source-path=SCRIPTDIR/../../xbgen/e2e/init source=guest.sh
. /xbgen/guest.sh

XVD=/dev/xvdb

# blkfront KEY: load xen-blkfront, wait for the disk.
blkfront() {
	insmod /lib/modules/xen-blkfront.ko || { report "$1" "FAIL insmod xen-blkfront"; return; }
	wait_for 30 test -b "$XVD" || { report "$1" "FAIL no $XVD 30 s after insmod"; return; }
	report "$1" "PASS $XVD $(cat /sys/block/xvdb/size) sectors"
}

# dd_all WHAT SIZE DEPTH N: DEPTH dd processes, each its share of N blocks of
# SIZE bytes, at once; its hundredths of a second in $took, 1 on any error.
dd_all() {
	per=$(($4 / $3))
	t0=$(centis)
	i=0
	pids=
	while [ "$i" -lt "$3" ]; do
		if [ "$1" = write ]; then
			dd if=/dev/zero of="$XVD" bs="$2" count="$per" seek=$((i * per)) oflag=direct 2> "/tmp/dd.$i" &
		else
			dd if="$XVD" of=/dev/null bs="$2" count="$per" skip=$((i * per)) iflag=direct 2> "/tmp/dd.$i" &
		fi
		pids="$pids $!"
		i=$((i + 1))
	done
	failed=0
	for pid in $pids; do wait "$pid" || failed=1; done
	took=$(($(centis) - t0))
	return "$failed"
}

# blk KEY SIZE DEPTH N: N blocks of SIZE written, then read, DEPTH at once.
blk() {
	dd_all write "$2" "$3" "$4" || { report "$1" "FAIL dd write: $(cat /tmp/dd.*)"; return; }
	write=$took
	dd_all read "$2" "$3" "$4" || { report "$1" "FAIL dd read: $(cat /tmp/dd.*)"; return; }
	report "$1" "PASS bytes=$(($4 / $3 * $3 * $2)) write_cs=$write read_cs=$took"
}

# shellcheck disable=SC2031 # serve_commands sets them, in its loop, and calls this there
on_command() {
	case $cmd in
	selftest) selftest "$key" "$@" ;;
	blkfront) blkfront "$key" ;;
	blk) blk "$key" "$@" ;;
	*) report "$key" "FAIL unknown command '$cmd'" ;;
	esac
}

guest_boot
mount_debugfs
insmod "/xbgen/driver/$FRONT_MOD.ko" || { report loaded "FAIL insmod exited $?"; idle; }
report loaded PASS
serve_commands
