#!/usr/bin/env bash
# Builds bin/initramfs.cpio.gz: a static PID 1 (src/init.c) at /init, in a newc cpio archive, gzip-compressed.
# Needs Debian's gcc (with libc6-dev's static libc) and cpio. The output is reproducible: fixed timestamps,
# owners and file order, and gzip without a name or time stamp.
set -euo pipefail
cd "$(dirname "$0")"
here="$(pwd)"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/root/dev" "$work/root/proc" bin

gcc -static -Os -Wall -Wextra -Werror -fno-asynchronous-unwind-tables -Wl,--build-id=none -o "$work/root/init" src/init.c
strip --strip-all "$work/root/init"

# The console device node is created by the kernel's devtmpfs only if mounted; give PID 1 one in the archive.
cd "$work/root"
find . -print0 | xargs -0 touch -h -d '@0'
{
    echo .
    echo ./dev
    echo ./init
    echo ./proc
} | cpio --quiet -o -H newc -R 0:0 --reproducible > "$work/initramfs.cpio"
# Append /dev/console (char 5:1) as a newc entry made by cpio's own device-node support.
cd "$work"
mkdir -p nodes/dev
mknod nodes/dev/console c 5 1 2>/dev/null || true
if [ -c nodes/dev/console ]; then
    touch -h -d '@0' nodes/dev nodes/dev/console
    (cd nodes && echo ./dev/console | cpio --quiet -o -H newc -R 0:0 --reproducible -A -O "$work/initramfs.cpio")
fi

cd "$here"
gzip -9 -n < "$work/initramfs.cpio" > bin/initramfs.cpio.gz
sha256sum bin/initramfs.cpio.gz | sed 's|bin/||' > bin/SHA256SUMS
echo "bin/initramfs.cpio.gz: $(stat -c %s bin/initramfs.cpio.gz) bytes"
