#!/usr/bin/env bash
# Start-up benchmark (issue 21 item 7): whole-process wall time and peak RSS of measure (SNP with 64 vCPUs, SNP with a
# 10 MiB kernel and a 30 MiB initrd, TDX), verify, validate and --version, for the NativeAOT binary, the JIT Release
# build and the ReadyToRun publish, side by side with sev-snp-measure where it computes the same digest. Interleaved:
# each round runs every call with every build, so load on the machine falls on all of them alike. Prints the median of
# RUNS rounds (default 5) per call and build, and for the measure calls each build's ratio to sev-snp-measure.
#
# Needs /usr/bin/time (Debian's package "time") and the builds in place: scripts/aot-smoke.sh makes the first two; the
# third is
#   dotnet publish src/CocoLaunch.Cli -c Release -r linux-x64 -o artifacts/r2r
# A build that is absent is left out. sev-snp-measure is run from SEV_SNP_MEASURE (default
# /tmp/sev-snp-measure/sev-snp-measure.py, a checkout of github.com/virtee/sev-snp-measure; it needs python3 with the
# cryptography module, Debian's python3-cryptography); when it is absent its column is skipped with a message.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
runs=${RUNS:-5}
ssm=${SEV_SNP_MEASURE:-/tmp/sev-snp-measure/sev-snp-measure.py}
ovmf=firmware/debian-ovmf-2022.11-6+deb12u2/OVMF.fd
amdsev=firmware/synthetic/amdsev-like.fd # has the kernel-hashes page a measured direct boot needs
jit_dll=src/CocoLaunch.Cli/bin/Release/net10.0/cocolaunch.dll
declare -A builds=(
    [aot]="artifacts/aot/cocolaunch"
    [jit]="dotnet $jit_dll"
    [r2r]="artifacts/r2r/cocolaunch"
    [ssm]="python3 $ssm"
)
order=()
[[ -x artifacts/aot/cocolaunch ]] && order+=(aot)
[[ -f $jit_dll ]] && order+=(jit)
[[ -x artifacts/r2r/cocolaunch ]] && order+=(r2r)
[[ ${#order[@]} -gt 0 ]] || { echo "no cocolaunch build found: run scripts/aot-smoke.sh first" >&2; exit 2; }
first=${builds[${order[0]}]}
if [[ -f $ssm ]] && python3 -c 'import cryptography' 2> /dev/null; then
    order+=(ssm)
else
    echo "sev-snp-measure: not found at $ssm (or python3 lacks the cryptography module): its column is skipped" >&2
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Random contents are fine: the digest covers the files' SHA-256, whatever they hold.
head -c $((10 << 20)) /dev/urandom > "$work/kernel"
head -c $((30 << 20)) /dev/urandom > "$work/initrd"
snp64="--mode snp --vcpus 64 --vcpu-type EPYC-v4 --ovmf $ovmf"
big="--mode snp --vcpus 64 --vcpu-type EPYC-v4 --ovmf $amdsev --kernel $work/kernel --initrd $work/initrd --append console=ttyS0"
# shellcheck disable=SC2086 # the build is words on purpose
tdx_digest=$($first measure launch-specs/tdx.yaml)

# label | cocolaunch arguments | sev-snp-measure arguments ("-": it has no such call). Word-split on purpose.
calls=(
    "--version|--version|-"
    "measure SNP 64 vCPUs (OVMF.fd)|measure $snp64|$snp64"
    "measure SNP 64 vCPUs + 10M kernel + 30M initrd|measure $big|$big"
    "measure TDX (tdx.yaml)|measure launch-specs/tdx.yaml|-"
    "verify TDX (tdx.yaml --expected)|verify launch-specs/tdx.yaml --expected ${tdx_digest:-00}|-"
    "validate TDX (tdx.yaml)|validate launch-specs/tdx.yaml|-"
)

for ((round = 0; round < runs; round++)); do
    for c in "${!calls[@]}"; do
        IFS='|' read -r _ ours theirs <<< "${calls[$c]}"
        for b in "${order[@]}"; do
            args=$ours
            if [[ $b == ssm ]]; then
                [[ $theirs != - ]] || continue
                args=$theirs
            fi

            # time's own %e counts in hundredths: too coarse for the native binary, so the wall time is taken here.
            start=$(date +%s%N)
            # shellcheck disable=SC2086 # the arguments are words on purpose
            /usr/bin/time -f "%M" -o "$work/rss" ${builds[$b]} $args > /dev/null || true
            end=$(date +%s%N)
            echo "$(((end - start) / 1000000)) $(cat "$work/rss")" >> "$work/$c.$b"
        done
    done
done

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
printf '%-48s %-5s %10s %15s %11s %10s\n' call build "wall (ms)" "peak RSS (MiB)" "wall/ssm" "RSS/ssm"
for c in "${!calls[@]}"; do
    IFS='|' read -r label _ _ <<< "${calls[$c]}"
    ref_wall='' ref_rss=''
    if [[ -f $work/$c.ssm ]]; then
        ref_wall=$(cut -d' ' -f1 "$work/$c.ssm" | median)
        ref_rss=$(cut -d' ' -f2 "$work/$c.ssm" | median)
    fi

    for b in "${order[@]}"; do
        [[ -f $work/$c.$b ]] || continue
        wall=$(cut -d' ' -f1 "$work/$c.$b" | median)
        rss=$(cut -d' ' -f2 "$work/$c.$b" | median)
        ratio_wall=- ratio_rss=-
        if [[ -n $ref_wall ]]; then
            ratio_wall=$(printf '%.2fx' "$(echo "$wall / $ref_wall" | bc -l)")
            ratio_rss=$(printf '%.2fx' "$(echo "$rss / $ref_rss" | bc -l)")
        fi

        printf '%-48s %-5s %10s %15.1f %11s %10s\n' "$label" "$b" "$wall" "$(echo "$rss / 1024" | bc -l)" "$ratio_wall" "$ratio_rss"
    done
done
