namespace CocoLaunch.Formats.Tcg;

/// <summary>One digest of an event: its TPM_ALG_ID and bytes.</summary>
public sealed record EventDigest(ushort Algorithm, byte[] Bytes);

/// <summary>
/// One TCG_PCR_EVENT2 record of a CC event log: the CC measurement register index (1 = RTMR0 on TDX; 0 = MRTD, never
/// extended at run time), the event type, its digests, and the event data the digests may or may not cover.
/// </summary>
/// <param name="Offset">Where the record starts in the log.</param>
public sealed record CcEvent(long Offset, uint MrIndex, uint Type, IReadOnlyList<EventDigest> Digests, byte[] Data)
{
    public string TypeName => TcgEventType.Name(Type);

    /// <summary>The digest of <paramref name="algorithm"/>, or null when the record has none.</summary>
    public byte[]? Digest(ushort algorithm) => Digests.FirstOrDefault(d => d.Algorithm == algorithm)?.Bytes;
}
