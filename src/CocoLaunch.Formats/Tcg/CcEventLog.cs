using System.Buffers.Binary;
using System.Security.Cryptography;

namespace CocoLaunch.Formats.Tcg;

/// <summary>
/// A CC event log (the CCEL table's log area, tdx-mrtd.md §6.3): a TCG crypto-agile log whose first record is a
/// SHA-1-format TCG_PCR_EVENT carrying the Spec ID event, then TCG_PCR_EVENT2 records with CC MR indices in place of
/// PCRs. The log ends at the area's end or where the unused tail starts (all 0xFF, or zeros).
/// </summary>
public sealed class CcEventLog
{
    // TCG_PCR_EVENT (TCG PC Client Platform Firmware Profile §10.2.1): the first record.
    private const int FirstMrIndex = 0, FirstType = 4, FirstDigest = 8, FirstEventSize = 28, FirstEvent = 32;

    // TCG_EfiSpecIDEvent (§10.4.5.1), from the first record's event data.
    private const int SpecSignature = 0, SpecNumberOfAlgorithms = 24, SpecAlgorithms = 28, SpecAlgorithmSize = 4;
    private static ReadOnlySpan<byte> SpecIdSignature => "Spec ID Event03\0"u8;

    /// <summary>More digests per record than any algorithm registry has: a count above it is corruption.</summary>
    private const uint MaxDigests = 16;

    private CcEventLog(IReadOnlyList<EventDigestSize> algorithms, IReadOnlyList<CcEvent> events, long length)
    {
        Algorithms = algorithms;
        Events = events;
        Length = length;
    }

    /// <summary>The algorithms the Spec ID event declares, with their digest sizes.</summary>
    public IReadOnlyList<EventDigestSize> Algorithms { get; }

    /// <summary>The records after the Spec ID event, in log order.</summary>
    public IReadOnlyList<CcEvent> Events { get; }

    /// <summary>Bytes the records take; the rest of the area is its unused tail.</summary>
    public long Length { get; }

    /// <exception cref="EventLogFormatException">A record is truncated or inconsistent.</exception>
    public static CcEventLog Parse(ReadOnlySpan<byte> log, string source)
    {
        if (log.Length < FirstEvent)
        {
            throw new EventLogFormatException(source, 0, $"{log.Length} bytes do not hold the first record (TCG_PCR_EVENT, {FirstEvent} bytes and its event)");
        }

        uint firstType = U32(log, FirstType);
        if (firstType != TcgEventType.NoAction)
        {
            throw new EventLogFormatException(source, FirstType, $"the first record is {TcgEventType.Name(firstType)}, not the Spec ID event (EV_NO_ACTION)");
        }

        uint specSize = U32(log, FirstEventSize);
        if (specSize > log.Length - FirstEvent || specSize < SpecAlgorithms)
        {
            throw new EventLogFormatException(source, FirstEventSize, $"the Spec ID event's size {specSize} does not fit the {log.Length}-byte log");
        }

        var spec = log.Slice(FirstEvent, (int)specSize);
        if (!spec[..SpecIdSignature.Length].SequenceEqual(SpecIdSignature))
        {
            throw new EventLogFormatException(source, FirstEvent + SpecSignature, "the first record is not a crypto-agile Spec ID event (\"Spec ID Event03\")");
        }

        var algorithms = SpecAlgorithmsOf(spec, source);
        var events = new List<CcEvent>();
        int at = FirstEvent + (int)specSize;
        while (at + 8 <= log.Length)
        {
            ulong head = BinaryPrimitives.ReadUInt64LittleEndian(log[at..]);
            if (head is ulong.MaxValue or 0)
            {
                break; // the unused tail
            }

            var (e, next) = Record(log, at, algorithms, source);
            events.Add(e);
            at = next;
        }

        return new CcEventLog(algorithms, events, at);
    }

    /// <summary>
    /// The registers the log replays to, for MR indices 1..<paramref name="registers"/> (RTMR0-3 on TDX): each
    /// starts at zero and is extended, MR ← H(MR ‖ digest), with every record's <paramref name="algorithm"/> digest
    /// except EV_NO_ACTION's, which the TCG spec says are not extended.
    /// </summary>
    public byte[][] Replay(ushort algorithm = TcgAlgorithm.Sha384, int registers = 4)
    {
        int size = Algorithms.FirstOrDefault(a => a.Algorithm == algorithm)?.Size ?? 48;
        var mrs = Enumerable.Range(0, registers).Select(_ => new byte[size]).ToArray();
        foreach (var e in Events)
        {
            if (e.Type != TcgEventType.NoAction && e.MrIndex >= 1 && e.MrIndex <= registers && e.Digest(algorithm) is { } digest)
            {
                mrs[e.MrIndex - 1] = Extend(algorithm, mrs[e.MrIndex - 1], digest);
            }
        }

        return mrs;
    }

