#!/usr/bin/env bash
# Builds samples/snp/bin/snp.fd from src/ with the machine's gcc, as and ld (no libc), after checking the guest's
# AES-256-GCM against the published GCM test cases on the host.
#   samples/snp/build.sh           build and write bin/
#   samples/snp/build.sh --check   build into a temporary folder and compare with the committed image
set -euo pipefail
export LC_ALL=C SOURCE_DATE_EPOCH=0
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here"
CC=${CC:-gcc}
LD=${LD:-ld}
OBJCOPY=${OBJCOPY:-objcopy}
work=$(mktemp -d "${TMPDIR:-/tmp}/cocolaunch-snp.XXXXXX")
trap 'rm -rf "$work"' EXIT

"$CC" -O2 -Wall -Wextra -Werror -Isrc src/aes_gcm_check.c src/aes_gcm.c -o "$work/aes_gcm_check"
"$work/aes_gcm_check"

cflags=(-O2 -std=gnu11 -ffreestanding -nostdlib -fno-builtin -mno-red-zone -fno-pie -fno-pic
    -fno-stack-protector -mcmodel=kernel -mgeneral-regs-only -march=x86-64 -mtune=generic
    -fcf-protection=none -fno-asynchronous-unwind-tables -fno-unwind-tables -fno-strict-aliasing -fno-ident
    -Wall -Wextra -Werror -Isrc -I../snp-common)
"$CC" "${cflags[@]}" -c src/aes_gcm.c -o "$work/aes_gcm.o"
"$CC" -c -Isrc src/stub.S -o "$work/stub.o"
"$CC" -E -P -x c -Isrc src/snp.ld.S -o "$work/snp.ld"

# The sample, and one misbehaving variant per scenario (src/main.c, misbehave()) for the tests.
images=(snp)
declare -A scenario=([snp]="")
for s in 1:pvalidate-shared 2:unvalidated; do
    images+=("snp-${s#*:}")
    scenario[snp-${s#*:}]="-DSCENARIO=${s%%:*}"
done

for image in "${images[@]}"; do
    # shellcheck disable=SC2086
    "$CC" "${cflags[@]}" ${scenario[$image]} -c src/main.c -o "$work/$image.o"
    "$LD" -nostdlib -static --no-dynamic-linker --build-id=none -T "$work/snp.ld" "$work/$image.o" "$work/aes_gcm.o" "$work/stub.o" -o "$work/$image.elf"
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
