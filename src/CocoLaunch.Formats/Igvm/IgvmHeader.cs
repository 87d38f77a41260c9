namespace CocoLaunch.Formats.Igvm;

/// <summary>One named value of a header, already formatted ("0x1000", "sev-snp", a hex digest) for reports.</summary>
public sealed record IgvmField(string Name, string Value);

/// <summary>
/// One variable header as stored: its position among the headers, the file offset of its type field and the stored
/// type (with the may-ignore bit).
/// </summary>
public abstract record IgvmHeader(int Index, long Offset, uint RawType)
{
    public IgvmHeaderType Type => (IgvmHeaderType)(RawType & ~IgvmNames.MayIgnoreBit);

    public bool MayIgnore => (RawType & IgvmNames.MayIgnoreBit) != 0;

    public string TypeName => IgvmNames.Of(Type);

    /// <summary>"header #3 (IGVM_VHT_PAGE_DATA)": how messages name the header.</summary>
    public string Label => $"header #{Index} ({TypeName})";

    /// <summary>The platforms the header applies to, one bit per SUPPORTED_PLATFORM; null for headers without a mask.</summary>
    public virtual uint? CompatibilityMask => null;

    /// <summary>The header's fields other than the compatibility mask, in stored order.</summary>
    public abstract IEnumerable<IgvmField> Fields();

    protected static IgvmField F(string name, ulong value) => new(name, Hex.Of(value));

    protected static IgvmField F(string name, string value) => new(name, value);

    protected static IgvmField F(string name, ReadOnlyMemory<byte> bytes) => new(name, Convert.ToHexStringLower(bytes.Span));
}

/// <summary>
/// A header of a type this reader does not know, stored with the may-ignore bit: a loader skips it, so it is kept
/// (and reported) rather than dropped, with its length.
/// </summary>
public sealed record IgvmIgnoredHeader(int Index, long Offset, uint RawType, uint Length) : IgvmHeader(Index, Offset, RawType)
{
    public override IEnumerable<IgvmField> Fields() => [F("ignored", "yes (unknown type with the may-ignore bit)"), F("length", Length)];
}
