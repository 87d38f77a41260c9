using YamlDotNet.RepresentationModel;

namespace CocoLaunch.Spec;

internal static class SnpSection
{
    /// <summary>QEMU's default policy: SMT allowed plus reserved bit 17, which must be 1.</summary>
    public const ulong DefaultPolicy = 0x30000;

    public const ulong PolicyReservedMustBeOne = 1UL << 17;

    /// <summary>Bits 63:26 of the guest policy must be zero.</summary>
    public const ulong PolicyMustBeZero = ~((1UL << 26) - 1);

    /// <summary>SNPActive: every SNP VMSA has it.</summary>
    public const ulong DefaultGuestFeatures = 0x1;

    /// <summary>SEV_FEATURES bits 0–10, 12, 14 and 15 are defined (snp-launch-digest.md §5.4).</summary>
    public const ulong KnownGuestFeatures = 0x7FF | (1UL << 12) | (1UL << 14) | (1UL << 15);

    public const int IdBlockSize = 96;
    public const int IdAuthSize = 4096;
    public const int HostDataSize = 32;

    /// <summary>An IGVM launch's snp section: the policy and host data; the rest is the file's (<see cref="FirmwareSection.SnpKeysFromIgvm"/>).</summary>
    public static SnpSpec ReadForIgvm(YamlSpecReader reader, YamlNode? node)
    {
        var map = node is null ? null : reader.Mapping(node, "snp", "policy", "host-data");
        return new SnpSpec(
            VmmType.Qemu,
            null,
            DefaultGuestFeatures,
            map?.Optional("policy") is { } p ? Policy(reader, p) : DefaultPolicy,
            null,
            null,
            map?.Optional("host-data") is { } hd ? reader.Blob(hd, "snp.host-data", HostDataSize) : null);
    }

    /// <summary>QEMU's sev-snp-guest kernel-hashes property, as the spec spells it.</summary>
    private static readonly Dictionary<string, bool> OnOff = new() { ["on"] = true, ["off"] = false };

    /// <param name="kernel">The spec has a direct-boot kernel.</param>
    /// <param name="firmwareNamed">The spec names its firmware (rather than booting under the Linux SNP firmware).</param>
    public static SnpSpec Read(YamlSpecReader reader, YamlNode node, bool kernel, bool firmwareNamed)
    {
        string[] keys = [.. VcpuSection.Keys, "vmm-type", "guest-features", "policy", "id-block", "id-auth", "host-data", "svsm", "kernel-hashes"];
        var map = reader.Mapping(node, "snp", keys);
        var vmm = map.Optional("vmm-type") is { } t ? reader.Choice(t, "snp.vmm-type", VcpuSection.VmmTypes) : VmmType.Qemu;
        var vcpu = VcpuSection.Read(reader, map, "snp");
        if (vcpu is null && vmm.IsQemu())
        {
            throw reader.Fail(node, "snp: the QEMU VMSA carries the vCPU signature; give vcpu-type (e.g. EPYC-v4), vcpu-sig or vcpu-family/vcpu-model/vcpu-stepping");
        }

        ulong features = DefaultGuestFeatures;
        if (map.Optional("guest-features") is { } f)
        {
            features = TdxSection.Bits(reader, f, "snp.guest-features", KnownGuestFeatures);
            if ((features & 1) == 0)
            {
                throw reader.Fail(f, $"snp.guest-features: 0x{features:x} lacks bit 0 (SNPActive), which every SNP guest has");
            }
        }

        ulong policy = map.Optional("policy") is { } p ? Policy(reader, p) : DefaultPolicy;
        var idBlock = map.Optional("id-block") is { } ib ? reader.Blob(ib, "snp.id-block", IdBlockSize) : null;
        if (map.Optional("id-auth") is { } ia && idBlock is null)
        {
            throw reader.Fail(map.KeyNode("id-auth"), "snp.id-auth: given without snp.id-block; the authentication information signs an ID block");
        }

        var svsm = map.Optional("svsm") is { } sv ? Svsm(reader, sv) : null;
        if (svsm is not null && !vmm.IsQemu())
        {
            throw reader.Fail(map.KeyNode("svsm"), "snp.svsm: an SVSM launch is defined for QEMU's VMM type only (as sev-snp-measure's snp:svsm mode)");
        }

        bool kernelHashes = map.Optional("kernel-hashes") is not { } kh || KernelHashes(reader, kh, kernel, firmwareNamed);
        return new SnpSpec(
            vmm,
            vcpu,
            features,
            policy,
            idBlock,
            map.Optional("id-auth") is { } auth ? reader.Blob(auth, "snp.id-auth", IdAuthSize) : null,
            map.Optional("host-data") is { } hd ? reader.Blob(hd, "snp.host-data", HostDataSize) : null)
        {
            Svsm = svsm,
            KernelHashes = kernelHashes,
        };
    }

