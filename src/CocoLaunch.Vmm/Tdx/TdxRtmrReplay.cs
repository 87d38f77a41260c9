using System.Security.Cryptography;
using CocoLaunch.Formats.Tdvf;
using CocoLaunch.Vmm.Launch;

namespace CocoLaunch.Vmm.Tdx;

/// <summary>An RTMR event the launch itself determines: its TCG event type and SHA-384 digest.</summary>
public sealed record RtmrEvent(string Type, byte[] Digest);

/// <summary>
/// The RTMR0 events whose inputs the VMM fixes at launch (tdx-mrtd.md §6.4): TDVF measures the TD HOB
/// (EV_EFI_HANDOFF_TABLES2, the HOB list without its end HOB) and then the CFV (EV_EFI_PLATFORM_FIRMWARE_BLOB2,
/// the variable store as loaded) — if the firmware has CC measurement at all.
/// </summary>
public static class TdxRtmrReplay
{
    private const int EndHobLength = 8;

    /// <summary>
    /// The ROM header of samples/linux-tdx: a firmware that binds Linux through MRTD and measures only the TD HOB,
    /// as TDVF's first event, into RTMR0.
    /// </summary>
    private static ReadOnlySpan<byte> LinuxTdFirmwareHeader => "CocoLaunch Linux TD firmware\0"u8;

    public static IReadOnlyList<RtmrEvent> LaunchEvents(LaunchContext c)
    {
        var events = new List<RtmrEvent>();
        if (c.TdHob is { } hob)
        {
            events.Add(new RtmrEvent("EV_EFI_HANDOFF_TABLES2", SHA384.HashData(hob.AsSpan(0, hob.Length - EndHobLength))));
        }

        var cfv = c.Ovmf?.Tdx.Value?.Sections.FirstOrDefault(s => s.Type == TdvfSectionType.Cfv);
        if (cfv is not null && cfv.DataOffset + cfv.RawDataSize <= (ulong)c.Firmware.Size)
        {
            events.Add(new RtmrEvent("EV_EFI_PLATFORM_FIRMWARE_BLOB2", SHA384.HashData(c.Firmware.Bytes.Span.Slice((int)cfv.DataOffset, (int)cfv.RawDataSize))));
        }

        return events;
    }

    /// <summary>
    /// RTMR0-3 as the running TD will report them, when the launch decides them all: under our Linux TD firmware,
    /// which binds the kernel through MRTD and extends RTMR0 with the TD HOB alone, and Linux 6.12, which extends no
    /// RTMR (linux-guest.md §5). Null for other firmware, whose runtime events (variables, ACPI, the boot loader) the
    /// launch does not fix.
    /// </summary>
    public static IReadOnlyList<byte[]>? Final(LaunchContext c) =>
        IsLinuxTdFirmware(c)
            ? [Replay(LaunchEvents(c)), new byte[48], new byte[48], new byte[48]]
            : c.TdvfBootEvents is { } boot
                ? [.. Enumerable.Range(0, 4).Select(rtmr => Replay(boot.Where(e => e.Event.MrIndex == MrIndexRtmr0 + rtmr).Select(e => new RtmrEvent(TcgEventTypeName(e.Event.Type), e.Event.Sha384))))]
                : null;

    private static string TcgEventTypeName(uint type) => Formats.Tcg.TcgEventType.Name(type);

    /// <summary>
    /// The event log the firmware will write, where the launch decides it all (see <see cref="Final"/>): the Spec ID
    /// event, then the TD HOB event with TDVF's "TdxTable" handoff pointers naming the HOB list. Null otherwise.
    /// </summary>
    public static IReadOnlyList<Formats.Tcg.LoggedEvent>? LoggedEvents(LaunchContext c)
    {
        if (c.TdvfBootEvents is { } boot)
        {
            return [.. boot.Select(e => e.Event)];
        }

        var hobSection = c.Ovmf?.Tdx.Value?.Sections.FirstOrDefault(s => s.Type == TdvfSectionType.TdHob);
        if (!IsLinuxTdFirmware(c) || hobSection is null || LaunchEvents(c) is not [{ } hob])
        {
            return null;
        }

        return [new Formats.Tcg.LoggedEvent(MrIndexRtmr0, Formats.Tcg.TcgEventType.EfiHandoffTables2, hob.Digest, HandoffTables(hobSection.MemoryAddress.Value))];
    }

    private static bool IsLinuxTdFirmware(LaunchContext c) => c.Firmware.Bytes.Span.StartsWith(LinuxTdFirmwareHeader);

    /// <summary>CC MR index 1 is RTMR0 (tdx-mrtd.md §6.1).</summary>
    public const uint MrIndexRtmr0 = 1;

    /// <summary>TD_HANDOFF_TABLE_POINTERS2: description size, "TdxTable\0", one table, EFI_HOB_LIST_GUID, the HOB's GPA.</summary>
    internal static byte[] HandoffTables(ulong hobGpa)
    {
        var data = new byte[1 + 9 + 8 + 16 + 8];
        data[0] = 9;
        "TdxTable\0"u8.CopyTo(data.AsSpan(1));
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(data.AsSpan(10), 1);
        TdHobGuid.TryWriteBytes(data.AsSpan(18));
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(data.AsSpan(34), hobGpa);
        return data;
    }

    /// <summary>The GUID TDVF names the TD HOB with in this event (tdx-mrtd.md §6.4).</summary>
    private static readonly Guid TdHobGuid = new("93bb96af-b9f2-4eb8-9462-e0ba74564236");

    /// <summary>RTMR after extending a zero register with each event's digest in order.</summary>
    public static byte[] Replay(IEnumerable<RtmrEvent> events)
    {
        var rtmr = new byte[48];
        foreach (var e in events)
        {
            rtmr = SHA384.HashData([.. rtmr, .. e.Digest]);
        }

        return rtmr;
    }
}
