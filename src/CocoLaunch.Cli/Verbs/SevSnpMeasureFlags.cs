using CocoLaunch.Abi;
using CocoLaunch.Spec;

namespace CocoLaunch.Cli.Verbs;

/// <summary>
/// sev-snp-measure's command line (0.0.13) mapped onto a launch spec, so that a pipeline can switch tools by
/// changing only the program name. Defaults and precedence follow that tool: family/model/stepping over
/// --vcpu-sig over --vcpu-type; guest features 0x1; policy 0x30000.
/// </summary>
internal static class SevSnpMeasureFlags
{
    public const string OvmfHashMode = "snp:ovmf-hash";

    public static LaunchSpec ToSpec(MeasureOptions o)
    {
        if (o.Mode == OvmfHashMode)
        {
            // Only the firmware is measured: vCPUs, their type and the VMM do not reach the digest yet.
            string firmware = o.Ovmf ?? throw new CliInputException($"--ovmf is required with --mode {OvmfHashMode}");
            return new LaunchSpec("--ovmf", KvmVmType.Snp, new FirmwareSpec(Existing(firmware, "--ovmf"), null, new SpecLocation("--ovmf", 0, 0)), null, 1,
                new MemorySpec(2UL << 30, []), null, new SnpSpec(VmmType.Qemu, null, 0x1, 0x30000, null, null, null), null);
        }

        var platform = o.Mode switch
        {
            "snp" => KvmVmType.Snp,
            "seves" => KvmVmType.SevEs,
            "sev" => KvmVmType.Sev,
            null => throw new CliInputException("--mode is required with --ovmf (snp, seves or sev)"),
            _ => throw new CliInputException($"--mode: '{o.Mode}' is not one of: snp, seves, sev, {OvmfHashMode}"),
        };

        string ovmf = o.Ovmf ?? throw new CliInputException($"--ovmf is required with --mode {o.Mode}");
        int vcpus = o.Vcpus ?? (platform == KvmVmType.Sev ? 1 : throw new CliInputException("--vcpus is required"));
        if (vcpus is < 1 or > LaunchSpecParser.MaxVcpus)
        {
            throw new CliInputException($"--vcpus: {vcpus} is out of range (1..{LaunchSpecParser.MaxVcpus})");
        }

        var vmm = o.VmmType switch
        {
            null or "QEMU" => VmmType.Qemu,
            "ec2" => VmmType.Ec2,
            "gce" => VmmType.Gce,
            "qemu-legacy-init" => VmmType.QemuLegacyInit,
            "ec2-rdx0" => VmmType.Ec2Rdx0,
            _ => throw new CliInputException($"--vmm-type: '{o.VmmType}' is not one of: QEMU, ec2, gce, qemu-legacy-init, ec2-rdx0"),
        };
        var vcpu = Identity(o);
        if (vcpu is null && vmm.IsQemu() && platform != KvmVmType.Sev)
        {
            throw new CliInputException("--vcpu-type, --vcpu-sig or --vcpu-family/--vcpu-model/--vcpu-stepping is required with --vmm-type QEMU");
        }

        if (o.Kernel is null && (o.Initrd is not null || o.Append is not null))
        {
            throw new CliInputException("--initrd and --append need --kernel");
        }

        ulong features = o.GuestFeatures is null ? 0x1 : CliArguments.Number(o.GuestFeatures, "--guest-features");
        var boot = o.Kernel is null ? null : new DirectBootSpec(Existing(o.Kernel, "--kernel"), o.Initrd is null ? null : Existing(o.Initrd, "--initrd"), o.Append);
        if (o.SnpOvmfHash is not null && platform != KvmVmType.Snp)
        {
            throw new CliInputException("--snp-ovmf-hash applies to --mode snp only");
        }

        var snp = platform == KvmVmType.Snp ? new SnpSpec(vmm, vcpu, features, 0x30000, null, null, null) { OvmfHash = OvmfHash(o.SnpOvmfHash) } : null;
        var sev = platform == KvmVmType.Snp ? null : new SevSpec(vmm, vcpu, platform == KvmVmType.SevEs ? 0x5u : 0x1u);
        return new LaunchSpec("--ovmf", platform, new FirmwareSpec(Existing(ovmf, "--ovmf"), null, new SpecLocation("--ovmf", 0, 0)), boot, vcpus,
            new MemorySpec(2UL << 30, []), null, snp, sev);
    }

    private static byte[]? OvmfHash(string? hex)
    {
        if (hex is null)
        {
            return null;
        }

        return CliArguments.HexBytes(hex, 48)
            ?? throw new CliInputException($"--snp-ovmf-hash: expected a 48-byte launch digest as 96 hex digits, got '{hex}'");
    }

    private static VcpuIdentity? Identity(MeasureOptions o)
    {
        if (o.VcpuFamily is not null || o.VcpuModel is not null || o.VcpuStepping is not null)
        {
            if (o.VcpuFamily is not { } f || o.VcpuModel is not { } m || o.VcpuStepping is not { } s)
            {
                throw new CliInputException("--vcpu-family, --vcpu-model and --vcpu-stepping go together");
            }

            return new VcpuIdentity(VcpuModels.Signature((uint)f, (uint)m, (uint)s), null);
        }

        if (o.VcpuSig is not null)
        {
            return new VcpuIdentity((uint)CliArguments.Number(o.VcpuSig, "--vcpu-sig"), null);
        }

        if (o.VcpuType is null)
        {
            return null;
        }

        return VcpuModels.Signatures.TryGetValue(o.VcpuType, out uint sig)
            ? new VcpuIdentity(sig, o.VcpuType)
            : throw new CliInputException($"--vcpu-type: unknown CPU model '{o.VcpuType}' (known: {string.Join(", ", VcpuModels.Signatures.Keys)})");
    }

    /// <summary>Any base, as Python's int(x, 0): 0x…, 0o…, 0b… or decimal.</summary>
    private static string Existing(string path, string option) =>
        File.Exists(path) ? Path.GetFullPath(path) : throw new CliInputException($"{option}: no such file '{path}'");
}
