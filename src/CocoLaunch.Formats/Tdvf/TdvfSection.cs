using CocoLaunch.Abi;

namespace CocoLaunch.Formats.Tdvf;

/// <summary>TDVF metadata section types (TDVF Design Guide; td-shim adds 4–8).</summary>
public enum TdvfSectionType : uint
{
    Bfv = 0,
    Cfv = 1,
    TdHob = 2,
    TempMem = 3,
    PermMem = 4,
    Payload = 5,
    PayloadParam = 6,
    TdInfo = 7,
    TdParams = 8,
}

/// <summary>TDVF section attribute bits.</summary>
[Flags]
public enum TdvfSectionAttributes : uint
{
    None = 0,

    /// <summary>The VMM must TDH.MR.EXTEND the section's pages into MRTD.</summary>
    MrExtend = 1u << 0,

    /// <summary>The VMM should TDH.MEM.PAGE.AUG the section (post-build, unmeasured).</summary>
    PageAug = 1u << 1,

    Reserved = ~(MrExtend | PageAug),
}

/// <summary>One 32-byte TDVF section entry, as stored.</summary>
/// <param name="Index">Position in the metadata, which is also the measurement order.</param>
/// <param name="EntryOffset">File offset of this 32-byte entry.</param>
public sealed record TdvfSection(
    int Index,
    long EntryOffset,
    uint DataOffset,
    uint RawDataSize,
    Gpa MemoryAddress,
    ulong MemoryDataSize,
    TdvfSectionType Type,
    TdvfSectionAttributes Attributes)
{
    public bool IsKnownType => Type <= TdvfSectionType.TdParams;

    /// <summary>Whether upstream QEMU accepts the type (BFV, CFV, TD_HOB, TempMem).</summary>
    public bool IsQemuType => Type <= TdvfSectionType.TempMem;

    public ulong PageCount => MemoryDataSize / PageSize.Size4K;

    public string TypeName => TdvfNames.Of(Type);

    /// <summary>"#0 (BFV)": how messages name a section.</summary>
    public string Label => $"TDX section #{Index} ({TypeName})";
}

public static class TdvfNames
{
    public static string Of(TdvfSectionType type) => type switch
    {
        TdvfSectionType.Bfv => "BFV",
        TdvfSectionType.Cfv => "CFV",
        TdvfSectionType.TdHob => "TD_HOB",
        TdvfSectionType.TempMem => "TempMem",
        TdvfSectionType.PermMem => "PermMem",
        TdvfSectionType.Payload => "Payload",
        TdvfSectionType.PayloadParam => "PayloadParam",
        TdvfSectionType.TdInfo => "TdInfo",
        TdvfSectionType.TdParams => "TdParams",
        _ => $"unknown({Hex.Of((ulong)type)})",
    };

    public static string Of(TdvfSectionAttributes attributes)
    {
        var names = new List<string>();
        if (attributes.HasFlag(TdvfSectionAttributes.MrExtend))
        {
            names.Add("MR.EXTEND");
        }

        if (attributes.HasFlag(TdvfSectionAttributes.PageAug))
        {
            names.Add("PAGE.AUG");
        }

        if ((attributes & TdvfSectionAttributes.Reserved) != 0)
        {
            names.Add("reserved " + Hex.Of((ulong)(attributes & TdvfSectionAttributes.Reserved)));
        }

        return names.Count == 0 ? "-" : string.Join('|', names);
    }
}
