#!/usr/bin/env bash
# Smoke test of the NativeAOT binary: publishes it, runs every verb with it and with the JIT Release build on the
# same arguments, and compares stdout, stderr and exit code. Prints one line per case and "N verbs same, M differ";
# exits 1 when any differ. Run from anywhere, by hand (it publishes, so it takes a few minutes):
#   scripts/aot-smoke.sh                 publish and build, then compare
#   scripts/aot-smoke.sh --no-build      compare the binaries already built
# AOT=path/to/cocolaunch and JIT="dotnet path/to/cocolaunch.dll" choose other builds (JIT may be any command).
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
aot=${AOT:-$repo/artifacts/aot/cocolaunch}
jit=${JIT:-dotnet $repo/src/CocoLaunch.Cli/bin/Release/net10.0/cocolaunch.dll}

if [[ ${1:-} != --no-build ]]; then
    dotnet publish src/CocoLaunch.Cli -c Release -r linux-x64 -p:PublishAot=true -o "$(dirname "$aot")" --nologo -v q || exit 2
    dotnet build src/CocoLaunch.Cli -c Release --nologo -v q || exit 2
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ovmf=firmware/debian-ovmf-2022.11-6+deb12u2/OVMF.fd

# Inputs some verbs read: evidence and reference values, made once by the JIT build so both builds read the same.
fixtures=$work/fixtures
mkdir -p "$fixtures/snp" "$fixtures/tdx"
$jit attest launch-specs/snp.yaml --out "$fixtures/snp" > /dev/null
$jit attest launch-specs/tdx.yaml --out "$fixtures/tdx" > /dev/null
$jit reference-values launch-specs/tdx.yaml launch-specs/snp.yaml --out "$fixtures/rv.json" > /dev/null
snp_digest=$($jit measure launch-specs/snp.yaml)

# name | arguments (word-split; $out is a fresh folder for verbs that write files, at the same path for both builds)
cases=(
    "version|--version"
    "help|--help"
    "help-measure|measure --help"
    "no-verb|"
    "bad-verb|frobnicate"
    "bad-option|measure launch-specs/tdx.yaml --frob"
    "missing-value|boot guests/bin/hello-gpr-4k.bin --memory"
    "extra-argument|validate launch-specs/tdx.yaml launch-specs/snp.yaml"
    "measure-tdx|measure launch-specs/tdx.yaml"
    "measure-tdx-json|measure launch-specs/tdx.yaml --output-format json"
    "measure-snp-json|measure launch-specs/snp.yaml --format json"
    "measure-snp-flags|measure --mode snp --ovmf $ovmf --vcpus 64 --vcpu-type EPYC-v4"
    "measure-tdx-flags|measure --platform tdx --firmware $ovmf"
    "measure-explain|measure launch-specs/snp.yaml --explain"
    "validate|validate launch-specs/tdx.yaml"
    "validate-verbose|validate launch-specs/tdx.yaml --verbose"
    "validate-bad|validate launch-specs/README.md"
    "inspect|inspect $ovmf"
    "inspect-json|inspect $ovmf --format json"
    "diff|diff launch-specs/tdx.yaml launch-specs/tdx-two-pass.yaml"
    "reference-values|reference-values launch-specs/tdx.yaml launch-specs/snp.yaml"
    "reference-values-trustee|reference-values launch-specs/tdx.yaml launch-specs/snp.yaml --format trustee"
    "verify|verify launch-specs/tdx.yaml --reference-values $fixtures/rv.json"
    "verify-json|verify launch-specs/snp.yaml --reference-values $fixtures/rv.json --format json"
    "verify-mismatch|verify launch-specs/snp.yaml --expected ${snp_digest//?/0} --format json"
    "attest|attest launch-specs/snp.yaml --out \$out"
    "verify-evidence-snp|verify-evidence $fixtures/snp/report.bin --root $fixtures/snp/ark.pem --measurement $snp_digest"
    "verify-evidence-tdx-json|verify-evidence $fixtures/tdx/quote.bin --root $fixtures/tdx/root.pem --no-measurement-check --format json"
    "eventlog|eventlog tests/data/ccel/CCEL_data"
    "eventlog-json|eventlog tests/data/ccel/CCEL_data --format json"
    "id-block|id-block --measurement $snp_digest --id-key tests/data/oracle-snp-id-key.pem --author-key tests/data/oracle-snp-author-key.pem"
    "launch-tdx-4k|launch launch-specs/tdx-4k-sample.yaml"
    "launch-snp|launch launch-specs/snp-sample.yaml"
    "launch-stop-after|launch launch-specs/tdx.yaml --stop-after tdx-finalize --dump-stage2"
    "launch-help|launch --help"
    "boot-hello|boot guests/bin/hello-gpr-4k.bin"
    "boot-bench|boot guests/bin/bench-sse-4k.bin"
    "bench-bad-suite|bench --suite nope"
)

same=0
differ=0
for c in "${cases[@]}"; do
    name=${c%%|*}
    args=${c#*|}
    for build in jit aot; do
        out=$work/out
        rm -rf "$out" && mkdir -p "$out" "$work/$build"
        if [[ $build == jit ]]; then cmd=$jit; else cmd=$aot; fi
        # shellcheck disable=SC2086 # the arguments are words on purpose
        eval "$cmd ${args//\$out/$out}" > "$work/$build/$name.out" 2> "$work/$build/$name.err"
        echo $? > "$work/$build/$name.exit"
        # An ID auth's ECDSA signatures are randomized, so it is masked; the ID block before it is fixed and compared.
        sed -i -E 's/id-auth=[A-Za-z0-9+\/=]+/id-auth=(base64, signatures differ every run)/' "$work/$build/$name.out"
    done
    if cmp -s "$work/jit/$name.out" "$work/aot/$name.out" && cmp -s "$work/jit/$name.err" "$work/aot/$name.err" \
        && cmp -s "$work/jit/$name.exit" "$work/aot/$name.exit"; then
        same=$((same + 1))
        echo "same    $name (exit $(cat "$work/aot/$name.exit"))"
    else
        differ=$((differ + 1))
        echo "DIFFER  $name (exit jit $(cat "$work/jit/$name.exit"), aot $(cat "$work/aot/$name.exit"))"
        diff <(cat "$work/jit/$name.out" "$work/jit/$name.err") <(cat "$work/aot/$name.out" "$work/aot/$name.err") | head -n 10
    fi
done

echo "$same verbs same, $differ differ"
[[ $differ == 0 ]]
