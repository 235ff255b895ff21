#!/usr/bin/env bash
# bench/run.sh cli: latch CLI macro benchmarks against latch-emulator (run-command latency 0), NativeAOT binary.
#   connect            key already present, 11 interleaved rounds (BENCH_CLI_ROUNDS; BENCH_CLI_DEBUG=1 prints auto's --verbose),
#                      median and p90: latch's start ->
#                      exec (ssh replaced by /bin/true), and what auto (key checked over ssh) adds to a plain ssh login
#                      (goal <= 50 ms each)
#   first sync         keys sync VM --sync-method run-command on a VM without the key (median of 5)
#   keys sync --all    N = 250, 500, 1000 emulated VMs, --parallel 256 (BENCH_CLI_PARALLEL) (goal: 1000 in <= 10 s, linear in N), with the
#                      CPU of latch, of the emulator and of the VMs' scripts (which share this machine's cores)
# Emulated VMs run their run-command scripts on this machine inside one private /etc (a passwd naming every VM's
# user), so the real sync script, getent, flock and setpriv all run. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "bench cli: needs root (mount namespaces for the emulated VMs)" >&2; exit 2; }
for tool in unshare ssh ssh-keygen sshd; do command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || { echo "bench cli: needs $tool" >&2; exit 2; }; done

