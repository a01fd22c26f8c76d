#!/bin/sh
# shellcheck disable=SC2119 # library functions with optional words
# PID 1 of dom0 in the buffer benchmark (benchmarks/bench_buffers.py), on the
# e2e init library (xbgen/e2e/init): the tree's backend and Debian's
# xen-blkback with a RAM disk (brd) in dom0, one PV guest running the tree's
# frontend and xen-blkfront.  For each size in SIZES and each depth (1 and
# FULL_DEPTH calls in flight) the guest moves BYTES each way: through our
# self-test (each call a SIZE-byte buffer there and back), then through
# /dev/xvdb with O_DIRECT dd (BYTES written, then read, in SIZE blocks; DEPTH
# dd processes on disjoint parts at once).  XBGEN-SELFTEST bench/ours-SIZE-D
# and XBGEN-BENCH blk lines carry the figures; the script does the sums.
# shellcheck source=/dev/null
. /xbgen/config
export PATH="/bin:/usr/bin:$XEN_BIN"
# shellcheck source=/dev/null
. /xbgen/bench.conf
# shellcheck source-path=SCRIPTDIR/../../xbgen/e2e/init source=dom0.sh
. /xbgen/dom0.sh

# The disk: a RAM disk of BYTES; libxl's hotplug script for it (blk-hotplug)
# only tells blkback which device it is.
DISK="disk = [ 'format=raw, vdev=xvdb, access=rw, script=/xbgen/blk-hotplug, target=/dev/ram0' ]"

# ours SIZE DEPTH: BYTES each way through the tree's self-test.
ours() {
	step "bench/ours-$1-$2"
	ring_selftest "bench/ours-$1-$2" "$DEVID" $((BYTES / $1)) "$2" "$1" || fail "self-test: $res"
	end_step
}

# blk SIZE DEPTH: BYTES written to /dev/xvdb, then read, by the guest.
blk() {
	step "bench/blk-$1-$2"
	next_key k
	guest_ask 900 "$key" blk "$1" "$2" $((BYTES / $1))
	record "XBGEN-BENCH blk size=$1 depth=$2 ${res#PASS }"
	end_step "${res#PASS }"
}

main() {
	mount_basics
	echo "XBGEN-BOOT $(now)"
	boot_toolstack bench/toolstack
	step bench/guest
	run insmod /lib/modules/brd.ko rd_nr=1 rd_size=$((BYTES / 1024))
	run insmod /lib/modules/xen-blkback.ko
	load "$BE_MOD"
	start_guest "$DISK"
	end_step
	# shellcheck disable=SC2034 # devices.sh reads it
	PREFIX=bench
	activate "$DOMID"
	connect "$DOMID"
	step bench/blkfront
	guest_ask 60 blkfront
	end_step "${res#PASS }"
	for size in $SIZES; do
		for depth in 1 "$FULL_DEPTH"; do
			ours "$size" "$depth"
			blk "$size" "$depth"
		done
	done
	finish PASS
}

main
