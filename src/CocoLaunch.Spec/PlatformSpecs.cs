namespace CocoLaunch.Spec;

/// <summary>MRTD measurement-order choices (tdx-mrtd.md §1.2); the defaults are upstream QEMU + KVM.</summary>
public sealed record TdxMeasurementProfile(TdxPageOrder Order, TdxPageAug PageAug, TdxShortSectionData ShortSectionData)
{
    public static TdxMeasurementProfile Upstream { get; } = new(TdxPageOrder.SinglePass, TdxPageAug.Ignore, TdxShortSectionData.ImageBytes);
}

public enum TdxPageOrder
{
    SinglePass,
    TwoPass,
}

public enum TdxPageAug
{
    Ignore,
    Skip,
}

public enum TdxShortSectionData
{
    ImageBytes,
    ZeroFill,
}

/// <summary>TD_PARAMS values given to KVM_TDX_INIT_VM.</summary>
public sealed record TdxSpec(
    ulong Attributes,
    ulong Xfam,
    byte[] MrConfigId,
    byte[] MrOwner,
    byte[] MrOwnerConfig,
    TdxMeasurementProfile Measurement,
    TdxMeasuredBootSpec? MeasuredBoot = null);

/// <summary>
/// What OVMF measures into RTMR0-2 while it boots a direct-boot kernel, from inputs only the host knows (tdx-mrtd.md
/// §6.4): the ACPI fw_cfg files as a guest captures them, the boot variables the firmware made, and how the VMM patched
/// the kernel's setup header.
/// </summary>
/// <param name="FwCfgFiles">fw_cfg files by name: etc/table-loader and every file it allocates (etc/acpi/rsdp, etc/acpi/tables, …), as a guest reads them from /sys/firmware/qemu_fw_cfg/by_name/NAME/raw.</param>
/// <param name="BootOrder">The BootOrder variable as efivarfs shows it (attributes, then data).</param>
/// <param name="BootOptions">The Boot#### variables BootOrder names, in its order, as efivarfs shows them.</param>
public sealed record TdxMeasuredBootSpec(
    QemuKernelPatch KernelPatch,
    IReadOnlyDictionary<string, string> FwCfgFiles,
    string BootOrder,
    IReadOnlyList<string> BootOptions,
    SpecLocation Location);

/// <summary>How the VMM changes the kernel's setup header before the firmware loads (and measures) it.</summary>
public enum QemuKernelPatch
{
    /// <summary>QEMU 7.2's x86_load_linux: loader type, heap end, command-line pointer and initrd address and size.</summary>
    Qemu72,

    /// <summary>The kernel file as it is: what QEMU serves SEV guests, and a VMM that leaves the header alone.</summary>
    Unpatched,
}

/// <summary>The VMM whose VMSA conventions a SEV-ES/SNP launch follows (snp-launch-digest.md §5.2).</summary>
public enum VmmType
{
    Qemu,
    Ec2,
    Gce,

    /// <summary><c>qemu-legacy-init</c>: QEMU on host kernels before KVM_SEV_INIT2 (sev-snp-measure before 0.0.10): MXCSR and x87 FCW 0.</summary>
    QemuLegacyInit,

    /// <summary><c>ec2-rdx0</c>: as ec2 but RDX 0, as the virtee/sev crate, the Go port and sev-snp-measure before 4a02bf0 compute it.</summary>
    Ec2Rdx0,
}

public static class VmmTypeExtensions
{
    /// <summary>QEMU derives RDX from the vCPU model, so a vCPU identity is needed.</summary>
    public static bool IsQemu(this VmmType vmm) => vmm is VmmType.Qemu or VmmType.QemuLegacyInit;

    /// <summary>EC2's VMM measures the CPUID page after every other metadata section.</summary>
    public static bool IsEc2(this VmmType vmm) => vmm is VmmType.Ec2 or VmmType.Ec2Rdx0;
}

/// <summary>The vCPU identity behind the VMSA's RDX: a QEMU CPU model name or an explicit signature.</summary>
/// <param name="Name">The QEMU model name when the spec gave one, else null.</param>
public sealed record VcpuIdentity(uint Signature, string? Name);

public sealed record SnpSpec(
    VmmType VmmType,
    VcpuIdentity? Vcpu,
    ulong GuestFeatures,
    ulong Policy,
    byte[]? IdBlock,
    byte[]? IdAuth,
    byte[]? HostData)
{
    /// <summary>
    /// sev-snp-measure's --snp-ovmf-hash: the launch digest after the firmware pages, computed elsewhere. The
    /// launch resumes from it instead of measuring the firmware again (48 bytes).
    /// </summary>
    public byte[]? OvmfHash { get; init; }

    /// <summary>An SVSM (COCONUT-SVSM) that runs at VMPL0 below the firmware, when the guest has one.</summary>
    public SvsmSpec? Svsm { get; init; }

    /// <summary>
    /// A direct-boot kernel is measured through the firmware's SNP_KERNEL_HASHES page (QEMU's kernel-hashes=on, the
    /// default here); false boots it through fw_cfg unmeasured (<c>kernel-hashes: off</c>).
    /// </summary>
    public bool KernelHashes { get; init; } = true;
}

/// <summary>
/// An SVSM image and where it goes: QEMU maps it just below the firmware's variable store, so it ends
/// <paramref name="VarsSize"/> bytes below the firmware (sev-snp-measure's --vars-size or the size of --vars-file).
/// </summary>
public sealed record SvsmSpec(string Path, ulong VarsSize, SpecLocation Location);

/// <summary>Legacy SEV and SEV-ES launch parameters.</summary>
public sealed record SevSpec(VmmType VmmType, VcpuIdentity? Vcpu, uint Policy);
