namespace CocoLaunch.Formats.Linux;

/// <summary>A kernel image that the x86 boot protocol cannot load, located by a file offset and a field name.</summary>
public sealed class KernelFormatException(long offset, string field, string problem) : Exception($"{field}: {problem}")
{
    public long Offset { get; } = offset;

    public string Field { get; } = field;

    public string Problem { get; } = problem;

    public string Describe(string imageName) => $"{imageName}: offset 0x{Offset:x}: {Field}: {Problem}";
}
