# shellcheck shell=sh
# What the kernel says and holds (e2e init library: see protocol.sh): its log
# since a step began, IRQs bound to event channels, the grant table's
# deferred frees; the first mounts of every init.

# Kernel complaints, wherever they appear.
KERNEL_COMPLAINTS='WARNING:|BUG:|Oops|Call Trace:|general protection fault|Kernel panic|segfault at|traps: '
# KERNEL_BAD, what kernel_clean refuses: the complaints, and a grant the peer
# still maps when it is ended, which is freed later: fine, unless it is leaked
# or never freed (grant-table.c: "leaking g.e.", "g.e. ... still pending").
KERNEL_BAD="$KERNEL_COMPLAINTS"'|leaking g\.e\.|g\.e\. 0x[0-9a-f]+ still'

# mount_basics: /proc, /sys and /dev (PID 1 starts with none).
mount_basics() {
	mount -t proc proc /proc
	mount -t sysfs sysfs /sys
	mount -t devtmpfs dev /dev
}

# kernel_clean: nothing KERNEL_BAD in the kernel log since the step began
# (DMESG_MARK lines in); what there is goes to $bad.
kernel_clean() {
	bad=$(dmesg | tail -n +$((DMESG_MARK + 1)) | grep -E "$KERNEL_BAD" | head -3)
	[ -z "$bad" ] && return 0
	echo "XBGEN-KERNEL-BAD $bad"
	return 1
}

# log_count TEXT: occurrences of TEXT in the kernel log since the step began.
log_count() { dmesg | tail -n +$((DMESG_MARK + 1)) | grep -cF "$1"; }

# irq_lines PATTERN: lines of /proc/interrupts whose chip is Xen's (an event
# channel bound to an IRQ), or, with PATTERN, whose action is exactly PATTERN.
irq_lines() {
	if [ -z "$1" ]; then grep -c ' xen-' /proc/interrupts
	else awk -v name="$1" '$NF == name' /proc/interrupts | wc -l
	fi
}

# grant_figures: the grant table's deferred frees (grant-table.c's pr_debug
# lines, enabled by enable_grant_debug): deferred, freed and leaked entries.
grant_figures() {
	dmesg > /tmp/dmesg.grants
	echo "gnt_deferred=$(grep -c 'deferring g\.e\.' /tmp/dmesg.grants)" \
		"gnt_freed=$(grep -c 'freeing g\.e\.' /tmp/dmesg.grants)" \
		"gnt_leaked=$(grep -c 'leaking g\.e\.' /tmp/dmesg.grants)"
}

mount_debugfs() {
	mkdir -p /sys/kernel/debug
	grep -q ' /sys/kernel/debug ' /proc/mounts || mount -t debugfs debugfs /sys/kernel/debug
}

# enable_grant_debug: debugfs, and the grant table's pr_debug lines (a grant
# still mapped by the other end when it is ended is freed later, by a timer).
enable_grant_debug() {
	mount_debugfs
	echo 'file grant-table.c +p' > /sys/kernel/debug/dynamic_debug/control
}
