using System.Buffers.Binary;

namespace CocoLaunch.Firmware.Snp;

/// <summary>One CPUID function as the platform reports it: the bits a guest may be told are present.</summary>
/// <param name="EaxIn">The leaf (CPUID EAX input).</param>
/// <param name="EcxIn">The sub-leaf (CPUID ECX input).</param>
public readonly record struct CpuidFunction(uint EaxIn, uint EcxIn, uint Eax, uint Ebx, uint Ecx, uint Edx);

/// <summary>
/// The platform side of the PSP's CPUID page check: for each listed function, the register bits the hardware
/// supports. A hypervisor may hide a feature but never claim one the part lacks, so an entry fails when it sets
/// a bit outside the platform's value, and the firmware's correction clears those bits. Functions not listed
/// are not restricted. The values are per CPU part, so the model takes them as input instead of guessing them.
/// </summary>
public sealed class SnpCpuidPolicy
{
    private readonly Dictionary<(uint, uint), CpuidFunction> functions;

    public SnpCpuidPolicy(IEnumerable<CpuidFunction> platform) =>
        functions = platform.ToDictionary(f => (f.EaxIn, f.EcxIn));

    /// <summary>No function restricted: every well-formed CPUID page passes.</summary>
    public static SnpCpuidPolicy Unrestricted { get; } = new([]);

    public bool TryGet(uint eaxIn, uint ecxIn, out CpuidFunction platform) => functions.TryGetValue((eaxIn, ecxIn), out platform);
}

/// <summary>
/// The SNP CPUID page (guest-abi.md §6.4): count u32 @0 (at most 64), reserved to @16, then 48-byte entries
/// {eax_in, ecx_in, xcr0_in u64, xss_in u64, eax, ebx, ecx, edx, reserved u64}.
/// </summary>
public static class CpuidPage
{
    public const int MaxEntries = 64;
    public const int EntriesOffset = 16;
    public const int EntrySize = 48;

    private const int CountOffset = 0;
    private const int EaxInOffset = 0;
    private const int EcxInOffset = 4;
    private const int EaxOffset = 24;
    private const int EbxOffset = 28;
    private const int EcxOffset = 32;
    private const int EdxOffset = 36;

    /// <summary>Number of entries the page declares.</summary>
    public static uint Count(ReadOnlySpan<byte> page) => BinaryPrimitives.ReadUInt32LittleEndian(page[CountOffset..]);

    public static CpuidFunction Entry(ReadOnlySpan<byte> page, int index)
    {
        var e = page.Slice(EntriesOffset + (index * EntrySize), EntrySize);
        return new CpuidFunction(
            BinaryPrimitives.ReadUInt32LittleEndian(e[EaxInOffset..]),
            BinaryPrimitives.ReadUInt32LittleEndian(e[EcxInOffset..]),
            BinaryPrimitives.ReadUInt32LittleEndian(e[EaxOffset..]),
            BinaryPrimitives.ReadUInt32LittleEndian(e[EbxOffset..]),
            BinaryPrimitives.ReadUInt32LittleEndian(e[EcxOffset..]),
            BinaryPrimitives.ReadUInt32LittleEndian(e[EdxOffset..]));
    }

    /// <summary>Writes one entry's inputs and outputs (XCR0/XSS inputs and the reserved field left as they are).</summary>
    public static void SetEntry(Span<byte> page, int index, CpuidFunction f)
    {
        var e = page.Slice(EntriesOffset + (index * EntrySize), EntrySize);
        BinaryPrimitives.WriteUInt32LittleEndian(e[EaxInOffset..], f.EaxIn);
        BinaryPrimitives.WriteUInt32LittleEndian(e[EcxInOffset..], f.EcxIn);
        BinaryPrimitives.WriteUInt32LittleEndian(e[EaxOffset..], f.Eax);
        BinaryPrimitives.WriteUInt32LittleEndian(e[EbxOffset..], f.Ebx);
        BinaryPrimitives.WriteUInt32LittleEndian(e[EcxOffset..], f.Ecx);
        BinaryPrimitives.WriteUInt32LittleEndian(e[EdxOffset..], f.Edx);
    }

    /// <summary>
    /// The firmware's check: false when the count is over 64 (page left alone) or an entry claims bits the
    /// platform lacks; those entries are corrected in <paramref name="page"/> so the VMM can see what failed.
    /// </summary>
    /// <returns>The indexes of corrected entries, or null when the page is malformed.</returns>
    public static IReadOnlyList<int>? Validate(Span<byte> page, SnpCpuidPolicy policy)
    {
        uint count = Count(page);
        if (count > MaxEntries)
        {
            return null;
        }

        var corrected = new List<int>();
        for (int i = 0; i < (int)count; i++)
        {
            var e = Entry(page, i);
            if (!policy.TryGet(e.EaxIn, e.EcxIn, out var p))
            {
                continue;
            }

            var allowed = e with { Eax = e.Eax & p.Eax, Ebx = e.Ebx & p.Ebx, Ecx = e.Ecx & p.Ecx, Edx = e.Edx & p.Edx };
            if (allowed != e)
            {
                SetEntry(page, i, allowed);
                corrected.Add(i);
            }
        }

        return corrected;
    }
}