work="$(mktemp -d -t latch-bench-cli.XXXXXX)"
chmod 755 "$work"
emulator_pid=""; sshd_pid=""
cleanup() {
  [ -n "$sshd_pid" ] && kill "$sshd_pid" 2>/dev/null || true
  [ -n "$emulator_pid" ] && kill "$emulator_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "bench cli: publishing latch (NativeAOT) and building latch-emulator (Release)…" >&2
dotnet publish src/Latch.Cli -c Release -r linux-x64 -nologo -v q -o "$work/bin" >&2
dotnet build src/Latch.Emulator -c Release -nologo -v q >&2
latch="$work/bin/latch"
emulator_dll="src/Latch.Emulator/bin/Release/net10.0/latch-emulator.dll"

# --- the world: 1000 VMs (vm0000..vm0999) in three resource groups, plus one VM whose sshd is real ---
# The emulated VMs share ONE private /etc (a read-only overlay whose passwd names every VM's admin user, u0000…, with
# its home under $work/vms/NAME): the emulator and the bench's sshd run inside it, so each run-command is the real
# sync script under bash (getent, flock, setpriv, awk) with no per-VM unshare + mount. A real VM runs its script on
# its own CPU; here 1000 of them share this machine's, and a mount namespace per VM (a copy of the host's whole mount
# table each time) cost more than the script itself.
system_users="$(grep -E '^(sshd|nobody):' /etc/passwd || true)"
mkdir -p "$work/etc"
vms_json=""
passwd_lines=""
add_vm() { # name group user uid
  local name=$1 group=$2 user=$3 uid=$4 home="$work/vms/$1/home/$3"
  mkdir -p "$home"; chown "$uid:$uid" "$home"
  passwd_lines+="$user:x:$uid:$uid::$home:/bin/bash"$'\n'
  vms_json+="${vms_json:+,}{\"name\":\"$name\",\"resourceGroup\":\"$group\",\"adminUsername\":\"$user\",\"privateIpAddress\":\"127.0.0.1\"}"
}
vm_count=${BENCH_CLI_VMS:-1000}
for i in $(seq 0 $((vm_count - 1))); do
  n=$(printf 'vm%04d' "$i")
  if [ "$i" -lt $((vm_count / 4)) ]; then g=rg-a; elif [ "$i" -lt $((vm_count / 2)) ]; then g=rg-b; else g=rg-c; fi
  add_vm "$n" "$g" "$(printf 'u%04d' "$i")" $((50000 + i))
done
# root's home is inside the sshvm: nothing a script does as root can reach the host's /root
mkdir -p "$work/vms/sshvm/home/root"
vms_json+=",{\"name\":\"sshvm\",\"resourceGroup\":\"rg-ssh\",\"adminUsername\":\"root\",\"privateIpAddress\":\"127.0.0.1\"}"
printf 'root:x:0:0:root:%s:/bin/bash\n%s%s\n' "$work/vms/sshvm/home/root" "$passwd_lines" "$system_users" > "$work/etc/passwd"
chmod 755 "$work/etc"; chmod 644 "$work/etc/passwd"
# an overlay, not a bind mount on /etc/passwd: useradd/userdel elsewhere replace that file by rename, which detaches
# a bind mount in every namespace (see tests/Latch.Cli.Tests/Infrastructure/PrivateEtc.cs)
# (an array, not a function: started with &, $! is then the program's own pid — unshare and sh exec it)
in_vms=(unshare --mount --propagation private -- /bin/sh -c 'mount -t overlay latch-etc -o "lowerdir=$1:/etc" /etc && shift && exec "$@"' sh "$work/etc")
cat > "$work/scenario.json" <<JSON
{"subscriptionId":"5e1c0a7e-0000-4000-8000-00000000d3e0","tenantId":"5e1c0a7e-0000-4000-8000-0000000000aa",
 "vms":[${vms_json}],
 "servicePrincipals":[{"clientId":"6b3c4d5e-6f70-4a81-92b3-c4d5e6f7a8b9","clientSecret":"bench-secret","principalId":"9f3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d"}]}
JSON

"${in_vms[@]}" dotnet "$emulator_dll" --scenario "$work/scenario.json" --run-command-latency 0 --state-dir "$work/emulator" --log-level Warning >"$work/emulator.out" 2>"$work/emulator.err" &
emulator_pid=$!
for _ in $(seq 1 600); do grep -q '^ready' "$work/emulator.out" 2>/dev/null && break; sleep 0.1; done
grep -q '^ready' "$work/emulator.out" || { cat "$work/emulator.err" >&2; echo "bench cli: the emulator did not start" >&2; exit 1; }
control="$(awk '$1=="control"{print $2}' "$work/emulator.out")"

# the operator: its own HOME with an ed25519 key; config points ssh at the real sshd below
export HOME="$work/operator" LATCH_EMULATOR="$control" AZURE_CLIENT_ID=6b3c4d5e-6f70-4a81-92b3-c4d5e6f7a8b9 AZURE_CLIENT_SECRET=bench-secret
unset LATCH_CONFIG XDG_CONFIG_HOME XDG_CACHE_HOME XDG_STATE_HOME SSH_AUTH_SOCK
mkdir -p "$HOME/.ssh"; ssh-keygen -q -t ed25519 -N '' -C bench@latch -f "$HOME/.ssh/id_ed25519"
port=$((20000 + RANDOM % 20000))
mkdir -p /run/sshd; ssh-keygen -q -t ed25519 -N '' -f "$work/hostkey"
"${in_vms[@]}" "$(command -v sshd || echo /usr/sbin/sshd)" -D -e -f /dev/null -p "$port" -o ListenAddress=127.0.0.1 -h "$work/hostkey" \
  -o PermitRootLogin=prohibit-password -o UsePAM=no -o PidFile=none -o PasswordAuthentication=no 2>"$work/sshd.err" &
sshd_pid=$!
mkdir -p "$HOME/.config/latch"
printf '[ssh]\nport = %s\n\n[vm.sshvm]\nuser = "root"\n' "$port" > "$HOME/.config/latch/config.toml"
# the operator's known_hosts has the VM's host key, as after a first login (connect's early key check needs it: it
# never trusts a host key anew); the plain ssh baseline uses the same file
printf '[127.0.0.1]:%s %s\n' "$port" "$(cat "$work/hostkey.pub")" > "$work/known_hosts"
ssh_opts=(-F /dev/null -o UserKnownHostsFile="$work/known_hosts" -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes -o BatchMode=yes -o LogLevel=ERROR)

now_ms() { date +%s%3N; }
median() { sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
rows=()
row() { rows+=("$(printf '%-48s %6s %10s %12s %s' "$1" "$2" "$3" "$4" "$5")"); }
verdict() { awk -v v="$1" -v g="$2" 'BEGIN{print (g=="" ? "-" : (v<=g ? "met" : "MISSED"))}'; }

# warm up (first token, JIT of the emulator) and put the key on sshvm
"$latch" keys sync sshvm --sync-method run-command >"$work/warmup.out" 2>&1 || { cat "$work/warmup.out" >&2; exit 1; }
"$latch" connect sshvm --sync-method skip -- "${ssh_opts[@]}" true
# one connect that checks the key, as an operator's first: later ones start that check early (vms.json)
"$latch" connect sshvm -- "${ssh_opts[@]}" true

# connect with the key present, ROUNDS rounds (default 11); each round runs every variant once, so load drifts on this
# shared machine hit them alike; median and p90 of each:
#   plain ssh          ssh -i KEY root@VM true: the login latch's numbers are compared with
#   to exec            latch connect --sync-method skip with ssh.program = /bin/true (LATCH_SSH): process start,
#                      config, cached token, TLS, ARM VM + NIC, Key Vault, sshd probe, then exec: latch's own cost
#   auto, added        latch connect (auto: the key checked over ssh, started at process start at the last connect's
#                      address and used once ARM agrees; that connection reused by the exec'd ssh) minus the same
#                      round's plain ssh: what latch adds to a login when it verifies the key
rounds=${BENCH_CLI_ROUNDS:-11}
took() { local t0 t1; t0=$(date +%s%N); "$@" >/dev/null 2>&1 || true; t1=$(date +%s%N); echo $(((t1 - t0) / 1000000)); }
stats() { sort -n | awk '{a[NR]=$1} END{printf "%d %d\n", a[int((NR+1)/2)], a[int(NR*0.9+0.999)]}'; }  # median p90
connect_load="$(cut -d' ' -f1 /proc/loadavg)"
plain=(); to_exec=(); skip_whole=(); auto_whole=(); auto_added=(); auto_inproc=()
for _ in $(seq 1 "$rounds"); do
  p=$(took ssh "${ssh_opts[@]}" -p "$port" -i "$HOME/.ssh/id_ed25519" root@127.0.0.1 true); plain+=("$p")
  to_exec+=("$(LATCH_SSH=/bin/true took "$latch" connect sshvm --sync-method skip -- true)")
  skip_whole+=("$(took "$latch" connect sshvm --sync-method skip -- "${ssh_opts[@]}" true)")
  t0=$(now_ms)
  out="$("$latch" connect sshvm --verbose --sync-method auto -- "${ssh_opts[@]}" true 2>&1)"
  t1=$(now_ms)
  grep -q 'present on sshvm via ssh' <<<"$out" || { echo "$out" >&2; echo "bench cli: connect did not check the key over ssh" >&2; exit 1; }
  auto_whole+=($((t1 - t0))); auto_added+=($((t1 - t0 - p)))
  [ -n "${BENCH_CLI_DEBUG:-}" ] && echo "$out" >&2
  auto_inproc+=("$(sed -n 's/.*connect overhead before exec: \([0-9]*\) ms.*/\1/p' <<<"$out")")
done
read -r m p90 < <(printf '%s\n' "${to_exec[@]}" | stats)
row "connect -> exec, key present, sync skipped" "$rounds" "${m} ms" "<= 50 ms" "$(verdict "$m" 50) (p90 ${p90} ms; ssh = /bin/true, whole latch process)"
read -r m p90 < <(printf '%s\n' "${auto_added[@]}" | stats)
row "connect, key present, checked (auto): added" "$rounds" "${m} ms" "<= 50 ms" "$(verdict "$m" 50) (p90 ${p90} ms; latch connect + login minus plain ssh login, same round)"
read -r m p90 < <(printf '%s\n' "${plain[@]}" | stats)
row "  plain ssh login (ssh -i KEY VM true)" "$rounds" "${m} ms" "" "- (p90 ${p90} ms)"
read -r m p90 < <(printf '%s\n' "${skip_whole[@]}" | stats)
row "  latch connect, sync skipped, incl. login" "$rounds" "${m} ms" "" "- (p90 ${p90} ms)"
read -r m p90 < <(printf '%s\n' "${auto_whole[@]}" | stats)
read -r im ip90 < <(printf '%s\n' "${auto_inproc[@]}" | stats)
row "  latch connect, auto, incl. login" "$rounds" "${m} ms" "" "- (p90 ${p90} ms; before exec ${im} ms, p90 ${ip90} ms: the checking login, then reused)"
rc=()
for _ in 1 2 3 4 5; do rc+=("$(took "$latch" connect sshvm --sync-method run-command -- "${ssh_opts[@]}" true)"); done
read -r m p90 < <(printf '%s\n' "${rc[@]}" | stats)
row "  latch connect, run-command check, incl. login" 5 "${m} ms" "" "- (p90 ${p90} ms; the emulator's Retry-After is >= 1 s)"

# first sync via run-command (latency 0): a VM without the key each time
first=()
for i in 0 1 2 3 4; do
  vm=$(printf 'vm%04d' $((vm_count - 10 + i)))
  t0=$(now_ms); "$latch" keys sync "$vm" --sync-method run-command >/dev/null 2>&1 || true; t1=$(now_ms)
  first+=($((t1 - t0)))
done
m=$(printf '%s\n' "${first[@]}" | median)
row "first sync via run-command (latency 0)" 5 "${m} ms" "" "- (the emulator's Retry-After is >= 1 s, like ARM's)"

# keys sync --all: N VMs from scratch, BENCH_CLI_PARALLEL run-commands at a time
parallel=${BENCH_CLI_PARALLEL:-256}
sync_all() { # label, args...
  rm -rf "$work"/vms/vm*/home/u*/.ssh
  local t0 t1 out e0 e1
  local cpu TIMEFORMAT='%U+%S'
  # the emulator's own CPU (utime+stime) and its reaped children's (the VMs' scripts), in clock ticks
  e0=$(awk '{print $14+$15, $16+$17}' "/proc/$emulator_pid/stat")
  t0=$(now_ms)
  # latch's own CPU time (user+sys) separates the CLI's cost from the emulated VMs' scripts, which share this machine
  cpu=$( { time "$latch" keys sync --all "$@" --sync-method run-command --parallel "$parallel" >"$work/sync-all.out" 2>&1 || true; } 2>&1 )
  t1=$(now_ms)
  e1=$(awk '{print $14+$15, $16+$17}' "/proc/$emulator_pid/stat")
  grep -E 'failed|advice' "$work/sync-all.out" | grep -v ' 0 failed' | head -5 >&2 || true
  echo "$((t1 - t0))|$(tail -1 "$work/sync-all.out"); CPU: latch $(awk -v c="$cpu" 'BEGIN{split(c,p,"+"); printf "%.1f s", p[1]+p[2]}'), $(awk -v a="$e0" -v b="$e1" -v hz="$(getconf CLK_TCK)" 'BEGIN{split(a,x," "); split(b,y," "); printf "emulator %.1f s, VM scripts %.1f s", (y[1]-x[1])/hz, (y[2]-x[2])/hz}')"
}
for spec in "$((vm_count / 4)):-g rg-a" "$((vm_count / 2)):-g rg-c" "$vm_count:"; do
  n=${spec%%:*}; args=${spec#*:}
  # shellcheck disable=SC2086
  r=$(sync_all $args); ms=${r%%|*}; summary=${r#*|}
  [ "$n" = 1000 ] && goal=10000 || goal=""
  [ "$n" = "$vm_count" ] && n="$vm_count+1"
  # the sshvm is in rg-ssh; --all includes it
  row "keys sync --all (run-command, --parallel $parallel)" "$n" "${ms} ms" "${goal:+<= 10 s}" "$(verdict "$ms" "$goal") ($summary)"
done

printf '%-48s %6s %10s %12s %s\n' operation N result goal verdict
echo "(N: rounds for connect, VMs for sync; result: median. 1-minute load average before the connect rounds: $connect_load, at the end: $(cut -d' ' -f1 /proc/loadavg))"
for r in "${rows[@]}"; do echo "$r"; done