    /// <summary>
    /// <c>kernel-hashes: on|off</c>. Off boots the kernel through fw_cfg unmeasured, as QEMU's kernel-hashes=off does
    /// for a firmware without an SNP_KERNEL_HASHES page (Debian's OVMF.fd); it must be said, because the launch
    /// digest then vouches for the firmware alone.
    /// </summary>
    private static bool KernelHashes(YamlSpecReader reader, YamlNode node, bool kernel, bool firmwareNamed)
    {
        bool on = reader.Choice(node, "snp.kernel-hashes", OnOff);
        if (!kernel)
        {
            throw reader.Fail(node, "snp.kernel-hashes: given without 'kernel'; it says whether a direct-boot kernel is measured");
        }

        return on || firmwareNamed
            ? on
            : throw reader.Fail(node, "snp.kernel-hashes: off needs a firmware that boots an unmeasured kernel (for example Debian's OVMF.fd); the Linux SNP firmware the spec falls back to refuses a kernel whose hashes it was not given");
    }

    /// <summary><c>svsm: {path: SVSM, vars-size: N}</c> or <c>{path: SVSM, vars-file: OVMF_VARS.fd}</c>.</summary>
    private static SvsmSpec Svsm(YamlSpecReader reader, YamlNode node)
    {
        var map = reader.Mapping(node, "snp.svsm", "path", "vars-size", "vars-file");
        var path = map.Required("path");
        var size = map.Optional("vars-size");
        var file = map.Optional("vars-file");
        if ((size is null) == (file is null))
        {
            throw reader.Fail(node, "snp.svsm: give the firmware's variable store as exactly one of vars-size and vars-file; the SVSM ends that far below the firmware");
        }

        ulong vars = size is not null ? reader.Size(size, "snp.svsm.vars-size") : (ulong)new FileInfo(reader.ExistingFile(file!, "snp.svsm.vars-file")).Length;
        if (vars % 0x1000 != 0 || vars > 64UL << 20)
        {
            throw reader.Fail(size ?? file!, $"snp.svsm: a variable store of 0x{vars:x} bytes is not a whole number of 4 KiB pages up to 64 MiB");
        }

        return new SvsmSpec(reader.ExistingFile(path, "snp.svsm.path"), vars, reader.LocationOf(path));
    }

    private static ulong Policy(YamlSpecReader reader, YamlNode node)
    {
        ulong policy = reader.UInt64(node, "snp.policy");
        if ((policy & PolicyMustBeZero) != 0)
        {
            throw reader.Fail(node, $"snp.policy: 0x{policy:x} sets reserved bits 0x{policy & PolicyMustBeZero:x} (bits 63:26 must be zero)");
        }

        return (policy & PolicyReservedMustBeOne) != 0
            ? policy
            : throw reader.Fail(node, $"snp.policy: 0x{policy:x} clears bit 17, which is reserved and must be 1");
    }
}
