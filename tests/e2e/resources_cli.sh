#!/bin/sh
#   resources_cli.sh: "osmose resources" probes a fake machine (a tree of
#   /proc, /sys and /dev under a temporary root) and prints what osmosed
#   would advertise; config overrides and lease caps apply on top.
OSMOSE=${OSMOSE:-${top_builddir:-.}/src/osmose}
command -v jq >/dev/null 2>&1 || { echo "jq not installed"; exit 77; }
[ -x "$OSMOSE" ] || { echo "no osmose binary at $OSMOSE"; exit 77; }

work=$(mktemp -d "${TMPDIR:-/tmp}/osmose-resources-e2e.$$.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT INT TERM
root="$work/root"
fail () { echo "FAIL: $*"; exit 1; }

#   fake PATH CONTENT: write ROOT/PATH, making its directories
fake () {
    mkdir -p "$root/$(dirname "$1")" && printf '%b' "$2" >"$root/$1"
}

#   A laptop with eight CPUs, two NVIDIA GPUs, an NPU, on battery at 15%
i=0
: >"$work/cpuinfo"
while [ $i -lt 8 ]; do
    printf 'processor\t: %d\nmodel name\t: Fake(R) CPU 9000 @ 4.00GHz\ncpu MHz\t\t: 4000.000\n\n' $i >>"$work/cpuinfo"
    i=$((i + 1))
done
mkdir -p "$root/proc" && cp "$work/cpuinfo" "$root/proc/cpuinfo"
fake proc/meminfo 'MemTotal:       32768000 kB\nMemFree:         1000000 kB\nMemAvailable:   20480000 kB\n'
fake proc/loadavg '2.50 1.00 0.50 3/456 7890\n'
fake proc/driver/nvidia/gpus/0000:17:00.0/information 'Model: \t\t NVIDIA RTX A6000\nBus Location: \t 0000:17:00.0\n'
fake proc/driver/nvidia/gpus/0000:65:00.0/information 'Model: \t\t NVIDIA RTX A6000\nBus Location: \t 0000:65:00.0\n'
fake dev/nvidia0 ''
fake dev/nvidia1 ''
fake dev/nvidiactl ''
fake sys/class/drm/card0/device/vendor '0x1a03\n'            # BMC display: not a GPU
fake sys/class/drm/card1/device/vendor '0x10de\n'            # the NVIDIA boards again
fake sys/class/drm/card1-DP-1/status 'connected\n'           # a connector
fake dev/accel/accel0 ''
fake sys/class/accel/accel0/dev '261:0\n'
fake sys/class/power_supply/AC/type 'Mains\n'
fake sys/class/power_supply/AC/online '0\n'
fake sys/class/power_supply/BAT0/type 'Battery\n'
fake sys/class/power_supply/BAT0/capacity '15\n'
fake sys/class/power_supply/BAT0/status 'Discharging\n'

: >"$work/empty.conf"
out="$work/out.json"
"$OSMOSE" resources --root "$root" -c "$work/empty.conf" --json >"$out" \
    || fail "osmose resources exited $?"
cat "$out"
check () {
    jq -e "$1" "$out" >/dev/null || fail "expected $1 in $(cat "$out")"
}
check '.capacity.cpus == 8'
check '.capacity.cpu_model == "Fake(R) CPU 9000 @ 4.00GHz"'
check '.capacity.memory_total_mb == 32000'
check '.load.memory_free_mb == 20000'
check '.load.load1 == 2.5'
check '.capacity.gpus == 2'
check '[.capacity.gpu_models[] | select(.vendor == "nvidia" and .name == "NVIDIA RTX A6000")] | length == 2'
check '.capacity.npus == 1'
check '.capacity.power == "battery"'
check '.load.battery_percent == 15'
check '.battery_low == true'
check '.capacity.location == ""'
check '.capacity.lease == {"cpus": 8, "gpus": 2, "npus": 1, "memory_mb": 32000}'

#   The same through the environment, and as a table for people
OSMOSE_SYSROOT="$root" "$OSMOSE" -j resources -c "$work/empty.conf" >"$work/env.json" \
    || fail "OSMOSE_SYSROOT run exited $?"
cmp -s "$out" "$work/env.json" || fail "OSMOSE_SYSROOT gives other figures"
"$OSMOSE" resources --root "$root" -c "$work/empty.conf" >"$work/table" || fail "table exited $?"
cat "$work/table"
grep -q '^gpus  *2: NVIDIA RTX A6000, NVIDIA RTX A6000$' "$work/table" || fail "gpus line"
grep -q '^power  *battery, battery 15% (below 20%: refuses leases)$' "$work/table" || fail "power line"
grep -q '^load  *2.50$' "$work/table" || fail "load line"

#   Overrides and caps from a config file
cat >"$work/tuned.conf" <<'CONF'
node
    location = hq/floor1/room3
resources
    cpus = 4
    gpus = 1
    memory_mb = 16000
    battery_percent = 50
policy
    lease_cpus = 2
    lease_gpus = 0
    lease_memory_mb = 99999999
    battery_min_percent = 60
CONF
"$OSMOSE" resources --root "$root" -c "$work/tuned.conf" --json >"$out" \
    || fail "tuned run exited $?"
cat "$out"
check '.capacity.cpus == 4 and .capacity.lease.cpus == 2'
check '.capacity.gpus == 1 and (.capacity.gpu_models | length) == 1 and .capacity.lease.gpus == 0'
check '.capacity.memory_total_mb == 16000 and .capacity.lease.memory_mb == 16000'
check '.load.memory_free_mb == 16000'
check '.capacity.npus == 1 and .capacity.lease.npus == 1'
check '.capacity.location == "hq/floor1/room3"'
check '.load.battery_percent == 50 and .capacity.power == "battery"'
check '.battery_low == true'

#   The charger goes in: wall power, no longer below the threshold
printf '1\n' >"$root/sys/class/power_supply/AC/online"
printf 'Charging\n' >"$root/sys/class/power_supply/BAT0/status"
"$OSMOSE" resources --root "$root" -c "$work/empty.conf" --json >"$out" || fail "exited $?"
check '.capacity.power == "wall" and .battery_low == false and .load.battery_percent == 15'
#   ...unless the operator says the device is on battery
printf 'resources\n    power = battery\n' >"$work/battery.conf"
"$OSMOSE" resources --root "$root" -c "$work/battery.conf" --json >"$out" || fail "exited $?"
check '.capacity.power == "battery" and .battery_low == true'

#   Errors: each says what failed and exits with its code
"$OSMOSE" resources --root "$work/missing" -c "$work/empty.conf" >/dev/null 2>"$work/err"
[ $? -eq 2 ] || fail "missing root should exit 2"
grep -q "$work/missing" "$work/err" || fail "error should name the root"
printf 'resources\n    cpus = many\n' >"$work/bad.conf"
"$OSMOSE" resources --root "$root" -c "$work/bad.conf" >/dev/null 2>"$work/err"
[ $? -eq 1 ] || fail "bad config should exit 1"
grep -q "bad.conf:2" "$work/err" || fail "error should name the file and line: $(cat "$work/err")"
"$OSMOSE" resources extra >/dev/null 2>&1
[ $? -eq 2 ] || fail "extra argument should exit 2"

#   This machine, for real: at least one CPU, figures that add up
"$OSMOSE" resources -c "$work/empty.conf" --json >"$out" || fail "real probe exited $?"
check '.capacity.cpus >= 1 and .load.memory_free_mb <= .capacity.memory_total_mb'
echo "resources_cli: OK"
