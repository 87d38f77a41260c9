using CocoLaunch.Tests.Shared;

namespace CocoLaunch.Cli.Tests;

/// <summary>
/// Every malformed spec fails `validate` with exit code 2 and exactly one stderr line
/// <c>cocolaunch: FILE:LINE:COL: message</c>. {FW} stands for the vendored OVMF_CODE.fd, {DIR} for a directory.
/// </summary>
public sealed class MalformedSpecTests
{
    private const string Snp = "platform: snp\nfirmware: {FW}\nmemory: 2G\nsnp:\n  vcpu-type: EPYC-v4\n";

    public static readonly TheoryData<string, string, string> Cases = new()
    {
        { "yaml-syntax", "platform: snp\nfirmware: [unclosed\n", "3:1: YAML syntax error: While parsing a flow sequence, did not find expected ',' or ']'." },
        { "bad-indent", "platform: snp\n  firmware: x\n", "2:11: YAML syntax error: While scanning a plain scalar value, found invalid mapping." },
        { "duplicate-key", "platform: snp\nplatform: tdx\n", "2:1: duplicate key 'platform'" },
        { "empty-file", "", "1:1: the spec is empty; it needs at least 'platform', 'firmware' and 'memory'" },
        { "two-documents", Snp + "---\nplatform: tdx\n", "7:1: the spec holds more than one YAML document; put one spec in each file" },
        { "root-is-list", "- platform: snp\n", "1:1: the spec: expected a mapping of keys (platform, firmware, kernel, initrd, cmdline, vcpu-type, vcpus, memory, tdx, snp, sev), got a list" },
        { "unknown-top-key", Snp + "colour: blue\n", "6:1: unknown key 'colour' at the top level (expected one of: platform, firmware, kernel, initrd, cmdline, vcpu-type, vcpus, memory, tdx, snp, sev)" },
        { "unknown-nested-key", Snp + "  vcpu-typo: 1\n", "6:3: unknown key 'vcpu-typo' in snp (expected one of: vcpu-type, vcpu-sig, vcpu-family, vcpu-model, vcpu-stepping, vmm-type, guest-features, policy, id-block, id-auth, host-data, svsm, kernel-hashes)" },
        { "svsm-both-vars", Snp + "  svsm: {path: ../firmware/coconut-svsm/svsm.bin, vars-size: 0x84000, vars-file: x}\n", "6:9: snp.svsm: give the firmware's variable store as exactly one of vars-size and vars-file; the SVSM ends that far below the firmware" },
        { "svsm-odd-vars", Snp + "  svsm: {path: ../firmware/coconut-svsm/svsm.bin, vars-size: 1000}\n", "6:62: snp.svsm: a variable store of 0x3e8 bytes is not a whole number of 4 KiB pages up to 64 MiB" },
        { "missing-platform", "firmware: {FW}\nmemory: 2G\n", "1:1: missing required key 'platform'" },
        { "unknown-platform", "platform: sgx\nfirmware: {FW}\nmemory: 2G\n", "1:11: platform: 'sgx' is not one of: tdx, snp, sev-es, sev, sw-protected, default" },
        { "missing-memory", "platform: sev\nfirmware: {FW}\n", "1:1: missing required key 'memory'" },
        { "vcpus-word", Snp + "vcpus: two\n", "6:8: vcpus: expected an integer, got 'two'" },
        { "vcpus-negative", Snp + "vcpus: -1\n", "6:8: vcpus: -1 is out of range (1..4096)" },
        { "vcpus-zero", Snp + "vcpus: 0\n", "6:8: vcpus: 0 is out of range (1..4096)" },
        { "vcpus-too-many", Snp + "vcpus: 5000\n", "6:8: vcpus: 5000 is out of range (1..4096)" },
        { "vcpus-quoted", Snp + "vcpus: \"2\"\n", "6:8: vcpus: expected an integer, got the string \"2\"" },
        { "missing-firmware-file", "platform: sev\nfirmware: nope.fd\nmemory: 1G\n", "2:11: firmware: file 'nope.fd' not found (looked for {SPECDIR}/nope.fd)" },
        { "firmware-is-directory", "platform: sev\nfirmware: {DIR}\nmemory: 1G\n", "2:11: firmware: '{DIR}' is a directory, not a file" },
        { "firmware-unknown-key", "platform: sev\nfirmware:\n  code: {FW}\nmemory: 1G\n", "3:3: unknown key 'code' in firmware (expected one of: path, vars, igvm)" },
        { "tdx-section-on-snp", Snp + "tdx:\n  xfam: 0x3\n", "6:1: tdx: this section applies to platform tdx, but the platform is snp" },
        { "snp-without-section", "platform: snp\nfirmware: {FW}\nmemory: 2G\n", "1:11: platform snp needs an 'snp' section naming at least the vCPU type (snp.vcpu-type)" },
        { "memory-unaligned", "platform: sev\nfirmware: {FW}\nmemory: 4097\n", "3:9: memory: 0x1001 bytes is not a positive multiple of 4 KiB" },
        { "memory-zero", "platform: sev\nfirmware: {FW}\nmemory: 0\n", "3:9: memory: 0x0 bytes is not a positive multiple of 4 KiB" },
        { "memory-bad-unit", "platform: sev\nfirmware: {FW}\nmemory: 2 lots\n", "3:9: memory: expected a size such as 2G, 512MiB or 0x80000000, got '2 lots'" },
        { "memory-too-large", "platform: sev\nfirmware: {FW}\nmemory: 8P\n", "3:9: memory: 8 PiB is more than the 4 PiB a 52-bit physical address space holds" },
        { "slots-overlap", "platform: snp\nfirmware: {FW}\nmemory:\n  slots:\n    - { gpa: 0x0, size: 2G, kind: private }\n    - { gpa: 0x40000000, size: 1G, kind: shared }\nsnp: { vcpu-type: EPYC }\n", "6:7: memory.slots[1]: GPA range [0x40000000,0x80000000) overlaps the slot at line 5 [0x0,0x80000000)" },
        { "slot-private-on-default", "platform: default\nfirmware: {FW}\nmemory:\n  slots:\n    - { gpa: 0x0, size: 1G, kind: private }\n", "5:35: memory.slots[0].kind: private memory needs a platform with guest_memfd-backed private memory (tdx, snp or sw-protected)" },
        { "gmem-pages-on-default", "platform: default\nfirmware: {FW}\nmemory: { size: 1G, guest-memfd-pages: 2M }\n", "3:40: memory.guest-memfd-pages: this platform has no guest_memfd (use tdx, snp or sw-protected)" },
        { "gmem-pages-bad", "platform: snp\nfirmware: {FW}\nmemory: { size: 1G, guest-memfd-pages: 64K }\nsnp: { vcpu-type: EPYC }\n", "3:40: memory.guest-memfd-pages: '64K' is not one of: 4K, 2M, 1G" },
        { "slot-gpa-unaligned", "platform: default\nfirmware: {FW}\nmemory:\n  slots:\n    - { gpa: 0x1234, size: 1G, kind: shared }\n", "5:14: memory.slots[0].gpa: 0x1234 is not 4 KiB aligned" },
        { "slot-bad-kind", "platform: default\nfirmware: {FW}\nmemory:\n  slots:\n    - { gpa: 0x0, size: 1G, kind: secret }\n", "5:35: memory.slots[0].kind: 'secret' is not one of: private, shared" },
        { "slot-sum-mismatch", "platform: default\nfirmware: {FW}\nmemory:\n  size: 2G\n  slots:\n    - { gpa: 0x0, size: 1G, kind: shared }\n", "4:9: memory.size is 2 GiB but the slots add up to 1 GiB" },
        { "slots-empty", "platform: default\nfirmware: {FW}\nmemory:\n  slots: []\n", "4:10: memory.slots: expected a non-empty list of slots, got an empty list" },
        { "mrconfigid-short", "platform: tdx\nfirmware: {OVMF}\nmemory: 2G\ntdx:\n  mrconfigid: abcd\n", "5:15: tdx.mrconfigid: expected 48 bytes as 96 hex digits or 64 base64 characters, got 4 characters" },
        { "tdx-attributes-reserved", "platform: tdx\nfirmware: {OVMF}\nmemory: 2G\ntdx:\n  attributes: 0x2\n", "5:15: tdx.attributes: 0x2 sets reserved bits 0x2" },
        { "tdx-xfam-no-sse", "platform: tdx\nfirmware: {OVMF}\nmemory: 2G\ntdx:\n  xfam: 0x1\n", "5:9: tdx.xfam: 0x1 must include x87 and SSE (bits 0 and 1)" },
        { "tdx-bad-order", "platform: tdx\nfirmware: {OVMF}\nmemory: 2G\ntdx:\n  measurement: { order: three-pass }\n", "5:25: tdx.measurement.order: 'three-pass' is not one of: single-pass, two-pass" },
        { "policy-bit17-clear", Snp + "  policy: 0x10000\n", "6:11: snp.policy: 0x10000 clears bit 17, which is reserved and must be 1" },
        { "policy-reserved-high", Snp + "  policy: 0x4030000\n", "6:11: snp.policy: 0x4030000 sets reserved bits 0x4000000 (bits 63:26 must be zero)" },
        { "policy-negative", Snp + "  policy: -5\n", "6:11: snp.policy: -5 is negative; expected an integer of 0 or more" },
        { "features-reserved", Snp + "  guest-features: 0x800\n", "6:19: snp.guest-features: 0x800 sets reserved bits 0x800" },
        { "features-no-snpactive", Snp + "  guest-features: 0x20\n", "6:19: snp.guest-features: 0x20 lacks bit 0 (SNPActive), which every SNP guest has" },
        { "unknown-vcpu-type", "platform: snp\nfirmware: {FW}\nmemory: 2G\nsnp:\n  vcpu-type: EPYC-v9\n", "5:14: snp.vcpu-type: unknown CPU model 'EPYC-v9' (known: EPYC, EPYC-v1, EPYC-v2, EPYC-v3, EPYC-v4, EPYC-IBPB, EPYC-Rome, EPYC-Rome-v1, EPYC-Rome-v2, EPYC-Rome-v3, EPYC-Milan, EPYC-Milan-v1, EPYC-Milan-v2, EPYC-Genoa, EPYC-Genoa-v1, EPYC-Turin)" },
        { "two-vcpu-forms", Snp + "  vcpu-sig: 0x800f12\n", "6:3: snp: give only one of vcpu-type, vcpu-sig or vcpu-family/vcpu-model/vcpu-stepping" },
        { "vcpu-model-range", "platform: snp\nfirmware: {FW}\nmemory: 2G\nsnp: { vcpu-family: 25, vcpu-model: 300, vcpu-stepping: 1 }\n", "4:37: snp.vcpu-model: 300 is out of range (0..255)" },
        { "snp-no-vcpu-qemu", "platform: snp\nfirmware: {FW}\nmemory: 2G\nsnp:\n  policy: 0x30000\n", "5:3: snp: the QEMU VMSA carries the vCPU signature; give vcpu-type (e.g. EPYC-v4), vcpu-sig or vcpu-family/vcpu-model/vcpu-stepping" },
        { "vmm-type-case", Snp + "  vmm-type: EC2\n", "6:13: snp.vmm-type: 'EC2' is not one of: QEMU, ec2, gce, qemu-legacy-init, ec2-rdx0" },
        { "host-data-base64-short", Snp + "  host-data: AAAA\n", "6:14: snp.host-data: expected 32 bytes as 64 hex digits or 44 base64 characters, got 4 characters" },
        { "id-auth-without-id-block", Snp + "  id-auth: AAAA\n", "6:3: snp.id-auth: given without snp.id-block; the authentication information signs an ID block" },
        { "kernel-hashes-without-kernel", Snp + "  kernel-hashes: off\n", "6:18: snp.kernel-hashes: given without 'kernel'; it says whether a direct-boot kernel is measured" },
        { "kernel-hashes-word", Snp + "  kernel-hashes: no\nkernel: {FW}\n", "6:18: snp.kernel-hashes: 'no' is not one of: on, off" },
        { "kernel-hashes-off-without-firmware", "platform: snp\nkernel: {FW}\nmemory: 1G\nsnp:\n  vcpu-type: EPYC-v4\n  kernel-hashes: off\n", "6:18: snp.kernel-hashes: off needs a firmware that boots an unmeasured kernel (for example Debian's OVMF.fd); the Linux SNP firmware the spec falls back to refuses a kernel whose hashes it was not given" },
        { "initrd-without-kernel", Snp + "initrd: {FW}\n", "6:1: initrd: given without 'kernel'; an initrd or command line needs a direct-boot kernel" },
        { "size-overflows", "platform: sev\nfirmware: {FW}\nmemory: 99999999P\n", "3:9: memory: '99999999P' is too large to count in 64 bits" },
        { "underscore-misplaced", "platform: sev\nfirmware: {FW}\nmemory: 0x_1000\n", "3:9: memory: expected a size such as 2G, 512MiB or 0x80000000, got '0x_1000'" },
        { "two-vcpu-forms-file-order", "platform: snp\nfirmware: {FW}\nmemory: 2G\nsnp:\n  vcpu-sig: 0x800f12\n  vcpu-family: 23\n", "6:3: snp: give only one of vcpu-type, vcpu-sig or vcpu-family/vcpu-model/vcpu-stepping" },
        { "sev-policy-with-es", "platform: sev\nfirmware: {FW}\nmemory: 1G\nsev:\n  policy: 0x5\n", "5:11: sev.policy: 0x5 sets the ES bit (bit 2); use platform sev-es for an SEV-ES guest" },
        { "sev-es-policy-without-es", "platform: sev-es\nfirmware: {FW}\nmemory: 1G\nsev:\n  vcpu-type: EPYC\n  policy: 0x1\n", "6:11: sev.policy: 0x1 lacks the ES bit (bit 2) that platform sev-es needs" },
        { "cmdline-null", "platform: sev\nfirmware: {FW}\nmemory: 1G\nkernel: {FW}\ncmdline:\n", "5:9: cmdline: expected a string, got nothing (null)" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Validate_MalformedSpec_ExitsTwoWithLocatedMessage(string name, string yaml, string expected)
    {
        using var dir = new TempDir();
        string sub = Directory.CreateDirectory(Path.Combine(dir.Path, "subdir")).FullName;
        string spec = dir.Write(name + ".yaml", Expand(yaml, sub));

        var result = CliRunner.Run("validate", spec);

        Assert.Equal(2, result.Exit);
        Assert.Equal($"cocolaunch: {spec}:{Expand(expected, sub).Replace("{SPECDIR}", dir.Path, StringComparison.Ordinal)}", result.ErrorLine);
        Assert.Equal(string.Empty, result.Stdout);
    }

    private static string Expand(string text, string directory) => text
        .Replace("{FW}", RepoPaths.OvmfCodeFd, StringComparison.Ordinal)
        .Replace("{OVMF}", RepoPaths.OvmfFd, StringComparison.Ordinal)
        .Replace("{DIR}", directory, StringComparison.Ordinal);
}
