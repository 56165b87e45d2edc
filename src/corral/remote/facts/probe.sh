# corral's facts probe, run by the host's login shell (POSIX sh: dash, busybox ash, bash...)
# in one round trip. Output: sections, each opened by a line "@@corral:NAME"; the files it
# reads come from one awk run, each opened by "@@corral:file PATH". What a host lacks (a
# file, a tool) leaves its part empty, which the parser reads as None; nothing here stops
# the probe early. On Linux it starts three processes: awk, df, and the shell itself.
LC_ALL=C
export LC_ALL
set --
for p in /proc/sys/kernel/ostype /proc/sys/kernel/hostname /proc/sys/kernel/osrelease \
    /proc/sys/kernel/version /proc/sys/kernel/arch /etc/hosts /etc/os-release \
    /usr/lib/os-release /etc/debian_version /etc/redhat-release /etc/alpine-release \
    /sys/devices/system/cpu/online /proc/meminfo /proc/uptime /proc/mounts /proc/1/comm \
    /proc/net/fib_trie /proc/net/if_inet6 /proc/net/route /run/systemd/container \
    /sys/class/dmi/id/product_name /sys/class/dmi/id/sys_vendor /proc/1/cgroup /proc/cpuinfo
do
    [ -r "$p" ] && set -- "$@" "$p"
done
for p in /sys/block/*/size; do
    [ -r "$p" ] && set -- "$@" "$p"
done
if [ $# -gt 0 ]; then
    awk 'FNR == 1 { print "@@corral:file " FILENAME }
        FILENAME == "/proc/cpuinfo" { if (!seen && $1 == "flags") { print; seen = 1 }; next }
        FILENAME == "/proc/meminfo" { if ($1 ~ /^(MemTotal|MemAvailable|SwapTotal):$/) print; next }
        { print }' "$@" 2>/dev/null
fi
if [ ! -r /proc/sys/kernel/ostype ]; then
    printf '@@corral:uname\n'
    uname -s; uname -n; uname -r; uname -v; uname -m
    printf '@@corral:sysctl\n'
    for k in hw.ncpu hw.physmem hw.memsize kern.boottime; do
        printf '%s ' "$k"
        sysctl -n "$k" 2>/dev/null || echo
    done
    printf 'now '
    date +%s
elif [ ! -r /proc/sys/kernel/arch ]; then
    printf '@@corral:arch\n'
    uname -m
fi
printf '@@corral:df\n'
df -P -k 2>/dev/null
printf '@@corral:hints\n'
for p in /run/systemd/system /run/openrc /run/runit /sbin/openrc-run /sbin/upstart \
    /.dockerenv /run/.containerenv /proc/vz /proc/bc /proc/xen; do
    [ -e "$p" ] && echo "$p"
done
printf '@@corral:packages\n'
for p in apt-get dnf yum zypper apk pacman emerge xbps-install pkg opkg brew; do
    command -v "$p" >/dev/null 2>&1 && { echo "$p"; break; }
done
if [ ! -r /proc/net/fib_trie ]; then
    if command -v ip >/dev/null 2>&1; then
        printf '@@corral:ip_addr\n'
        ip -o addr show 2>/dev/null
    elif command -v ifconfig >/dev/null 2>&1; then
        printf '@@corral:ifconfig\n'
        ifconfig -a 2>/dev/null
    fi
fi
printf '@@corral:end\n'
