using System.Buffers.Binary;
using CocoLaunch.Abi;
using CocoLaunch.Formats.Tdvf;

namespace CocoLaunch.Vmm.Tdx;

/// <summary>One resource descriptor of the TD HOB.</summary>
public sealed record HobResource(ulong Start, ulong Length, bool Accepted)
{
    public ulong End => Start + Length;
}

/// <summary>
/// The TD HOB list QEMU writes into the TD_HOB section (<c>tdvf_hob_create</c>; tdx-mrtd.md §7): a PHIT HOB,
/// one resource descriptor per RAM range — the TD_HOB and TempMem sections carved out as accepted memory,
/// the rest unaccepted — and the end-of-list HOB.
/// </summary>
/// <remarks>
/// The RAM ranges are guest RAM as the firmware sees it (QEMU's e820 entries), not memslots: contiguous slots
/// are one range, so a section may span the boundary between two slots, and a spec that splits its RAM into
/// slots describes the same HOB as one that does not. The q35 layout's ranges never touch, so its HOB is unchanged.
/// </remarks>
public static class TdHobBuilder
{
    // The HOB format (PI spec vol. 3), which IgvmTdHob reads back: PHIT, resource descriptor (PhysicalStart at 32,
    // ResourceLength at 40) and end-of-list.
    internal const int PhitLength = 56;
    internal const int ResourceLength = 48;
    internal const int ResourceStartOffset = 32, ResourceLengthOffset = 40;
    private const int EndLength = 8;
    internal const ushort PhitType = 0x0001;
    internal const ushort ResourceType = 0x0003;
    internal const ushort EndType = 0xFFFF;
    private const uint PhitVersion = 9;
    private const uint SystemMemory = 0x00;
    private const uint Unaccepted = 0x07;
    private const uint ResourceAttributes = 0x7;

    /// <summary>The resource descriptors, in address order, for the given RAM ranges and TDVF sections.</summary>
    public static IReadOnlyList<HobResource> Resources(IEnumerable<(ulong Start, ulong Length)> ram, IEnumerable<TdvfSection> sections)
    {
        var entries = MergeRam(ram).Select(r => new HobResource(r.Start, r.Length, Accepted: false)).ToList();
        // What KVM_TDX_INIT_MEM_REGION adds in RAM is accepted: the firmware's TempMem and HOB, and a Linux payload.
        foreach (var s in sections.Where(s => s.Type is TdvfSectionType.TdHob or TdvfSectionType.TempMem or TdvfSectionType.Payload or TdvfSectionType.PayloadParam))
        {
            ulong start = s.MemoryAddress.Value;
            ulong end = start + s.MemoryDataSize;
            int i = entries.FindIndex(e => !e.Accepted && e.Start <= start && end <= e.End);
            if (i < 0)
            {
                throw new Launch.LaunchException($"{s.Label} at GPA [0x{start:x},0x{end:x}) does not lie inside one unaccepted RAM range");
            }

            var e = entries[i];
            var pieces = new List<HobResource>();
            if (start > e.Start)
            {
                pieces.Add(new HobResource(e.Start, start - e.Start, false));
            }

            pieces.Add(new HobResource(start, end - start, true));
            if (end < e.End)
            {
                pieces.Add(new HobResource(end, e.End - end, false));
            }

            entries.RemoveAt(i);
            entries.InsertRange(i, pieces);
        }

        // Sorted by address and deliberately not merged: adjacent accepted ranges stay separate descriptors.
        return entries.OrderBy(e => e.Start).ToList();
    }

    /// <summary>RAM ranges sorted by address, with ranges that touch joined into one (empty ones dropped).</summary>
    public static IReadOnlyList<(ulong Start, ulong Length)> MergeRam(IEnumerable<(ulong Start, ulong Length)> ram)
    {
        var merged = new List<(ulong Start, ulong Length)>();
        foreach (var r in ram.Where(r => r.Length > 0).OrderBy(r => r.Start))
        {
            if (merged.Count > 0 && merged[^1].Start + merged[^1].Length == r.Start)
            {
                merged[^1] = (merged[^1].Start, merged[^1].Length + r.Length);
            }
            else
            {
                merged.Add(r);
            }
        }

        return merged;
    }

    /// <summary>The HOB list bytes as placed at <paramref name="hobGpa"/>, end HOB included.</summary>
    public static byte[] Build(Gpa hobGpa, IReadOnlyList<HobResource> resources)
    {
        int length = PhitLength + (resources.Count * ResourceLength) + EndLength;
        var hob = new byte[length];
        var phit = hob.AsSpan(0, PhitLength);
        Header(phit, PhitType, PhitLength);
        BinaryPrimitives.WriteUInt32LittleEndian(phit[8..], PhitVersion);
        BinaryPrimitives.WriteUInt64LittleEndian(phit[48..], hobGpa.Value + (ulong)length); // EfiEndOfHobList

        for (int i = 0; i < resources.Count; i++)
        {
            var r = hob.AsSpan(PhitLength + (i * ResourceLength), ResourceLength);
            Header(r, ResourceType, ResourceLength);
            BinaryPrimitives.WriteUInt32LittleEndian(r[24..], resources[i].Accepted ? SystemMemory : Unaccepted);
            BinaryPrimitives.WriteUInt32LittleEndian(r[28..], ResourceAttributes);
            BinaryPrimitives.WriteUInt64LittleEndian(r[ResourceStartOffset..], resources[i].Start);
            BinaryPrimitives.WriteUInt64LittleEndian(r[ResourceLengthOffset..], resources[i].Length);
        }

        Header(hob.AsSpan(length - EndLength), EndType, EndLength);
        return hob;
    }

    private static void Header(Span<byte> hob, ushort type, ushort length)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(hob, type);
        BinaryPrimitives.WriteUInt16LittleEndian(hob[2..], length);
    }
}
