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

    public const string SvsmMode = "snp:svsm";

    public static LaunchSpec ToSpec(MeasureOptions o)
    {
        if (o.Mode == OvmfHashMode)
        {
            // Only the firmware is measured: vCPUs, their type and the VMM do not reach the digest yet.
            string firmware = o.Ovmf ?? throw new CliInputException($"--ovmf is required with --mode {OvmfHashMode}");
            return new LaunchSpec("--ovmf", KvmVmType.Snp, new FirmwareSpec(Existing(firmware, "--ovmf"), null, new SpecLocation("--ovmf", 0, 0)), null, 1,
                new MemorySpec(2UL << 30, []), null, new SnpSpec(VmmType.Qemu, null, 0x1, 0x30000, null, null, null), null);
        }

        if ((o.Svsm ?? o.VarsSize ?? o.VarsFile) is not null && o.Mode != SvsmMode)
        {
            throw new CliInputException($"--svsm, --vars-size and --vars-file belong to --mode {SvsmMode}");
        }

        var platform = o.Mode switch
        {
            "snp" or SvsmMode => KvmVmType.Snp,
            "seves" => KvmVmType.SevEs,
            "sev" => KvmVmType.Sev,
            null => throw new CliInputException("--mode is required with --ovmf (snp, seves or sev)"),
            _ => throw new CliInputException($"--mode: '{o.Mode}' is not one of: snp, seves, sev, {SvsmMode}, {OvmfHashMode}"),
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

        var svsm = o.Mode == SvsmMode ? Svsm(o, vmm, boot) : null;
        var snp = platform == KvmVmType.Snp ? new SnpSpec(vmm, vcpu, features, 0x30000, null, null, null) { OvmfHash = OvmfHash(o.SnpOvmfHash), Svsm = svsm } : null;
        var sev = platform == KvmVmType.Snp ? null : new SevSpec(vmm, vcpu, platform == KvmVmType.SevEs ? 0x5u : 0x1u);
        return new LaunchSpec("--ovmf", platform, new FirmwareSpec(Existing(ovmf, "--ovmf"), null, new SpecLocation("--ovmf", 0, 0)), boot, vcpus,
            new MemorySpec(2UL << 30, []), null, snp, sev);
    }

    /// <summary>snp:svsm's inputs: the SVSM, and the variable store's size, given or from its file (exactly one).</summary>
    private static SvsmSpec Svsm(MeasureOptions o, VmmType vmm, DirectBootSpec? boot)
    {
        string svsm = o.Svsm ?? throw new CliInputException($"--svsm is required with --mode {SvsmMode}");
        if ((o.VarsSize is null) == (o.VarsFile is null))
        {
            throw new CliInputException($"--mode {SvsmMode} needs exactly one of --vars-size and --vars-file");
        }

        if (vmm != VmmType.Qemu || boot is not null || o.SnpOvmfHash is not null)
        {
            throw new CliInputException($"--mode {SvsmMode} is defined for --vmm-type QEMU without --kernel or --snp-ovmf-hash, as in sev-snp-measure");
        }

        ulong vars = o.VarsSize is { } size ? CliArguments.Number(size, "--vars-size") : (ulong)new FileInfo(Existing(o.VarsFile!, "--vars-file")).Length;
        return vars % 0x1000 == 0 && vars <= 64UL << 20
            ? new SvsmSpec(Existing(svsm, "--svsm"), vars, new SpecLocation("--svsm", 0, 0))
            : throw new CliInputException($"--vars-size: 0x{vars:x} is not a whole number of 4 KiB pages up to 64 MiB");
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
