#!/usr/bin/env bash
# Whole-process wall time and peak RSS of a few calls, for the NativeAOT binary, the JIT Release build and the
# ReadyToRun publish, interleaved (each round runs every call with every build) so that load on the machine falls on
# all of them alike. Prints the median of RUNS rounds (default 5) per call and build. Needs /usr/bin/time (Debian's
# package "time") and the builds in place: scripts/aot-smoke.sh makes the first two; the third is
#   dotnet publish src/CocoLaunch.Cli -c Release -r linux-x64 -o artifacts/r2r
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
runs=${RUNS:-5}
ovmf=firmware/debian-ovmf-2022.11-6+deb12u2/OVMF.fd
declare -A builds=(
    [aot]="artifacts/aot/cocolaunch"
    [jit]="dotnet src/CocoLaunch.Cli/bin/Release/net10.0/cocolaunch.dll"
    [r2r]="artifacts/r2r/cocolaunch"
)
calls=(
    "--version"
    "measure --mode snp --ovmf OVMF.fd --vcpus 64 --vcpu-type EPYC-v4"
    "measure launch-specs/tdx.yaml"
)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for ((round = 0; round < runs; round++)); do
    for c in "${!calls[@]}"; do
        for b in aot jit r2r; do
            [[ -e ${builds[$b]%% *} || ${builds[$b]} == dotnet* ]] || continue
            # time's own %e counts in hundredths: too coarse for the native binary, so the wall time is taken here.
            start=$(date +%s%N)
            # shellcheck disable=SC2086 # the arguments are words on purpose
            /usr/bin/time -f "%M" -o "$work/rss" ${builds[$b]} ${calls[$c]/OVMF.fd/$ovmf} > /dev/null
            end=$(date +%s%N)
            echo "$(((end - start) / 1000000)) $(cat "$work/rss")" >> "$work/$c.$b"
        done
    done
done

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
printf '%-64s %-5s %10s %15s\n' call build "wall (ms)" "peak RSS (MiB)"
for c in "${!calls[@]}"; do
    for b in aot jit r2r; do
        [[ -f $work/$c.$b ]] || continue
        wall=$(cut -d' ' -f1 "$work/$c.$b" | median)
        rss=$(cut -d' ' -f2 "$work/$c.$b" | median)
        printf '%-64s %-5s %10s %15.1f\n' "${calls[$c]}" "$b" "$wall" "$(echo "$rss / 1024" | bc -l)"
    done
done
