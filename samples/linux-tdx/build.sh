#!/usr/bin/env bash
# Builds samples/linux-tdx/bin/linux-tdx.fd from src/ with the machine's gcc, as and ld (no libc).
#   samples/linux-tdx/build.sh           build and write bin/
#   samples/linux-tdx/build.sh --check   build into a temporary folder and compare with the committed image
set -euo pipefail
export LC_ALL=C SOURCE_DATE_EPOCH=0
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here"
CC=${CC:-gcc}
LD=${LD:-ld}
OBJCOPY=${OBJCOPY:-objcopy}
work=$(mktemp -d "${TMPDIR:-/tmp}/cocolaunch-linux-tdx.XXXXXX")
trap 'rm -rf "$work"' EXIT

cflags=(-O2 -std=gnu11 -ffreestanding -nostdlib -fno-builtin -mno-red-zone -fno-pie -fno-pic
    -fno-stack-protector -mcmodel=kernel -mgeneral-regs-only -march=x86-64 -mtune=generic
    -fcf-protection=none -fno-asynchronous-unwind-tables -fno-unwind-tables -fno-strict-aliasing -fno-ident
    -Wall -Wextra -Werror -Isrc -I../tdx-common)

# The firmware's SHA-384 first, on the host, against the FIPS 180-4 examples.
"$CC" -O2 -Wall -Wextra -Werror -Isrc -I../tdx-common src/sha384_check.c src/sha384.c -o "$work/sha384_check"
"$work/sha384_check"

"$CC" -c -Isrc src/stub.S -o "$work/stub.o"
"$CC" -E -P -x c -Isrc ../tdx-common/tdx.ld.S -o "$work/tdx.ld"

images=(linux-tdx)
declare -A scenario=([linux-tdx]="")

for image in "${images[@]}"; do
    # shellcheck disable=SC2086
    objects=()
    for source in main eventlog sha384; do
        # shellcheck disable=SC2086
        "$CC" "${cflags[@]}" ${scenario[$image]} -c "src/$source.c" -o "$work/$image-$source.o"
        objects+=("$work/$image-$source.o")
    done
    "$LD" -nostdlib -static --no-dynamic-linker --build-id=none -T "$work/tdx.ld" "${objects[@]}" "$work/stub.o" -o "$work/$image.elf"
    "$OBJCOPY" -O binary --pad-to 0x100000000 "$work/$image.elf" "$work/$image.fd"
    size=$(stat -c %s "$work/$image.fd")
    if (( size != 65536 )); then
        echo "$image.fd is $size bytes, not 65536" >&2
        exit 1
    fi
done

if [[ ${1:-} == --check ]]; then
    for image in "${images[@]}"; do
        cmp "$work/$image.fd" "bin/$image.fd"
    done
    echo "bin/ is up to date"
else
    mkdir -p bin
    for image in "${images[@]}"; do
        cp "$work/$image.fd" "bin/$image.fd"
    done
    (cd bin && sha256sum ./*.fd | sed 's| \./| |' > SHA256SUMS)
    echo "wrote bin/: ${images[*]}"
fi
