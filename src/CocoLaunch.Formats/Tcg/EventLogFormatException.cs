namespace CocoLaunch.Formats.Tcg;

/// <summary>A corrupt or truncated event log, located by the byte offset of the record that is wrong.</summary>
public sealed class EventLogFormatException(string source, long offset, string problem)
    : Exception($"{source}: offset 0x{offset:x}: {problem}")
{
    public long Offset { get; } = offset;
}
