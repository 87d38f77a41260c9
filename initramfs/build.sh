#!/usr/bin/env bash
# Builds the initramfs images, newc cpio archives, gzip-compressed, each with a static PID 1 at /init:
#   bin/initramfs.cpio.gz      src/init.c
#   bin/initramfs-tdx.cpio.gz  src/tdx-init.c, with Debian's configfs, tsm and tdx-guest modules in /lib/modules
#                              (vendored in ../linux/debian-linux-image-6.12.101-1~deb12u1/modules)
#   bin/initramfs-snp.cpio.gz  src/snp-init.c, with configfs, tsm, sev-guest and the gcm(aes) modules sev-guest needs
#   bin/initramfs-capture.cpio.gz  src/capture-init.c, with qemu_fw_cfg and efivarfs: run by hand under QEMU with a
#                              vTPM to capture what OVMF measured (../tests/data/ovmf-direct-boot/capture.sh)
# Needs Debian's gcc (with libc6-dev's static libc) and cpio. The output is reproducible: fixed timestamps,
# owners and file order, and gzip without a name or time stamp.
set -euo pipefail
cd "$(dirname "$0")"
here="$(pwd)"
modules="$here/../linux/debian-linux-image-6.12.101-1~deb12u1/modules"
mkdir -p bin

# pack SOURCE OUTPUT [MODULE...]: /init from SOURCE, /dev, /proc, /lib/modules/MODULE..., and /dev/console.
pack() {
    local source=$1 output=$2
    shift 2
    local work
    work="$(mktemp -d)"
    mkdir -p "$work/root/dev" "$work/root/proc"
    gcc -static -Os -Wall -Wextra -Werror -fno-asynchronous-unwind-tables -Wl,--build-id=none -o "$work/root/init" "$source"
    strip --strip-all "$work/root/init"
    local entries=(. ./dev ./init ./proc)
    if (( $# > 0 )); then
        mkdir -p "$work/root/lib/modules"
        entries=(. ./dev ./init ./lib ./lib/modules)
        for m in "$@"; do
            cp "$modules/$m" "$work/root/lib/modules/$m"
            entries+=("./lib/modules/$m")
        done
        entries+=(./proc)
    fi

    # The console device node is created by the kernel's devtmpfs only if mounted; give PID 1 one in the archive.
    (cd "$work/root" && find . -print0 | xargs -0 touch -h -d '@0' && printf '%s\n' "${entries[@]}" \
        | cpio --quiet -o -H newc -R 0:0 --reproducible > "$work/initramfs.cpio")
    # Append /dev/console (char 5:1) as a newc entry made by cpio's own device-node support.
    mkdir -p "$work/nodes/dev"
    mknod "$work/nodes/dev/console" c 5 1 2>/dev/null || true
    if [ -c "$work/nodes/dev/console" ]; then
        touch -h -d '@0' "$work/nodes/dev" "$work/nodes/dev/console"
        (cd "$work/nodes" && echo ./dev/console | cpio --quiet -o -H newc -R 0:0 --reproducible -A -O "$work/initramfs.cpio")
    fi

    gzip -9 -n < "$work/initramfs.cpio" > "$output"
    rm -rf "$work"
    echo "$output: $(stat -c %s "$output") bytes"
}

pack src/init.c bin/initramfs.cpio.gz
pack src/tdx-init.c bin/initramfs-tdx.cpio.gz configfs.ko.xz tsm.ko.xz tdx-guest.ko.xz
pack src/snp-init.c bin/initramfs-snp.cpio.gz configfs.ko.xz tsm.ko.xz crypto_null.ko.xz gcm.ko.xz gf128mul.ko.xz \
    ghash-generic.ko.xz sev-guest.ko.xz
pack src/capture-init.c bin/initramfs-capture.cpio.gz qemu_fw_cfg.ko.xz efivarfs.ko.xz
(cd bin && sha256sum initramfs.cpio.gz initramfs-tdx.cpio.gz initramfs-snp.cpio.gz initramfs-capture.cpio.gz > SHA256SUMS)
