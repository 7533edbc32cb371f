#!/usr/bin/env bash
# Times the README's commands as a new user meets them: on a fresh Debian 12 (a debootstrap
# chroot with nothing but the minimal base system), from a clone of this repository, with
# `make` installed first (the only thing the README assumes). Needs root, debootstrap and the
# Debian mirror. Prints the time of each step; the README's figures come from here.
#   scripts/time-fresh-debian.sh demo|test [ROOT]   (ROOT: a debootstrapped tree to copy)
set -euo pipefail
what=${1:?usage: time-fresh-debian.sh demo|test [ROOT]}
base=${2:-}
work=$(mktemp -d)
# make's whole output is kept (the chroot is removed): $FRESH_LOG, default /tmp/time-fresh-debian-$what.log
log_out=${FRESH_LOG:-/tmp/time-fresh-debian-$what.log}
trap 'cp "$work/root/tmp/make.log" "$log_out" 2>/dev/null && echo "make'"'"'s output: $log_out"; umount -R "$work/root" 2>/dev/null || true; rm -rf --one-file-system "$work"' EXIT
if [ -n "$base" ]; then
  cp -a "$base" "$work/root"
else
  start=$(date +%s.%N)
  debootstrap --variant=minbase bookworm "$work/root" >/dev/null
  echo "debootstrap: $(echo "$(date +%s.%N) - $start" | bc) s"
fi
git clone -q "$(cd "$(dirname "$0")/.." && pwd)" "$work/root/zeus"
cp /etc/resolv.conf "$work/root/etc/resolv.conf"
# A machine resolves its own name (debootstrap writes no /etc/hosts line for it; Gloo needs it).
cp /etc/hosts "$work/root/etc/hosts"
# What a fresh machine of this workplace has: its network's certificates and pip's
# configuration, with the local wheel folders it names (torch's CPU wheel is one).
# (apart from /etc/ssl/certs, which the ca-certificates package rewrites when apt installs it)
cp /etc/ssl/certs/ca-certificates.crt "$work/root/etc/workplace-ca.crt" 2>/dev/null || true
[ -f /etc/pip.conf ] && cp /etc/pip.conf "$work/root/etc/"
[ -d /etc/xdg/pip ] && mkdir -p "$work/root/etc/xdg" && cp -a /etc/xdg/pip "$work/root/etc/xdg/"
# The root is a mount point, as on a machine (unshare --propagation, used by the wheel test,
# refuses a chroot whose / is not one).
mount --bind "$work/root" "$work/root"
[ -d /opt ] && mount --rbind /opt "$work/root/opt"
for fs in proc dev sys; do mount --rbind "/$fs" "$work/root/$fs"; done
chroot "$work/root" /bin/bash -euc '
  export DEBIAN_FRONTEND=noninteractive
  # This machine exports its bundle to pip, requests, curl and git by path; in the chroot that
  # path is Debian'"'"'s own bundle, without the workplace'"'"'s certificates: point them at the copy.
  if [ -f /etc/workplace-ca.crt ]; then
    for v in PIP_CERT REQUESTS_CA_BUNDLE SSL_CERT_FILE CURL_CA_BUNDLE GIT_SSL_CAINFO; do
      export "$v=/etc/workplace-ca.crt"
    done
  fi
  t0=$(date +%s.%N)
  apt-get update -qq && apt-get install -y -qq --no-install-recommends make >/dev/null
  t1=$(date +%s.%N)
  cd /zeus
  make '"$what"' > /tmp/make.log 2>&1 || { tail -n 40 /tmp/make.log; exit 1; }
  t2=$(date +%s.%N)
  tail -n 25 /tmp/make.log
  echo "lines printed by make '"$what"': $(wc -l < /tmp/make.log)"
  echo "apt-get update + make: $(awk "BEGIN{print $t1 - $t0}") s"
  echo "make '"$what"' (packages, build, run): $(awk "BEGIN{print $t2 - $t1}") s"
  echo "packages installed: $(dpkg -l | grep -c ^ii)"
'