    private static byte[] Extend(ushort algorithm, byte[] mr, byte[] digest) => algorithm switch
    {
        TcgAlgorithm.Sha256 => SHA256.HashData([.. mr, .. digest]),
        TcgAlgorithm.Sha384 => SHA384.HashData([.. mr, .. digest]),
        TcgAlgorithm.Sha512 => SHA512.HashData([.. mr, .. digest]),
        TcgAlgorithm.Sha1 => SHA1.HashData([.. mr, .. digest]),
        _ => throw new NotSupportedException($"replay with {TcgAlgorithm.Name(algorithm)}"),
    };

    private static List<EventDigestSize> SpecAlgorithmsOf(ReadOnlySpan<byte> spec, string source)
    {
        uint count = U32(spec, SpecNumberOfAlgorithms);
        if (count == 0 || count > MaxDigests || SpecAlgorithms + (count * SpecAlgorithmSize) > spec.Length)
        {
            throw new EventLogFormatException(source, FirstEvent + SpecNumberOfAlgorithms, $"the Spec ID event declares {count} algorithms, which its {spec.Length} bytes do not hold");
        }

        var algorithms = new List<EventDigestSize>();
        for (int i = 0; i < count; i++)
        {
            var entry = spec[(SpecAlgorithms + (i * SpecAlgorithmSize))..];
            ushort size = BinaryPrimitives.ReadUInt16LittleEndian(entry[2..]);
            if (size is 0 or > 64)
            {
                throw new EventLogFormatException(source, FirstEvent + SpecAlgorithms + (i * SpecAlgorithmSize) + 2, $"digest size {size} for {TcgAlgorithm.Name(BinaryPrimitives.ReadUInt16LittleEndian(entry))}");
            }

            algorithms.Add(new EventDigestSize(BinaryPrimitives.ReadUInt16LittleEndian(entry), size));
        }

        return algorithms;
    }

    // TCG_PCR_EVENT2 (§10.2.2): MR index, type, TPML_DIGEST_VALUES (count, {alg, digest}...), event size, event.
    private static (CcEvent Event, int Next) Record(ReadOnlySpan<byte> log, int start, List<EventDigestSize> algorithms, string source)
    {
        int at = start;
        Need(log, at, 12, start, "the record header (MR index, type, digest count)", source);
        uint mr = U32(log, at), type = U32(log, at + 4), count = U32(log, at + 8);
        if (count == 0 || count > MaxDigests)
        {
            throw new EventLogFormatException(source, at + 8, $"record of {TcgEventType.Name(type)}: {count} digests");
        }

        at += 12;
        var digests = new List<EventDigest>();
        for (int i = 0; i < count; i++)
        {
            Need(log, at, 2, start, "a digest's algorithm", source);
            ushort alg = BinaryPrimitives.ReadUInt16LittleEndian(log[at..]);
            var size = algorithms.FirstOrDefault(a => a.Algorithm == alg)
                ?? throw new EventLogFormatException(source, at, $"digest algorithm {TcgAlgorithm.Name(alg)} is not one the Spec ID event declares");
            Need(log, at + 2, size.Size, start, $"a {TcgAlgorithm.Name(alg)} digest", source);
            digests.Add(new EventDigest(alg, log.Slice(at + 2, size.Size).ToArray()));
            at += 2 + size.Size;
        }

        Need(log, at, 4, start, "the event size", source);
        uint eventSize = U32(log, at);
        at += 4;
        if (eventSize > log.Length - at)
        {
            throw new EventLogFormatException(source, at - 4, $"record of {TcgEventType.Name(type)} at 0x{start:x}: event size {eventSize} runs past the log's end (0x{log.Length:x})");
        }

        return (new CcEvent(start, mr, type, digests, log.Slice(at, (int)eventSize).ToArray()), at + (int)eventSize);
    }

    private static void Need(ReadOnlySpan<byte> log, int at, int bytes, int record, string what, string source)
    {
        if (at + bytes > log.Length)
        {
            throw new EventLogFormatException(source, at, $"the record at 0x{record:x} is truncated: {what} runs past the log's end (0x{log.Length:x})");
        }
    }

    private static uint U32(ReadOnlySpan<byte> b, int at) => BinaryPrimitives.ReadUInt32LittleEndian(b[at..]);
}

/// <summary>An algorithm the Spec ID event declares, with the size of its digests.</summary>
public sealed record EventDigestSize(ushort Algorithm, ushort Size);
