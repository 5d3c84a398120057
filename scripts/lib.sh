# Shared helpers for the scripts in this directory (sourced, not run).

RF_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

rf_say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
rf_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# rf_packages LIST...: the packages of scripts/packages/LIST.txt (one per
# line, '#' comments), space-separated.  scripts/depcheck checks that these
# lists cover every pkg-config module of the build and every tool the
# scripts call.
rf_packages() {
  local list file line words out=()
  for list in "$@"; do
    file="$RF_TOP/scripts/packages/$list.txt"
    [ -f "$file" ] || rf_die "no package list $file"
    while IFS= read -r line || [ -n "$line" ]; do
      read -ra words <<< "${line%%#*}"
      out+=("${words[@]+"${words[@]}"}")
    done < "$file"
  done
  echo "${out[*]+"${out[*]}"}"
}
# To build, test and run the scripts; the real-server proxy test rig
# (tests/rig, docs/test-rig.md); the demo's proxy; clang and libFuzzer for
# scripts/fuzz (not installed by CI).
RF_BUILD_PACKAGES=$(rf_packages build)
RF_RIG_PACKAGES=$(rf_packages rig)
RF_DEMO_PACKAGES=$(rf_packages demo)
RF_FUZZ_PACKAGES=$(rf_packages fuzz)

rf_as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else rf_die "need root (or sudo) to run: $*"
  fi
}

# rf_install PKG...: apt-get install what is missing.  Debian starts the
# default service of a server package (tinyproxy, squid, nginx) on install;
# a temporary policy-rc.d keeps it from doing so: we run our own instances.
rf_install() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
      || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  rf_say "installing ${missing[*]}"
  local made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    rf_as_root sh -c 'printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d'
    made_policy=1
  fi
  if [ -z "${RF_APT_UPDATED:-}" ]; then
    rf_as_root apt-get update -qq || rf_say "apt-get update failed; trying the cached lists"
    RF_APT_UPDATED=1
  fi
  rf_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null
  local rc=$?
  [ $made_policy -eq 1 ] && rf_as_root rm -f /usr/sbin/policy-rc.d
  return $rc
}

# rf_build DIR [CMAKE ARGS...]: configure (warnings as errors) and build.
# Says what it does: a line before it starts, then ninja's progress, on one
# line rewritten in place on a terminal, else a line at each quarter.  The
# whole compiler output goes to DIR/build.log.
rf_build() {
  local dir=$1; shift
  local jobs
  jobs=$(nproc 2>/dev/null || echo 2)
  mkdir -p "$dir"
  rf_say "building in $dir with $jobs job(s) (about 30 s on 2 cores; log: $dir/build.log)..."
  cmake -S "$RF_TOP" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DRF_WERROR=ON -DRF_BUILD_TESTS=ON -DRF_BUILD_EXAMPLES=ON "$@" >/dev/null || rf_die "cmake configure failed"
  local tty=0 start=$SECONDS
  [ -t 2 ] && tty=1
  # pipefail in a subshell: the status is the build's, whatever the caller set.
  if ! (set -o pipefail
    cmake --build "$dir" -j "$jobs" 2>&1 | tee "$dir/build.log" | awk -v tty=$tty '
    match($0, /^\[[0-9]+\/[0-9]+\]/) {
      split(substr($0, 2, RLENGTH - 2), nm, "/")
      n = nm[1] + 0; m = nm[2] + 0
      if (tty) { printf "\r    [%d/%d] steps", n, m > "/dev/stderr"; shown = 1 }
      else if (m > 0 && int(4 * n / m) > q) {
        q = int(4 * n / m); printf "    [%d/%d] steps\n", n, m > "/dev/stderr"
      }
    }
    END { if (shown) printf "\n" > "/dev/stderr" }'); then
    tail -n 60 "$dir/build.log" >&2
    rf_die "build failed (whole log: $dir/build.log)"
  fi
  rf_say "built in $((SECONDS - start)) s: $dir"
}

# rf_free_port: a TCP port on 127.0.0.1 nobody listens on right now.
rf_free_port() {
  python3 - <<'PY' 2>/dev/null || shuf -i 20000-60000 -n 1
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}

# rf_wait_port PORT: wait (at most 10 s) until something listens on it.
rf_wait_port() {
  local i
  for i in $(seq 1 100); do
    (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
