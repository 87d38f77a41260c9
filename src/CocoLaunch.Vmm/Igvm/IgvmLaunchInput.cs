using CocoLaunch.Abi;
using CocoLaunch.Formats.Igvm;

namespace CocoLaunch.Vmm.Igvm;

/// <summary>How a PAGE_DATA with no file data (a zero page) is measured on SNP (formats-and-peers.md §3.2).</summary>
public enum IgvmZeroPages
{
    /// <summary>igvmmeasure's default: a NORMAL page of zeros.</summary>
    Normal,

    /// <summary>igvmmeasure --native-zero (profile igvm-native-zero): the firmware's own ZERO page type, as QEMU loads SEV metadata's zero sections.</summary>
    Native,
}

/// <summary>An IGVM file to launch: the parsed headers, the bytes their file offsets point into, and the platform chosen from it.</summary>
public sealed record IgvmLaunchInput(string Name, IgvmFile File, ReadOnlyMemory<byte> Bytes, IgvmSupportedPlatform Platform, IgvmZeroPages ZeroPages = IgvmZeroPages.Normal)
{
    /// <summary>The vCPU count and memory the launch uses, once checked (<see cref="IgvmLaunchPlan.Of"/>).</summary>
    public IgvmLaunchPlan? Plan { get; init; }

    /// <summary>Where the TD HOB is, for RCX at KVM_TDX_INIT_VCPU (<see cref="IgvmTdHob"/>); null when the guest gets none.</summary>
    public Abi.Gpa? TdHob { get; init; }

    /// <summary>The directive headers for the chosen platform, in file order: the order the launch measures them in.</summary>
    public IEnumerable<IgvmHeader> Directives =>
        File.Headers.Where(h => h is not IgvmIgnoredHeader && IgvmNames.SectionOf((uint)h.Type) == IgvmSection.Directive
            && (h.CompatibilityMask is not { } mask || (mask & Platform.Mask) != 0));

    /// <summary>The platform's SNP guest policy, when the file gives one (it does not enter the digest).</summary>
    public ulong? GuestPolicy => File.Headers.OfType<IgvmGuestPolicy>().FirstOrDefault(p => (p.Mask & Platform.Mask) != 0)?.Policy;

    /// <summary>A page's file data, or empty for a zero page (file offset 0).</summary>
    public ReadOnlyMemory<byte> DataOf(uint fileOffset, ulong size) => fileOffset == 0 ? ReadOnlyMemory<byte>.Empty : Bytes.Slice((int)fileOffset, (int)size);

    /// <summary>"IGVM #12 PAGE_DATA": what the measurement log attributes a directive's operations to.</summary>
    public static string SectionOf(IgvmHeader h) => $"IGVM #{h.Index} {h.TypeName.Replace("IGVM_VHT_", string.Empty, StringComparison.Ordinal)}";

    /// <summary>A directive the launch cannot carry out, in the reader's form: the header, its offset, the reason.</summary>
    public static Launch.LaunchException Refuse(IgvmHeader h, string problem) => new($"{h.Label} at offset 0x{h.Offset:x}: {problem}");

    public const ulong Page = PageSize.Size4K;
}
