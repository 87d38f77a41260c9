#!/usr/bin/env bash
# Captures what Debian's OVMF 2025.02 measures when QEMU direct-boots Debian's kernel, and the inputs it measured:
#   capture.sh NAME MEMORY CMDLINE tpm|no-tpm [VCPUS [FIRMWARE]]
# runs QEMU (TCG, q35, no NIC) with OVMF.fd as -bios, the vendored kernel, initramfs-capture.cpio.gz as the initrd and
# CMDLINE, with a swtpm TPM 2.0 (SHA-256 and SHA-384 banks) or none, and writes NAME/ with the guest's TPM event log,
# the fw_cfg files OVMF read (etc/table-loader and what it allocates) and the UEFI variables (efivarfs files). Needs
# Debian's qemu-system-x86, swtpm and swtpm-tools. VCPUS (default 1) is QEMU's -smp; FIRMWARE (default Debian's
# OVMF 2025.02) the -bios image, relative to the repository. The capture init is
# ../../../initramfs/src/capture-init.c.
set -euo pipefail
name=$1 mem=$2 cmdline=$3 tpm=$4 vcpus=${5:-1} firmware=${6:-firmware/debian-ovmf-2025.02-8+deb13u1/OVMF.fd}
here="$(cd "$(dirname "$0")" && pwd)"
repo="$here/../../.."
kernel="$repo/linux/debian-linux-image-6.12.101-1~deb12u1/vmlinuz-6.12.101+deb12-cloud-amd64"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
tpm_args=()
if [ "$tpm" = tpm ]; then
    swtpm_setup --tpm2 --tpmstate "$work" --pcr-banks sha256,sha384 --overwrite > /dev/null
    swtpm socket --tpmstate dir="$work" --ctrl type=unixio,path="$work/sock" --tpm2 --terminate &
    sleep 1
    tpm_args=(-chardev "socket,id=chrtpm,path=$work/sock" -tpmdev emulator,id=tpm0,chardev=chrtpm -device tpm-tis,tpmdev=tpm0)
fi
timeout 300 qemu-system-x86_64 -machine q35 -accel tcg -m "$mem" -smp "$vcpus" -nographic -no-reboot -serial stdio -monitor none \
    -nic none -bios "$repo/$firmware" -kernel "$kernel" \
    -initrd "$repo/initramfs/bin/initramfs-capture.cpio.gz" -append "$cmdline" "${tpm_args[@]}" > "$work/console.log" 2>&1
mkdir -p "$here/$name"
# Each dump is "capture: BEGIN NAME SIZE", base64 lines, "capture: END NAME" (the firmware's escape codes may precede BEGIN).
python3 - "$work/console.log" "$here/$name" <<'PY'
import base64, os, sys
name, lines = None, []
for line in open(sys.argv[1], 'rb').read().decode('latin1').splitlines():
    line = line.strip('\r')
    if 'capture: BEGIN ' in line:
        name, lines = line[line.index('capture: BEGIN '):].split()[2], []
    elif line.startswith('capture: END ') and name:
        open(os.path.join(sys.argv[2], name.replace('/', '_')), 'wb').write(base64.b64decode(''.join(lines)))
        name = None
    elif name:
        lines.append(line)
PY
grep -a -q 'capture: DONE' "$work/console.log" || { echo "capture.sh: the guest did not finish" >&2; exit 1; }
