#!/usr/bin/env bash
# Builds the CocoLaunch test guests into guests/bin/ and the expected outputs
# into guests/expected/.  Needs only gcc, as, ld and objcopy (and a libc for
# the host program that computes the expected bench output).
#
#   guests/build.sh            build everything
#   guests/build.sh --check    build into a temporary folder and compare
#                              with the committed bin/ and expected/
#   GUESTS_BUILD_DIR=/tmp/g guests/build.sh   keep objects, .elf and .map
set -euo pipefail
export LC_ALL=C SOURCE_DATE_EPOCH=0

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here"

CC=${CC:-gcc}
LD=${LD:-ld}
OBJCOPY=${OBJCOPY:-objcopy}

check=0
if [[ ${1:-} == --check ]]; then
    check=1
fi

# GUESTS_BUILD_DIR=dir keeps the objects, ELF files and link maps there.
if [[ -n ${GUESTS_BUILD_DIR:-} ]]; then
    work=$GUESTS_BUILD_DIR
    rm -rf "$work"
    mkdir -p "$work"
else
    work=$(mktemp -d "${TMPDIR:-/tmp}/cocolaunch-guests.XXXXXX")
    trap 'rm -rf "$work"' EXIT
fi
if (( check )); then
    out_bin=$work/out/bin
    out_exp=$work/out/expected
else
    out_bin=$here/bin
    out_exp=$here/expected
fi
mkdir -p "$out_bin" "$out_exp"

rom_size=65536

# Guest C flags.  -mcmodel=kernel: code, constants and data are all linked
# in the top 2 GiB of the address space (ROM alias 0xFFFFFFFFFFFF0000,
# RAM alias 0xFFFFFFFF80100000), so ordinary RIP-relative code works.
guest_cflags=(
    -O2 -std=gnu11 -ffreestanding -nostdlib -fno-builtin
    -mno-red-zone -fno-pie -fno-pic -fno-stack-protector -mcmodel=kernel
    -march=x86-64 -mtune=generic -fcf-protection=none
    -fno-asynchronous-unwind-tables -fno-unwind-tables -fno-strict-aliasing
    -ffunction-sections -fdata-sections -fno-ident
    -Wall -Wextra -Isrc -I"$work"
)
declare -A flavour_flags=(
    [gpr]="-mgeneral-regs-only"
    [sse]=""
)
declare -A flavour_asflags=(
    [gpr]=""
    [sse]="-DGUEST_SSE"
)
declare -A pages_flags=(
    [2m]=""
    [4k]="-DPAGES_4K"
)
declare -A bench_bytes=(
    [bench]=$((1 << 20))
    [bench16m]=$((16 << 20))
)

# ---------------------------------------------------------------- host side
# Expected debugcon output.  hello is fixed text; bench comes from the same
# C code built as a normal Linux program.
printf 'Hello from CocoLaunch guest\n' >"$out_exp/hello.txt"
for w in bench bench16m; do
    "$CC" -O2 -std=gnu11 -Wall -Wextra -fno-strict-aliasing \
        -DBENCH_BYTES="${bench_bytes[$w]}" -Isrc \
        src/bench_core.c src/bench_host.c -o "$work/host-$w"
    "$work/host-$w" >"$out_exp/$w.txt"
    mkdir -p "$work/$w"
    "$work/host-$w" --header >"$work/$w/bench_expect.h"
done

# ---------------------------------------------------------------- guests
"$CC" -E -P -undef -x c -Isrc src/guest.ld.S -o "$work/guest.ld"

manifest=$out_bin/MANIFEST.tsv
printf '# name\trom_bytes\tmin_ram_bytes\texpected_debugcon\texit_code\texit_status\n' >"$manifest"

build_image() {
    local w=$1 fl=$2 pg=$3
    local name=$w-$fl-$pg
    local o=$work/obj/$name
    mkdir -p "$o"
    local -a cflags=("${guest_cflags[@]}")
    # shellcheck disable=SC2206
    cflags+=(${flavour_flags[$fl]} ${pages_flags[$pg]})
    local -a srcs
    case $w in
        hello) srcs=(src/hello.c src/lib.c) ;;
        bench*) srcs=(src/bench_guest.c src/bench_core.c src/lib.c)
                cflags+=(-DBENCH_BYTES="${bench_bytes[$w]}" -I"$work/$w") ;;
    esac

    # shellcheck disable=SC2086
    "$CC" -c -x assembler-with-cpp -Isrc -DIMAGE_NAME="\"$name\"" \
        ${flavour_asflags[$fl]} ${pages_flags[$pg]} src/stub.S -o "$o/stub.o"
    local -a objs=("$o/stub.o")
    for s in "${srcs[@]}"; do
        local b
        b=$(basename "$s" .c)
        local -a extra=()
        [[ $b == lib ]] && extra=(-fno-tree-loop-distribute-patterns)
        "$CC" "${cflags[@]}" "${extra[@]}" -c "$s" -o "$o/$b.o"
        objs+=("$o/$b.o")
    done

    "$LD" -nostdlib -static -no-pie --build-id=none -z max-page-size=4096 \
        -z noexecstack --no-warn-rwx-segments --gc-sections --orphan-handling=error \
        -T "$work/guest.ld" -Map="$o/$name.map" -o "$o/$name.elf" "${objs[@]}"
    "$OBJCOPY" -O binary "$o/$name.elf" "$out_bin/$name.bin"

    local size
    size=$(stat -c %s "$out_bin/$name.bin")
    if (( size != rom_size )); then
        echo "build.sh: $name.bin is $size bytes, expected $rom_size" >&2
        exit 1
    fi

    # Minimum RAM: everything the guest touches below the ROM, rounded up to
    # a whole MiB (page tables, stack top 0x80000, .data/.bss/.noinit end).
    local ram_end
    ram_end=$(nm "$o/$name.elf" | awk '$3 == "__ram_end_phys" { print $1 }')
    ram_end=$((16#$ram_end))
    (( ram_end < 0x80000 )) && ram_end=0x80000
    local min_ram=$(( (ram_end + 0xFFFFF) & ~0xFFFFF ))

    local exp code
    case $w in
        hello) exp=hello.txt; code=16 ;;
        *) exp=$w.txt; code=17 ;;
    esac
    printf '%s\t%d\t%d\texpected/%s\t0x%02x\t%d\n' "$name.bin" "$size" "$min_ram" \
        "$exp" "$code" $(( (code << 1) | 1 )) >>"$manifest"
}

for w in hello bench bench16m; do
    for fl in gpr sse; do
        for pg in 2m 4k; do
            build_image "$w" "$fl" "$pg"
        done
    done
done

(cd "$out_bin" && sha256sum -- *.bin >SHA256SUMS)

if (( check )); then
    status=0
    for f in "$out_bin"/* "$out_exp"/*; do
        rel=${f#"$work/out/"}
        if ! cmp -s "$f" "$here/$rel"; then
            echo "differs from the committed copy: guests/$rel" >&2
            status=1
        fi
    done
    if (( status == 0 )); then
        echo "guests: build reproduces bin/ and expected/ byte for byte"
    fi
    exit $status
fi
echo "guests: built $(ls "$out_bin"/*.bin | wc -l) images in $out_bin"
