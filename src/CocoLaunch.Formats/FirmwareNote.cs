namespace CocoLaunch.Formats;

/// <summary>Something unusual but not fatal found while parsing: an unknown GUID, an unknown section type.</summary>
public sealed record FirmwareNote(long Offset, string Message);
