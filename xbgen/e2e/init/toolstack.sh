# shellcheck shell=sh
# dom0's Xen toolstack (e2e init library: see protocol.sh): xenstored,
# xenconsoled and xl; the guests it creates; the end of the run.

GUEST_NAME=xbgen-guest
GUEST_LOG=/var/log/xen/console/guest-$GUEST_NAME.log

# boot_toolstack NAME: a step NAME that loads Xen's drivers and starts
# xenstored (with TRACE set, tracing into it: trace.sh), dom0's own entries
# and, for a run with guests, xenconsoled.
boot_toolstack() {
	step "$1"
	mkdir -p /dev/pts /tmp /run/xen /run/xenstored /var/lib/xenstored /var/lib/xen \
		/var/log/xen/console /run/lock /etc/xen
	mount -t devpts devpts /dev/pts
	: > /etc/xen/xl.conf
	for m in $XEN_MODS; do
		run insmod "/lib/modules/$m.ko"
	done
	run mount -t xenfs xenfs /proc/xen
	export XENSTORED_ROOTDIR=/var/lib/xenstored
	run xenstored --pid-file /run/xen/xenstored.pid ${TRACE:+-T "$TRACE"}
	run xen-init-dom0
	[ "$GUEST" = 1 ] && run xenconsoled --log=guest --log-dir=/var/log/xen/console
	end_step
}

NEXT_CPU=1
# new_guest NAME DIR [CONFIG...]: xl create a guest booting DIR/vmlinuz and
# DIR/initrd.gz, on a physical CPU of its own; its domid goes to $NEW_DOMID.
# Of xl's type XL_TYPE (x86: PV; Arm: pvh, its one type) or NEW_TYPE (x86's
# "pvh": no device model, the same kernel entered at its PVH entry point,
# paging by Xen's HAP).
new_guest() {
	name=$1 dir=$2
	shift 2
	cat > "/tmp/$name.cfg" <<-CFG
		name = "$name"
		type = "${NEW_TYPE:-$XL_TYPE}"
		kernel = "$dir/vmlinuz"
		ramdisk = "$dir/initrd.gz"
		extra = "console=hvc0 ignore_loglevel"
		memory = 192
		vcpus = 1
		cpus = "$NEXT_CPU"
		on_poweroff = "destroy"
		on_crash = "preserve"
		$*
	CFG
	NEXT_CPU=$((NEXT_CPU + 1))
	run xl create "/tmp/$name.cfg"
	# shellcheck disable=SC2034 # for the caller
	NEW_DOMID=$(xl domid "$name")
}

# guest_gone: domain DOMID is no more.
guest_gone() { ! xl list "$DOMID" >/dev/null 2>&1; }

# domain_gone DOMID: Xen holds nothing of domain DOMID any more (a dying
# domain whose pages the backend still maps is listed until it unmaps).
domain_gone() { ! xl list "$1" >/dev/null 2>&1; }

# finish PASS|FAIL: the guests' consoles, the result, and QEMU stopped with
# an exit status that carries it.  AT_FINISH, when set, names a function to
# run first.
finish() {
	[ -n "$WATCHER" ] && kill "$WATCHER" 2>/dev/null
	[ -z "$AT_FINISH" ] || "$AT_FINISH"
	if [ -f "$GUEST_LOG" ]; then
		sleep 0.2
		sed 's/^/[guest] /' "$GUEST_LOG"
	fi
	# the other guests' consoles: driver domain, guests of other releases
	for log in /var/log/xen/console/guest-xbgen-*.log; do
		[ -f "$log" ] || continue
		name=${log#*/guest-xbgen-}
		name=${name%.log}
		[ "$name" = guest ] && continue
		sed "s/^/[guest:$name] /" "$log"
	done
	echo "XBGEN-RESULT $1 $(now)"
	if [ "$1" = PASS ]; then code='\020'; else code='\040'; fi
	printf '%b' "$code" | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
	poweroff -f
}

# diagnostics: after a failed step, what xenstore, sysfs and the kernel hold.
diagnostics() {
	echo "XBGEN-DIAG begin"
	xenstore-ls -fp /local/domain/0/backend 2>&1 | head -40
	xenstore-ls -fp /local/domain/0/device 2>&1 | head -20
	[ -n "$DOMID" ] && xenstore-ls -fp "/local/domain/$DOMID/device" 2>&1 | head -20
	ls /sys/bus/xen-backend/devices
	grep -E " ($DEV|$BACK_MOD)\$" /proc/interrupts
	# Xen's own view of the event channels (pending/masked) goes to the serial log.
	[ "$RING" = 1 ] && xl debug-keys e
	lsmod
	dmesg | tail -25
	echo "XBGEN-DIAG end"
}
