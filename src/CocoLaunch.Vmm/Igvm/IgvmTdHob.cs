using System.Buffers.Binary;
using CocoLaunch.Abi;
using CocoLaunch.Formats.Igvm;
using static CocoLaunch.Vmm.Tdx.TdHobBuilder;

namespace CocoLaunch.Vmm.Igvm;

/// <summary>
/// IGVM has no TD HOB header: a TDX file's vCPUs start in the architectural reset state, and a TDVF-style guest
/// still looks for its HOB through RCX. igvm build packages the HOB QEMU wrote as an unmeasured page, so the
/// launch looks for the first unmeasured page that begins with a PHIT HOB and hands its GPA to the vCPUs.
/// </summary>
public static class IgvmTdHob
{
    /// <summary>The GPA of the file's TD HOB, or null when no unmeasured page holds one.</summary>
    public static Gpa? Find(IgvmLaunchInput input) => input.Directives
        .OfType<IgvmPageData>()
        .FirstOrDefault(p => p.Flags.HasFlag(IgvmPageDataFlags.Unmeasured) && !p.Flags.HasFlag(IgvmPageDataFlags.Shared) && !p.IsZeroPage
            && StartsWithPhit(input.DataOf(p.FileOffset, p.Size).Span))
        ?.Gpa;

    /// <summary>
    /// The first memory range the HOB's resource descriptors name that the spec's RAM does not hold, or null. The
    /// HOB was written for the memory of the spec igvm build packaged; under less RAM the guest would accept pages
    /// that do not exist. The walk stops at the end HOB or the end of the HOB's page.
    /// </summary>
    public static (ulong Start, ulong End)? Uncovered(IgvmLaunchInput input, Gpa hob, IEnumerable<(ulong Start, ulong End)> ram)
    {
        var page = input.Directives.OfType<IgvmPageData>().First(p => p.Gpa == hob);
        var bytes = input.DataOf(page.FileOffset, page.Size).Span;
        var slots = ram.ToList();
        for (int at = 0; at + 8 <= bytes.Length;)
        {
            ushort type = BinaryPrimitives.ReadUInt16LittleEndian(bytes[at..]);
            ushort length = BinaryPrimitives.ReadUInt16LittleEndian(bytes[(at + 2)..]);
            if (type == EndType || length < 8 || at + length > bytes.Length)
            {
                break;
            }

            if (type == ResourceType && length >= ResourceLength)
            {
                ulong start = BinaryPrimitives.ReadUInt64LittleEndian(bytes[(at + ResourceStartOffset)..]);
                ulong end = start + BinaryPrimitives.ReadUInt64LittleEndian(bytes[(at + ResourceLengthOffset)..]);
                if (!slots.Any(r => r.Start <= start && end <= r.End))
                {
                    return (start, end);
                }
            }

            at += length;
        }

        return null;
    }

    private static bool StartsWithPhit(ReadOnlySpan<byte> page) =>
        page.Length >= PhitLength
        && BinaryPrimitives.ReadUInt16LittleEndian(page) == PhitType
        && BinaryPrimitives.ReadUInt16LittleEndian(page[2..]) == PhitLength;
}
