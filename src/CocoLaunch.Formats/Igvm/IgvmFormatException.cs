namespace CocoLaunch.Formats.Igvm;

/// <summary>
/// A malformed IGVM file, located by the header that is wrong (its index and type name, or "fixed header") and the
/// file offset of the field that breaks the rule.
/// </summary>
public sealed class IgvmFormatException(string header, long offset, string problem)
    : Exception($"{header} at offset 0x{offset:x}: {problem}")
{
    /// <summary>"fixed header", "variable header section" or "header #3 (IGVM_VHT_PAGE_DATA)".</summary>
    public string Header { get; } = header;

    public long Offset { get; } = offset;

    public string Problem { get; } = problem;
}
