namespace CocoLaunch.Formats;

/// <summary>Corrupt or inconsistent firmware content, located by a file offset.</summary>
/// <remarks>
/// The offset is into the image as loaded (VARS followed by CODE when the two are given
/// separately), because that is the coordinate system the metadata itself uses.
/// </remarks>
public sealed class FirmwareFormatException(long offset, string problem) : Exception(problem)
{
    public long Offset { get; } = offset;

    public string Problem { get; } = problem;

    public string Describe(string imageName) => $"{imageName}: offset 0x{Offset:x}: {Problem}";
}

/// <summary>A firmware file that cannot be used at all: missing, a directory, empty, too large.</summary>
public sealed class FirmwareFileException(string path, string problem) : Exception($"{path}: {problem}")
{
    public string Path { get; } = path;

    public string Problem { get; } = problem;
}
