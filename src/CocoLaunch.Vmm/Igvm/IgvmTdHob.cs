using System.Buffers.Binary;
using CocoLaunch.Abi;
using CocoLaunch.Formats.Igvm;

namespace CocoLaunch.Vmm.Igvm;

/// <summary>
/// IGVM has no TD HOB header: a TDX file's vCPUs start in the architectural reset state, and a TDVF-style guest
/// still looks for its HOB through RCX. igvm build packages the HOB QEMU wrote as an unmeasured page, so the
/// launch looks for the first unmeasured page that begins with a PHIT HOB and hands its GPA to the vCPUs.
/// </summary>
public static class IgvmTdHob
{
    /// <summary>EFI_HOB_TYPE_HANDOFF and the length of EFI_HOB_HANDOFF_INFO_TABLE (PI spec vol. 3).</summary>
    private const ushort PhitType = 0x0001;
    private const ushort PhitLength = 56;

    /// <summary>The GPA of the file's TD HOB, or null when no unmeasured page holds one.</summary>
    public static Gpa? Find(IgvmLaunchInput input) => input.Directives
        .OfType<IgvmPageData>()
        .FirstOrDefault(p => p.Flags.HasFlag(IgvmPageDataFlags.Unmeasured) && !p.Flags.HasFlag(IgvmPageDataFlags.Shared) && !p.IsZeroPage
            && StartsWithPhit(input.DataOf(p.FileOffset, p.Size).Span))
        ?.Gpa;

    private static bool StartsWithPhit(ReadOnlySpan<byte> page) =>
        page.Length >= PhitLength
        && BinaryPrimitives.ReadUInt16LittleEndian(page) == PhitType
        && BinaryPrimitives.ReadUInt16LittleEndian(page[2..]) == PhitLength;
}
