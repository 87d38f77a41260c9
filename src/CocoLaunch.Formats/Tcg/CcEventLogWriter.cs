using System.Buffers.Binary;

namespace CocoLaunch.Formats.Tcg;

/// <summary>An event as firmware logs it: its CC MR index, type, SHA-384 digest and event data.</summary>
public sealed record LoggedEvent(uint MrIndex, uint Type, byte[] Sha384, byte[] Data);

/// <summary>
/// Writes a CC event log as TDX firmware does (tdx-mrtd.md §6.3): the SHA-1-format Spec ID event declaring SHA-384
/// alone, then one TCG_PCR_EVENT2 per event. The inverse of <see cref="CcEventLog.Parse"/>.
/// </summary>
public static class CcEventLogWriter
{
    public static byte[] Write(IEnumerable<LoggedEvent> events)
    {
        var log = new List<byte>();
        // TCG_EfiSpecIDEvent: signature, platformClass 0, version 2.0 errata 0, uintnSize 2, one algorithm, no vendor info.
        byte[] spec = [.. "Spec ID Event03\0"u8, 0, 0, 0, 0, 0, 2, 0, 2, .. U32(1), .. U16(TcgAlgorithm.Sha384), .. U16(48), 0];
        log.AddRange(U32(0));
        log.AddRange(U32(TcgEventType.NoAction));
        log.AddRange(new byte[20]);
        log.AddRange(U32((uint)spec.Length));
        log.AddRange(spec);
        foreach (var e in events)
        {
            log.AddRange(U32(e.MrIndex));
            log.AddRange(U32(e.Type));
            log.AddRange(U32(1));
            log.AddRange(U16(TcgAlgorithm.Sha384));
            log.AddRange(e.Sha384);
            log.AddRange(U32((uint)e.Data.Length));
            log.AddRange(e.Data);
        }

        return [.. log];
    }

    private static byte[] U32(uint v)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, v);
        return b;
    }

    private static byte[] U16(ushort v)
    {
        var b = new byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(b, v);
        return b;
    }
}
