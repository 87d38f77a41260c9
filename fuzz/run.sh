#!/usr/bin/env bash
# Usage: fuzz/run.sh TARGET SECONDS
# Publishes fuzz/CocoLaunch.Fuzz, instruments CocoLaunch's assemblies with SharpFuzz, runs afl-fuzz on the
# target's seed corpus for SECONDS, then prints executions, crashes and coverage, and replays any crash in-process.
# Needs: the .NET SDK, Debian's afl++ (apt-get install afl++). The sharpfuzz tool is installed in fuzz/.tools.
set -euo pipefail
cd "$(dirname "$0")/.."

target="${1:?usage: fuzz/run.sh TARGET SECONDS (targets: spec firmware kernel snp-report tdx-quote reference-values cms tdx-collateral crl ccel igvm igvm-crc)}"
seconds="${2:?usage: fuzz/run.sh TARGET SECONDS}"
[ -d "fuzz/corpus/$target" ] || { echo "fuzz/run.sh: no corpus fuzz/corpus/$target" >&2; exit 2; }
command -v afl-fuzz >/dev/null || { echo "fuzz/run.sh: afl-fuzz not found (apt-get install afl++)" >&2; exit 2; }

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
tools=fuzz/.tools
if [ ! -x "$tools/sharpfuzz" ]; then
    dotnet tool install --tool-path "$tools" SharpFuzz.CommandLine --version 2.3.0 >/dev/null
fi

# Publish and instrument: an assembly cannot be instrumented twice, so a fresh folder each time, unless
# FUZZ_REUSE_BUILD=1 asks to keep the last instrumented build (several targets in a row, sources unchanged).
publish=fuzz/.build/publish
if [ "${FUZZ_REUSE_BUILD:-0}" != 1 ] || [ ! -e "$publish/.instrumented" ]; then
    rm -rf "$publish"
    dotnet publish fuzz/CocoLaunch.Fuzz/CocoLaunch.Fuzz.csproj -c Release -o "$publish" -v q -nologo >/dev/null
    for dll in "$publish"/CocoLaunch.*.dll "$publish"/cocolaunch.dll; do
        case "$(basename "$dll")" in CocoLaunch.Fuzz.dll) continue ;; esac
        "$tools/sharpfuzz" "$dll" >/dev/null
    done
    touch "$publish/.instrumented"
fi

out="fuzz/findings/$target/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$out"
export COCOLAUNCH_FUZZ_TMP="$PWD/$out/tmp" COCOLAUNCH_REPO="$PWD"
mkdir -p "$COCOLAUNCH_FUZZ_TMP"
# The dotnet apphost is not AFL-instrumented itself (the assemblies are): skip afl's binary check.
AFL_SKIP_BIN_CHECK=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 AFL_NO_AFFINITY=1 \
    afl-fuzz -i "fuzz/corpus/$target" -o "$out" $(dict=fuzz/dict/$target.dict; [ -e "$dict" ] && echo "-x $dict") -t "${FUZZ_TIMEOUT_MS:-10000}" -m none -V "$seconds" \
    -- "$publish/CocoLaunch.Fuzz" --target "$target" >"$out/afl.log" 2>&1 || { tail -n 30 "$out/afl.log" >&2; exit 1; }

stats="$out/default/fuzzer_stats"
get() { sed -n "s/^$1 *: *//p" "$stats"; }
echo "target:      $target ($out)"
echo "run time:    $(get run_time) s"
echo "execs:       $(get execs_done) ($(get execs_per_sec) /s)"
echo "corpus:      $(get corpus_count) inputs (seeds: $(find "fuzz/corpus/$target" -type f | wc -l))"
echo "coverage:    $(get edges_found) edges of $(get total_edges) in the map, bitmap_cvg $(get bitmap_cvg)"
echo "crashes:     $(get saved_crashes)   hangs: $(get saved_hangs)"
rm -rf "$COCOLAUNCH_FUZZ_TMP"

if compgen -G "$out/default/crashes/id*" >/dev/null || compgen -G "$out/default/hangs/id*" >/dev/null; then
    echo "replaying crashes and hangs in-process (uninstrumented build):"
    dotnet run --project fuzz/CocoLaunch.Fuzz -c Release -v q -- --target "$target" --replay "$out/default/crashes" "$out/default/hangs" || true
fi
