using CocoLaunch.Abi;

namespace CocoLaunch.Formats.Tdvf;

/// <summary>Validity rules for TDVF sections: QEMU's <c>tdvf.c</c> checks plus the bounds check QEMU omits.</summary>
internal static class TdvfRules
{
    /// <summary>The largest guest-physical address space x86 can describe; no VMM can map a section above it.</summary>
    public const ulong MaxPhysicalAddress = 1UL << 52;

    public static void Check(TdvfSection s, long imageSize, List<FirmwareNote> notes)
    {
        if (!s.IsKnownType)
        {
            notes.Add(new FirmwareNote(s.EntryOffset, $"{s.Label} has an unknown type; a launch that measures this image will reject it"));
        }
        else if (!s.IsQemuType)
        {
            notes.Add(new FirmwareNote(s.EntryOffset, $"{s.Label} is a td-shim section type that upstream QEMU rejects"));
        }

        if ((s.Attributes & TdvfSectionAttributes.Reserved) != 0)
        {
            notes.Add(new FirmwareNote(s.EntryOffset, $"{s.Label} sets reserved attribute bits {Hex.Of((ulong)(s.Attributes & TdvfSectionAttributes.Reserved))}"));
        }

        if (!s.MemoryAddress.IsPageAligned || !PageSize.IsAligned4K(s.MemoryDataSize))
        {
            throw Fail(s, $"is not 4 KiB aligned (GPA {s.MemoryAddress}, memory size {Hex.Of(s.MemoryDataSize)})");
        }

        if (s.MemoryDataSize == 0)
        {
            throw Fail(s, "has a memory size of 0");
        }

        if (!s.MemoryAddress.TryAdd(s.MemoryDataSize, out _))
        {
            throw Fail(s, $"GPA range starting at {s.MemoryAddress} with size {Hex.Of(s.MemoryDataSize)} wraps past the top of the address space");
        }

        if (s.MemoryAddress.Value + s.MemoryDataSize > MaxPhysicalAddress)
        {
            throw Fail(s, $"GPA range {Range(s)} lies beyond the 52-bit guest-physical address space (MAXPHYADDR 52 ends at {Hex.Of(MaxPhysicalAddress)})");
        }

        if (s.RawDataSize > s.MemoryDataSize)
        {
            throw Fail(s, $"raw data size {Hex.Of(s.RawDataSize)} is larger than its memory size {Hex.Of(s.MemoryDataSize)}");
        }

        bool carriesData = s.Type is TdvfSectionType.Bfv or TdvfSectionType.Cfv;
        if (carriesData && s.RawDataSize == 0)
        {
            throw Fail(s, "has no raw data, but BFV and CFV sections are loaded from the image");
        }

        if (s.Type is TdvfSectionType.TdHob or TdvfSectionType.TempMem && s.RawDataSize != 0)
        {
            throw Fail(s, $"has raw data size {Hex.Of(s.RawDataSize)}, but {s.TypeName} sections hold no image data");
        }

        if (s.RawDataSize != 0)
        {
            CheckDataInsideImage(s, imageSize);
        }
    }

    public static void CheckNoOverlap(IReadOnlyList<TdvfSection> sections)
    {
        if (RangeOverlap.Find(sections, s => s.MemoryAddress.Value, s => s.MemoryAddress.Value + s.MemoryDataSize, s => s.Index) is var (first, second))
        {
            throw Fail(second, $"GPA range {Range(second)} overlaps {first.Label} at {Range(first)}");
        }
    }

    private static void CheckDataInsideImage(TdvfSection s, long imageSize)
    {
        ulong end = (ulong)s.DataOffset + s.RawDataSize;
        if (end <= (ulong)imageSize)
        {
            return;
        }

        string problem = $"data {Hex.Range(s.DataOffset, end)} lies beyond the end of the file (size {Hex.Of((ulong)imageSize)})";

        // A CODE-only file (OVMF_CODE.fd) carries metadata written for the unified VARS+CODE image:
        // the section's GPA then matches an image of exactly the missing length ending at 4 GiB.
        ulong assumedSize = end;
        ulong missing = assumedSize - (ulong)imageSize;
        if (missing <= s.DataOffset && Gpa.FourGiB.Value - assumedSize + s.DataOffset == s.MemoryAddress.Value)
        {
            problem += $"; the metadata was written for a {Hex.Of(assumedSize)}-byte VARS+CODE image, so this looks like a CODE-only file such as OVMF_CODE.fd:"
                + $" give the {Hex.Of(missing)}-byte vars file too (firmware.vars in a launch spec, --vars for inspect)";
        }

        throw Fail(s, problem);
    }

    private static string Range(TdvfSection s) => Hex.Range(s.MemoryAddress.Value, s.MemoryAddress.Value + s.MemoryDataSize);

    private static FirmwareFormatException Fail(TdvfSection s, string problem) => new(s.EntryOffset, $"{s.Label} {problem}");
}
