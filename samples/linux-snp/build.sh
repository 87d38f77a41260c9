#!/usr/bin/env bash
# Builds samples/linux-snp/bin/linux-snp.fd from src/ and ../snp-common with the machine's gcc, as and ld (no libc),
# after checking the firmware's SHA-256 on the host against FIPS 180-2's examples and sha256sum of the vendored kernel.
#   samples/linux-snp/build.sh           build and write bin/
#   samples/linux-snp/build.sh --check   build into a temporary folder and compare with the committed image
set -euo pipefail
export LC_ALL=C SOURCE_DATE_EPOCH=0
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here"
CC=${CC:-gcc}
LD=${LD:-ld}
OBJCOPY=${OBJCOPY:-objcopy}
work=$(mktemp -d "${TMPDIR:-/tmp}/cocolaunch-linux-snp.XXXXXX")
trap 'rm -rf "$work"' EXIT

kernel=../../linux/debian-linux-image-6.12.101-1~deb12u1/vmlinuz-6.12.101+deb12-cloud-amd64
"$CC" -O2 -Wall -Wextra -Werror -Isrc src/sha256_check.c src/sha256.c -o "$work/sha256_check"
"$work/sha256_check" "$kernel" "$(sha256sum "$kernel" | cut -d' ' -f1)"

cflags=(-O2 -std=gnu11 -ffreestanding -nostdlib -fno-builtin -mno-red-zone -fno-pie -fno-pic
    -fno-stack-protector -mcmodel=kernel -mgeneral-regs-only -march=x86-64 -mtune=generic
    -fcf-protection=none -fno-asynchronous-unwind-tables -fno-unwind-tables -fno-strict-aliasing -fno-ident
    -Wall -Wextra -Werror -Isrc -I../snp-common)
objects=()
for c in main ghcb fwcfg validate sha256; do
    "$CC" "${cflags[@]}" -c "src/$c.c" -o "$work/$c.o"
    objects+=("$work/$c.o")
done
"$CC" -c -Isrc src/stub.S -o "$work/stub.o"
"$CC" -E -P -x c -Isrc src/linux-snp.ld.S -o "$work/linux-snp.ld"
"$LD" -nostdlib -static --no-dynamic-linker --build-id=none -T "$work/linux-snp.ld" "${objects[@]}" "$work/stub.o" -o "$work/linux-snp.elf"
"$OBJCOPY" -O binary --pad-to 0x100000000 "$work/linux-snp.elf" "$work/linux-snp.fd"
size=$(stat -c %s "$work/linux-snp.fd")
if (( size != 65536 )); then
    echo "linux-snp.fd is $size bytes, not 65536" >&2
    exit 1
fi

if [[ ${1:-} == --check ]]; then
    cmp "$work/linux-snp.fd" bin/linux-snp.fd
    echo "bin/ is up to date"
else
    mkdir -p bin
    cp "$work/linux-snp.fd" bin/linux-snp.fd
    (cd bin && sha256sum ./*.fd | sed 's| \./| |' > SHA256SUMS)
    echo "wrote bin/linux-snp.fd"
fi
