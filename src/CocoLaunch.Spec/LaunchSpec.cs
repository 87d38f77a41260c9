using CocoLaunch.Abi;

namespace CocoLaunch.Spec;

/// <summary>A validated guest image spec. Every path is absolute; every value has been range-checked.</summary>
/// <param name="FirmwareOrNull">Null for a kernel booted without firmware (platform default with <c>kernel</c>).</param>
/// <param name="VcpuType">The CPUID table of a default-platform guest (<c>vcpu-type</c>); null for the platform's own.</param>
public sealed record LaunchSpec(
    string SourcePath,
    KvmVmType Platform,
    FirmwareSpec? FirmwareOrNull,
    DirectBootSpec? DirectBoot,
    int Vcpus,
    MemorySpec Memory,
    TdxSpec? Tdx,
    SnpSpec? Snp,
    SevSpec? Sev,
    string? VcpuType = null)
{
    /// <summary>The firmware, for the verbs that measure, inspect or boot one; a direct-boot spec without one is an input error here.</summary>
    public FirmwareSpec Firmware => FirmwareOrNull
        ?? throw new SpecException(SourcePath, 0, 0, "the spec boots its kernel without firmware (platform default, no 'firmware'); only 'launch' and 'validate' take it");

    /// <summary>
    /// The direct boot the launch digest covers: null when there is none, or when an SNP spec boots its kernel with
    /// <c>kernel-hashes: off</c>, unmeasured.
    /// </summary>
    public DirectBootSpec? MeasuredDirectBoot => Snp is { KernelHashes: false } ? null : DirectBoot;

    /// <summary>A Linux kernel booted straight through the boot protocol, with no firmware.</summary>
    public bool IsFirmwareless => FirmwareOrNull is null;
}

/// <summary>The firmware image, optionally split into a CODE file and a separate VARS file, or an IGVM file.</summary>
/// <param name="Location">Where the spec named the firmware, for messages about its contents.</param>
/// <param name="IsIgvm">Path is an IGVM file (<c>firmware: {igvm: FILE}</c>): its directives, not firmware metadata, are the launch.</param>
public sealed record FirmwareSpec(string Path, string? VarsPath, SpecLocation Location, bool IsIgvm = false);

/// <summary>Kernel, initrd and command line for a direct (fw_cfg) boot.</summary>
public sealed record DirectBootSpec(string KernelPath, string? InitrdPath, string? Cmdline);

/// <summary>Guest RAM: a total size, explicit memslots when the spec gives them, and the host page size behind shared memory.</summary>
/// <param name="HostPageSize">4K pages, 2M transparent huge pages (QEMU's anonymous default) or 1G hugetlbfs pages.</param>
/// <param name="GuestMemfdPageSize">guest_memfd folio size; above 4K it models the hugetlb guest_memfd series.</param>
/// <param name="Location">Where the spec gave the memory, for messages about the layout it makes; null outside a spec.</param>
public sealed record MemorySpec(ulong Size, IReadOnlyList<MemslotSpec> Slots, ulong HostPageSize = MemorySpec.DefaultHostPageSize, ulong GuestMemfdPageSize = 4096, SpecLocation? Location = null)
{
    public const ulong DefaultHostPageSize = 2UL << 20;
}

public enum MemslotKind
{
    Shared,
    Private,
}

public sealed record MemslotSpec(Gpa Gpa, ulong Size, MemslotKind Kind)
{
    public ulong End => Gpa.Value + Size;
}

/// <summary>A place in a spec file, for messages about values checked after parsing.</summary>
public sealed record SpecLocation(string File, long Line, long Column)
{
    /// <summary>"spec.yaml:3:11"; a location outside any file (a command-line option) is just its name.</summary>
    public override string ToString() => Line > 0 ? $"{File}:{Line}:{Column}" : File;
}
